import Analysis
import Foundation
import Minidump
import TestSupport
import Testing

/// Module identities against rust-minidump's minidump-stackwalk JSON snapshots.
@Suite("modules agree with rust-minidump's stackwalk snapshots", .ownThread)
struct StackwalkSnapshotModuleTests {
    static let cases: [(snapshot: String, dump: String)] = [
        ("test_minidump_stackwalk__json-pretty.snap", "test.dmp"),
        ("test_minidump_stackwalk__linux_json_pretty.snap", "linux-mini.dmp"),
        ("test_minidump_stackwalk__macos_inlines_json_pretty.snap", "pipeline-inlines-macos-segv.dmp"),
    ]

    /// The JSON body of an insta snapshot (after its second `---` line).
    static func snapshotJSON(_ path: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let parts = text.components(separatedBy: "\n---\n")
        let body = parts.count > 1 ? parts[1] : text
        return try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    }

    @Test("base, end, file names, code id, debug file, debug id, version", arguments: cases)
    func modules(snapshot: String, dump: String) throws {
        let json = try Self.snapshotJSON(TestEnvironment.shared("rust-minidump/minidump-stackwalk/tests/snapshots/" + snapshot))
        let expected = try #require(json["modules"] as? [[String: Any]])
        let path = TestEnvironment.shared("rust-minidump/testdata/" + dump)
        let table = ModuleTable(minidump: try MinidumpFile(path: path), path: path)
        // minidump-stackwalk lists modules sorted by address; ours keep the dump's order.
        let ours = Dictionary(uniqueKeysWithValues: table.modules.map { ($0.baseAddr, $0) })
        #expect(expected.count == table.modules.count)
        for module in expected {
            let base = try #require(module["base_addr"] as? String)
            guard let row = ours[base] else {
                Issue.record("no module at \(base) in \(dump)")
                continue
            }
            #expect(row.endAddr == module["end_addr"] as? String)
            #expect(row.filename == module["filename"] as? String)
            #expect(row.codeId.lowercased() == (module["code_id"] as? String)?.lowercased(), "\(row.filename)")
            #expect(row.debugFile == module["debug_file"] as? String, "\(row.filename)")
            #expect(row.debugId == module["debug_id"] as? String, "\(row.filename)")
            #expect(row.version == module["version"] as? String, "\(row.filename)")
        }
    }
}
