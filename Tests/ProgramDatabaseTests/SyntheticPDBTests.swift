import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

@Suite("PDBFile on synthetic files", .ownThread)
struct SyntheticPDBTests {
    static func open(_ bytes: [UInt8]) throws(ParseError) -> PDBFile {
        try PDBFile(bytes: MappedFile(bytes: bytes, name: "synthetic.pdb").bytes)
    }

    @Test("identity: GUID, both ages, the debug identifier uses the DBI age", arguments: [false, true])
    func identity(scatter: Bool) throws {
        let pdb = try Self.open(MSFBuilder.pdb(infoAge: 4, dbiAge: 1, scatter: scatter))
        #expect(pdb.guid.description == "00112233-4455-6677-8899-AABBCCDDEEFF")
        #expect(pdb.infoAge == 4)
        #expect(pdb.age == 1)
        #expect(pdb.debugIdentifier == "00112233445566778899AABBCCDDEEFF1")
        #expect(pdb.info.features == [.vc140])
        #expect(pdb.dbi.header.machine == 0x8664)
    }

    @Test("a scattered stream reads the same as a contiguous one")
    func scattered() throws {
        let name = String(repeating: "m", count: 700)  // module info larger than one 512-byte block
        let symbols = SymbolBytes.procedure("f", offset: 0x10, length: 0x20) + SymbolBytes.end
        for scatter in [false, true] {
            let pdb = try Self.open(MSFBuilder.pdb(modules: [(name, symbols, [])], scatter: scatter))
            #expect(pdb.modules.map(\.moduleName) == [name])
            let stream = try #require(try pdb.stream(PDBStreamIndex.dbi))
            #expect(stream.isCopy == scatter)
        }
    }

    @Test("section offset and RVA convert both ways through the section headers")
    func sectionOffsets() throws {
        let pdb = try Self.open(
            MSFBuilder.pdb(sections: [(".text", 0x1000, 0x2000), (".rdata", 0x3000, 0x500)]))
        let index = try PDBAddressIndex(pdb)
        #expect(index.rva(section: 1, offset: 0x10) == 0x1010)
        #expect(index.rva(section: 2, offset: 0) == 0x3000)
        #expect(index.rva(section: 3, offset: 0) == nil)
        #expect(index.rva(section: 0, offset: 0) == nil)
        #expect(index.sectionOffset(rva: 0x3004).map { [Int($0.section), Int($0.offset)] } == [2, 4])
        #expect(index.sectionOffset(rva: 0x3500) == nil)
    }

    @Test("procedures are found by any address inside them, not past their end")
    func procedures() throws {
        let symbols =
            SymbolBytes.procedure("first", offset: 0x10, length: 0x20) + SymbolBytes.frameProc(size: 0x28)
            + SymbolBytes.block(offset: 0x14, length: 4)
            + SymbolBytes.end + SymbolBytes.end + SymbolBytes.procedure("second", offset: 0x40, length: 0x8) + SymbolBytes.end
        let pdb = try Self.open(MSFBuilder.pdb(modules: [("a.obj", symbols, [])]))
        let index = try PDBAddressIndex(pdb)
        #expect(index.warnings.isEmpty)
        #expect(index.lookup(rva: 0x1010)?.function == "first")
        #expect(index.lookup(rva: 0x102F)?.functionOffset == 0x1F)
        #expect(index.lookup(rva: 0x1030) == nil)
        #expect(index.lookup(rva: 0x1047)?.function == "second")
        #expect(index.lookup(rva: 0x1048) == nil)
        #expect(index.functions.map { $0.frame?.frameSize } == [0x28, nil])
        #expect(index.functions.first?.frame?.savedRegistersSize == 8)
    }

    @Test("OMAP tables map through the last entry at or below, 0 targets are unmapped")
    func omap() {
        let table = OMAPTable([
            OMAPEntry(source: 0x2000, target: 0x5000), OMAPEntry(source: 0x1000, target: 0x8000),
            OMAPEntry(source: 0x3000, target: 0),
        ])
        #expect(table.map(0x0FFF) == nil)
        #expect(table.map(0x1000) == 0x8000)
        #expect(table.map(0x1234) == 0x8234)
        #expect(table.map(0x2010) == 0x5010)
        #expect(table.map(0x3001) == nil)
    }

    @Test("binary annotations: compressed integers, signed line deltas, both length ops")
    func annotations() throws {
        // ChangeLineOffset(+2), ChangeCodeOffset(0x171: two-byte form 0x81 0x71),
        // ChangeCodeOffsetAndLineOffset(code +4, line -1: (1 << 1 | 1) << 4 | 4 = 0x34),
        // ChangeCodeLength(8), ChangeCodeLengthAndCodeOffset(length 3, offset +0x10), padding.
        let bytes: [UInt8] = [0x06, 0x04, 0x03, 0x81, 0x71, 0x0B, 0x34, 0x04, 0x08, 0x0C, 0x03, 0x10, 0x00]
        let view = MappedFile(bytes: bytes).bytes
        let ranges = try BinaryAnnotations.ranges(view)
        #expect(ranges.map(\.start) == [0x171, 0x175, 0x18D])
        #expect(ranges.map(\.end) == [0x175, 0x17D, 0x190])
        #expect(ranges.map(\.lineOffset) == [2, 1, 1])
    }
}
