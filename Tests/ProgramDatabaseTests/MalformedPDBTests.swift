import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Damaged files give ParseErrors with offsets, never a trap, a hang or a huge allocation.
@Suite("malformed PDBs", .ownThread)
struct MalformedPDBTests {
    static func open(_ bytes: [UInt8]) throws(ParseError) -> PDBFile {
        try PDBFile(bytes: MappedFile(bytes: bytes, name: "malformed.pdb").bytes)
    }

    /// Opens, decodes every stream and looks a few addresses up; errors are fine, traps are not.
    static func exercise(_ bytes: [UInt8]) {
        guard let pdb = try? open(bytes) else { return }
        _ = try? pdb.stringTable()
        _ = try? pdb.typeStream()
        _ = try? pdb.idStream()
        _ = try? pdb.sectionHeaders()
        _ = try? pdb.fpoRecords()
        _ = try? pdb.frameData()
        _ = try? pdb.omapToSource()
        _ = try? pdb.publicSymbols()
        _ = try? pdb.globalSymbols()
        for module in pdb.modules.prefix(8) {
            if let stream = try? pdb.moduleStream(module) {
                _ = try? stream.lineFragments()
                _ = try? stream.inlineeLines()
            }
        }
        if let index = try? PDBAddressIndex(pdb) {
            for function in index.functions.prefix(16) { _ = index.lookup(rva: function.start) }
            _ = index.lookup(rva: 0x1000)
        }
    }

