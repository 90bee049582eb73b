import BinaryReading
import Foundation
import TestSupport
import Testing

@testable import SymbolStore

/// The store in `generated/symstore`, written by the `symstore` package from PyPI.
@Suite(.ownThread) struct FixtureStoreTests {
    static let storeRoot = TestEnvironment.shared("generated/symstore")

    @Test func everyTransactionKeyResolvesToItsSource() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let publisher = StorePublisher(root: Self.storeRoot)
        let store = LocalSymbolStore(root: Self.storeRoot)
        let live = try publisher.transactions()
        #expect(live.map(\.id) == [1, 2])
        var checked = 0
        for record in live {
            for entry in try publisher.entries(of: record.id) {
                let key = StoreKey(fileName: entry.fileName, index: entry.index, storedName: entry.fileName)
                let hit = try #require(try store.lookup(key), "\(key) does not resolve")
                // The sources were at /home/ci/fixture-job/out/pe/<arch>/<name>; the same files are in generated/pe.
                let relative = entry.sourcePath.components(separatedBy: "/out/").last ?? ""
                let source = readBytes(TestEnvironment.shared("generated/" + relative))
                #expect(!source.isEmpty)
                #expect(try store.read(key) == source, "\(key)")
                // The key we compute from the source file is the key symstore used.
                let identity = try FileIdentity.read(path: TestEnvironment.shared("generated/" + relative))
                #expect(StoreKey(identity) == key)
                if case .compressed(let path) = hit {
                    // An independent expander agrees byte for byte.
                    let oracle = try cabarchiveExpand(path)
                    #expect(oracle[entry.fileName] == source)
                }
                checked += 1
            }
        }
        #expect(checked == 6)
    }

    @Test func adminFilesParse() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let history = try StorePublisher(root: Self.storeRoot).history()
        #expect(history.count == 2)
        guard case .add(let isPointer, _, _, let product, let version, let comment) = history[1].action else {
            Issue.record("expected an add record")
            return
        }
        #expect(!isPointer && product == "fixture" && version == "1.0" && comment == "x86 compressed")
        // Lines written back are the fixture's lines.
        let lines = readText(Self.storeRoot + "/000Admin/server.txt").split(separator: "\n").map(String.init)
        #expect(try StorePublisher(root: Self.storeRoot).transactions().map(\.line) == lines)
    }

    @Test func compressedPDBFromDumpSyms() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let cabinet = try Cabinet(path: TestEnvironment.shared("dump_syms/test_data/windows/basic32.pd_"))
        #expect(cabinet.folders.first?.compression == .mszip)
        let (name, bytes) = try cabinet.extractSingleFile(limit: 64 << 20)
        #expect(name == "basic32.pdb")
        let identity = try FileIdentity.read(bytes: MappedFile(bytes: bytes).bytes, fileName: name)
        // MODULE windows x86 34060D222DBB44E5AA72243CE8326C2F2 basic32.pdb
        let module = readText(TestEnvironment.shared("dump_syms/test_data/windows/basic32.sym")).split(separator: "\n")[0]
        let debugID = String(module.split(separator: " ")[3])
        #expect(StoreKey(identity).index == debugID)
        #expect(debugID == "34060D222DBB44E5AA72243CE8326C2F2")
        // And the same bytes as the cabarchive package produces.
        let oracle = try cabarchiveExpand(TestEnvironment.shared("dump_syms/test_data/windows/basic32.pd_"))
        #expect(oracle["basic32.pdb"] == bytes)
    }

    @Test func sizeLimitIsEnforced() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let cabinet = try Cabinet(path: TestEnvironment.shared("dump_syms/test_data/windows/basic32.pd_"))
        #expect(throws: ParseError.self) { try cabinet.extractSingleFile(limit: 1 << 20) }
    }

    @Test(arguments: ["pe/x64/fixture.exe", "pe/x86/fixturedll.dll", "pe/x64/fixture.pdb", "pe/arm64/fixture.pdb"])
    func identityMatchesPeerParser(relative: String) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let path = TestEnvironment.shared("generated/" + relative)
        // The symstore package computes the same key (its own PE and PDB readers).
        let code = """
            import sys
            from symstore import symstore
            print(symstore._file_hash(sys.argv[1]))
            """
        let expected = try runPython(code, [path]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(StoreKey(try FileIdentity.read(path: path)).index == expected)
    }

    @Test func breakpadAndElfIdentities() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let sym = try FileIdentity.read(path: TestEnvironment.shared("dump_syms/test_data/windows/basic32.sym"))
        #expect(StoreKey(sym).path == "basic32.pdb/34060D222DBB44E5AA72243CE8326C2F2/basic32.sym")
        let elf = try FileIdentity.read(path: TestEnvironment.shared("dump_syms/test_data/linux/basic.full"))
        guard case .elf(let buildID, let isDebugInfo) = elf.identifier else {
            Issue.record("not read as ELF: \(elf)")
            return
        }
        #expect(!isDebugInfo)
        #expect(buildID.count >= 16)
        let debug = try FileIdentity.read(path: TestEnvironment.shared("dump_syms/test_data/linux/basic.dbg"))
        if case .elf(let debugBuildID, let isDebug) = debug.identifier {
            #expect(isDebug)
            #expect(debugBuildID == buildID)
        } else {
            Issue.record("basic.dbg not read as ELF")
        }
    }

    @Test func dbiAgeWinsOverInfoAge() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        // pdbstr raised the info stream's age to 4; the DBI age (1) is the one in the debug id.
        let identity = try FileIdentity.read(
            path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/crash_with_srcsrv.pdb"))
        #expect(StoreKey(identity).index == "3249D99D0C4049318610F4E4FB0B69361")
        let plain = try FileIdentity.read(path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/crash.pdb"))
        #expect(StoreKey(plain).index == "3249D99D0C4049318610F4E4FB0B69361")
    }

    @Test func portablePDB() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let identity = try FileIdentity.read(
            path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/portable.pdb"))
        guard case .portablePDB = identity.identifier else {
            Issue.record("portable.pdb read as \(identity)")
            return
        }
        let index = StoreKey(identity).index
        #expect(index.count == 40 && index.hasSuffix("FFFFFFFF"))
    }
}
