import Analysis
import Foundation
import Minidump
import TestSupport
import Testing

/// `postmortem modules --json` against the `minidump` package from PyPI, an independent parser.
@Suite("modules --json agrees with the minidump package (PyPI)", .ownThread)
struct ModulesOracleTests {
    struct OracleModule: Decodable {
        struct CodeView: Decodable {
            var guid: String
            var age: UInt32
            var pdb: String
        }
        var name: String
        var base: UInt64
        var size: UInt32
        var timestamp: UInt32
        var checksum: UInt32
        var cv: CodeView?
    }

    /// Dumps whose module list the package misreads, and why. Each is still checked against
    /// its owners' stated values elsewhere.
    static let oracleCannotRead: [String: String] = [
        // The package ignores the 4 padding bytes after the count and reads garbage modules.
        "crash_macos.dmp": "module list padded after its count"
    ]

    static let dumps = MinidumpFixtures.intact.filter {
        oracleCannotRead[URL(fileURLWithPath: $0).lastPathComponent] == nil
    }

    @Test("same modules, bases, sizes, timestamps, checksums, PDB names, GUIDs and ages", arguments: dumps)
    func agrees(path: String) throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Oracles/minidump_modules.py").path
        let result = try runProcess(TestEnvironment.python, [script, path])
        try #require(result.status == 0, "oracle failed: \(result.stderrText)")
        let expected = try JSONDecoder().decode([OracleModule].self, from: result.stdout)

        let ours = try runProcess(TestEnvironment.postmortemExecutable, ["modules", "--json", path])
        try #require(ours.status == 0, "postmortem failed: \(ours.stderrText)")
        let table = try JSONDecoder().decode(ModuleTable.self, from: ours.stdout)

        let modulesExpected = expected.count
        #expect(table.modules.count == modulesExpected)
        for (row, oracle) in zip(table.modules, expected) {
            #expect(row.codeFile == oracle.name)
            #expect(UInt64(row.baseAddr.dropFirst(2), radix: 16) == oracle.base, "\(oracle.name)")
            #expect(UInt32(row.size.dropFirst(2), radix: 16) == oracle.size, "\(oracle.name)")
            #expect(UInt32(row.timestamp.dropFirst(2), radix: 16) == oracle.timestamp, "\(oracle.name)")
            #expect(UInt32(row.checksum.dropFirst(2), radix: 16) == oracle.checksum, "\(oracle.name)")
            if let cv = oracle.cv {
                #expect(row.codeview == "RSDS", "\(oracle.name)")
                #expect(row.pdbGuid == cv.guid, "\(oracle.name)")
                #expect(row.pdbAge == cv.age, "\(oracle.name)")
                #expect(row.debugFilePath == cv.pdb, "\(oracle.name)")
            } else {
                #expect(row.codeview != "RSDS", "\(oracle.name)")
            }
        }
    }

    @Test("the oracle covers most fixture dumps")
    func coverage() {
        #expect(Self.dumps.count >= 55, "only \(Self.dumps.count) dumps compared")
    }
}
