import BinaryReading
import BreakpadSymbols
import ProgramDatabase

/// STACK WIN records from a PDB's x86 frame data, as Breakpad's dump_syms writes them.
public enum StackWinConversion {
    /// Every STACK WIN record of `pdb` (FrameData, then FPO), at image RVAs (through OMAP when the
    /// image was reordered): what the x86 unwinder needs from a PDB without writing a .sym file.
    public static func records(pdb: PDBFile) throws(ParseError) -> [StackWinRecord] {
        let mapping = try AddressMapping(pdb: pdb)
        return frameData(try pdb.frameData(), names: try pdb.stringTable(), mapping: mapping)
            + fpo(try pdb.fpoRecords(), mapping: mapping)
    }

    /// `STACK WIN 4` from `FRAMEDATA` records: the program string comes from `/names`.
    static func frameData(
        _ records: [FrameData], names: PDBStringTable?, mapping: AddressMapping
    ) -> [StackWinRecord] {
        var list = [StackWinRecord]()
        list.reserveCapacity(records.count)
        for record in records {
            let program = names?.string(at: record.frameFunc).flatMap { $0.isEmpty ? nil : $0 }
            for piece in mapping.pieces(start: record.rvaStart, length: record.codeSize) {
                list.append(
                    StackWinRecord(
                        type: StackWinRecord.frameData, rva: UInt64(piece.address), codeSize: UInt64(piece.length),
                        prologSize: UInt64(record.prologSize), epilogSize: 0, parameterSize: UInt64(record.paramsSize),
                        savedRegisterSize: UInt64(record.savedRegsSize), localSize: UInt64(record.localSize),
                        maxStackSize: UInt64(record.maxStackSize), programString: program, allocatesBasePointer: false))
            }
        }
        return list
    }

    /// `STACK WIN 0` from `FPO_DATA` records: sizes in dwords become bytes.
    static func fpo(_ records: [FPOData], mapping: AddressMapping) -> [StackWinRecord] {
        var list = [StackWinRecord]()
        list.reserveCapacity(records.count)
        for record in records {
            for piece in mapping.pieces(start: record.offsetStart, length: record.procedureSize) {
                list.append(
                    StackWinRecord(
                        type: StackWinRecord.fpo, rva: UInt64(piece.address), codeSize: UInt64(piece.length),
                        prologSize: UInt64(record.prologSize), epilogSize: 0, parameterSize: UInt64(record.paramsDwords) * 4,
                        savedRegisterSize: UInt64(record.savedRegisters) * 4, localSize: UInt64(record.localsDwords) * 4,
                        maxStackSize: 0, programString: nil, allocatesBasePointer: record.usesBasePointer))
            }
        }
        return list
    }
}
