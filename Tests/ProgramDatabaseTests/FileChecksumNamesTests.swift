import BinaryReading
import ProgramDatabase
import TestSupport
import Testing

/// The light reading of a module's file list gives what the full one does.
@Suite("file checksum names", .ownThread)
struct FileChecksumNamesTests {
    @Test("positions and name offsets agree with fileChecksums()", arguments: PDBFixtures.msf)
    func agreeWithFullEntries(path: String) throws {
        let pdb = try PDBFile(path: path)
        for module in pdb.modules {
            guard let stream = try? pdb.moduleStream(module) else { continue }
            let full = try stream.fileChecksums()
            let light = try stream.fileChecksumNames()
            #expect(light.map(\.position) == full.map(\.position), "module \(module.index) of \(path)")
            #expect(light.map(\.nameOffset) == full.map(\.nameOffset), "module \(module.index) of \(path)")
        }
    }

    @Test("a truncated entry throws in both readings")
    func truncated() {
        // Name offset 0x10, a 16-byte MD5 of which only 4 bytes are present.
        let file = MappedFile(bytes: [0x10, 0, 0, 0, 16, 1, 0xAA, 0xBB, 0xCC, 0xDD])
        #expect(throws: ParseError.self) { try FileChecksum.list(parsing: file.bytes) }
        #expect(throws: ParseError.self) { try FileChecksum.names(parsing: file.bytes) }
        let whole = MappedFile(bytes: [0x10, 0, 0, 0, 4, 1, 1, 2, 3, 4, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0])
        let names = (try? FileChecksum.names(parsing: whole.bytes)) ?? []
        #expect(names.map(\.position) == [0, 12])
        #expect(names.map(\.nameOffset) == [0x10, 0x20])
    }
}