    @Test("an MSF 2.00 file is rejected as an unsupported version")
    func msf200() {
        var bytes = Array("Microsoft C/C++ program database 2.00\r\n\u{1A}JG\0\0".utf8)
        bytes += [UInt8](repeating: 0, count: 1024)
        #expect {
            try Self.open(bytes)
        } throws: { error in
            guard let error = error as? ParseError, case .unsupportedVersion(let text) = error.kind else { return false }
            return error.offset == 0 && text.contains("MSF 2.00")
        }
    }

    @Test("not a PDB at all: bad signature at offset 0")
    func notPDB() {
        #expect(throws: ParseError.self) { try Self.open(Array("MDMP".utf8) + [UInt8](repeating: 0, count: 100)) }
        #expect(throws: ParseError.self) { try Self.open([]) }
    }

    @Test("a block size that MSF does not allow")
    func blockSize() {
        var bytes = MSFBuilder.pdb()
        bytes[32] = 0x00
        bytes[33] = 0x03  // 768
        #expect {
            try Self.open(bytes)
        } throws: { error in
            (error as? ParseError)?.field == "MSF SuperBlock.BlockSize"
        }
    }

    @Test("a block map entry past the end of the file names its offset")
    func blockMap() throws {
        var bytes = MSFBuilder.pdb()
        let mapBlock = Int(UInt32(bytes[52]) | UInt32(bytes[53]) << 8)
        let entry = mapBlock * 512
        bytes[entry] = 0xFF
        bytes[entry + 1] = 0xFF
        #expect {
            try Self.open(bytes)
        } throws: { error in
            guard let error = error as? ParseError else { return false }
            return error.offset == Int64(entry) && error.field == "MSF block map entry"
        }
    }

    @Test("a stream larger than the file is refused before anything is allocated")
    func hugeStream() throws {
        var bytes = MSFBuilder.pdb()
        // Directory: NumStreams then sizes; make stream 3 (DBI) claim 0x7FFFFFFF bytes.
        let mapBlock = Int(UInt32(bytes[52]) | UInt32(bytes[53]) << 8)
        let directoryBlock = Int(UInt32(bytes[mapBlock * 512]) | UInt32(bytes[mapBlock * 512 + 1]) << 8)
        let sizeAt = directoryBlock * 512 + 4 + 3 * 4
        bytes.replaceSubrange(sizeAt..<sizeAt + 4, with: [0xFF, 0xFF, 0xFF, 0x7F])
        #expect {
            try Self.open(bytes)
        } throws: { error in
            guard let error = error as? ParseError, case .countTooLarge = error.kind else { return false }
            return error.field.contains("StreamSizes[3]")
        }
    }

    @Test("a directory larger than one block map can describe")
    func hugeDirectory() {
        var bytes = MSFBuilder.pdb()
        bytes.replaceSubrange(44..<48, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ParseError.self) { try Self.open(bytes) }
    }

    @Test("an error inside a scattered stream reports the file offset of the bad bytes")
    func scatteredErrorOffset() throws {
        let name = String(repeating: "x", count: 600)
        var bytes = MSFBuilder.pdb(modules: [(name, [], [])], scatter: true)
        // Find the DBI's first block through the directory, then break VersionSignature there.
        let mapBlock = Int(UInt32(bytes[52]) | UInt32(bytes[53]) << 8)
        let directoryBlock = Int(UInt32(bytes[mapBlock * 512]) | UInt32(bytes[mapBlock * 512 + 1]) << 8)
        var reader = directoryBlock * 512
        func read32() -> Int {
            defer { reader += 4 }
            return Int(UInt32(bytes[reader]) | UInt32(bytes[reader + 1]) << 8 | UInt32(bytes[reader + 2]) << 16)
        }
        let count = read32()
        let sizes = (0..<count).map { _ in read32() }
        var firstBlocks = [Int]()
        for size in sizes {
            let blocks = (size + 511) / 512
            let list = (0..<blocks).map { _ in read32() }
            firstBlocks.append(list.first ?? -1)
        }
        let dbiStart = firstBlocks[3] * 512
        bytes.replaceSubrange(dbiStart..<dbiStart + 4, with: [0, 0, 0, 0])
        #expect {
            try Self.open(bytes)
        } throws: { error in
            guard let error = error as? ParseError else { return false }
            return error.offset == Int64(dbiStart) && error.field.contains("VersionSignature")
        }
    }

    @Test("deeply nested scopes stop at the depth limit with a warning, not a crash")
    func deepScopes() throws {
        var symbols = SymbolBytes.procedure("deep", offset: 0, length: 0x100)
        for _ in 0..<(PDBAddressIndex.maxScopeDepth + 10) { symbols += SymbolBytes.block(offset: 0, length: 1) }
        let pdb = try Self.open(MSFBuilder.pdb(modules: [("deep.obj", symbols, [])]))
        let index = try PDBAddressIndex(pdb)
        #expect(index.warnings.count == 1)
        #expect(index.warnings.first?.contains("symbol scope") == true)
    }

    static let realPDBs = [
        "generated/pe/x64/fixture.pdb", "symbolic/symbolic-testutils/fixtures/windows/CrashWithException.pdb",
        "breakpad/src/tools/windows/dump_syms/testdata/omap_reorder_funcs.pdb",
    ]

    @Test("truncated at many lengths", arguments: realPDBs)
    func truncated(path: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared(path))))
        var lengths = Set([0, 1, 31, 32, 55, 56, 57, 511, 4095, 4096, 4097])
        for step in 1..<48 { lengths.insert(bytes.count * step / 48) }
        lengths.insert(bytes.count - 1)
        for length in lengths.sorted() where length <= bytes.count {
            Self.exercise(Array(bytes.prefix(length)))
        }
        #expect(throws: ParseError.self) { try Self.open(Array(bytes.prefix(bytes.count / 2))) }
    }

    @Test("random byte changes (fixed seed) in real PDBs", arguments: realPDBs)
    func corrupted(path: String) throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared(path))))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for _ in 0..<40 {
            var bytes = original
            for _ in 0..<16 {
                let position = Int(next() % UInt64(bytes.count))
                bytes[position] = UInt8(truncatingIfNeeded: next())
            }
            Self.exercise(bytes)
        }
        // Also damage the superblock and the directory specifically.
        for field in [36, 40, 44, 52] {
            var bytes = original
            bytes[field + 1] ^= 0x5A
            Self.exercise(bytes)
        }
    }
}
