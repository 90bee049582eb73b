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
            for frame in frames(
                start: record.rvaStart, codeSize: record.codeSize, prologSize: UInt32(record.prologSize), mapping)
            {
                list.append(
                    StackWinRecord(
                        type: StackWinRecord.frameData, rva: UInt64(frame.address), codeSize: UInt64(frame.length),
                        prologSize: UInt64(frame.prolog), epilogSize: 0, parameterSize: UInt64(record.paramsSize),
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
            let prolog = UInt32(record.prologSize)
            for frame in frames(start: record.offsetStart, codeSize: record.procedureSize, prologSize: prolog, mapping) {
                list.append(
                    StackWinRecord(
                        type: StackWinRecord.fpo, rva: UInt64(frame.address), codeSize: UInt64(frame.length),
                        prologSize: UInt64(frame.prolog), epilogSize: 0, parameterSize: UInt64(record.paramsDwords) * 4,
                        savedRegisterSize: UInt64(record.savedRegisters) * 4, localSize: UInt64(record.localsDwords) * 4,
                        maxStackSize: 0, programString: nil, allocatesBasePointer: record.usesBasePointer))
            }
        }
        return list
    }

    /// Where a frame's code lands in the image, with the prolog size each piece gets.
    ///
    /// Through OMAP the prolog and the body are mapped apart, as Breakpad's dump_syms maps them:
    /// the rewriter may have moved or stretched either. One record when both stay one piece and
    /// touch; else a record per prolog piece (all prolog) and per body piece (no prolog).
    static func frames(
        start: UInt32, codeSize: UInt32, prologSize: UInt32, _ mapping: AddressMapping
    ) -> [(address: UInt32, length: UInt32, prolog: UInt32)] {
        guard !mapping.isIdentity else { return codeSize > 0 ? [(start, codeSize, prologSize)] : [] }
        // A prolog longer than the code is damaged; the code is then all prolog.
        let prolog = min(prologSize, codeSize)
        let prologPieces = prolog > 0 ? mapping.pieces(start: start, length: prolog) : []
        let bodyPieces = mapping.pieces(start: start &+ prolog, length: codeSize - prolog)
        if prologPieces.count == 1, bodyPieces.count == 1,
            UInt64(prologPieces[0].address) + UInt64(prologPieces[0].length) == UInt64(bodyPieces[0].address)
        {
            return [(prologPieces[0].address, prologPieces[0].length &+ bodyPieces[0].length, prologPieces[0].length)]
        }
        return prologPieces.map { ($0.address, $0.length, $0.length) } + bodyPieces.map { ($0.address, $0.length, 0) }
    }
}
