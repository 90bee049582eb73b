import Foundation
import TestSupport
import Testing

/// `postmortem symstore` as a build system calls it; the layout is checked against the library's own tests.
@Suite("postmortem symstore", .ownThread)
struct SymstoreCommandTests {
    @Test("add, query, del round trip with the exit statuses scripts rely on")
    func roundTrip() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: store) }
        let folder = TestEnvironment.shared("generated/pe/x64")
        let exe = folder + "/fixture.exe"
        let pdb = folder + "/fixture.pdb"
        let add = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["symstore", "add", "-f", exe, pdb, "-s", store, "-t", "Fixture", "-v", "1.0", "-c", "ci", "--compress"])
        #expect(add.status == 0, "\(add.stderrText)")
        #expect(FileManager.default.fileExists(atPath: store + "/fixture.exe/08625E115000/fixture.ex_"))
        #expect(FileManager.default.fileExists(atPath: store + "/fixture.pdb/DE72AEE0C8234F214C4C44205044422E1/fixture.pd_"))
        #expect(try String(contentsOfFile: store + "/000Admin/lastid.txt", encoding: .utf8).hasPrefix("0000000001"))

        let found = try runProcess(TestEnvironment.postmortemExecutable, ["symstore", "query", "-f", exe, "-s", store])
        #expect(found.status == 0)
        #expect(found.stdoutText.contains("08625E115000"))
        let missing = try runProcess(
            TestEnvironment.postmortemExecutable, ["symstore", "query", "-f", folder + "/fixturedll.dll", "-s", store])
        #expect(missing.status == 3)

        let delete = try runProcess(TestEnvironment.postmortemExecutable, ["symstore", "del", "-i", "1", "-s", store])
        #expect(delete.status == 0, "\(delete.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: store + "/fixture.exe/08625E115000/fixture.ex_"))
        let history = try String(contentsOfFile: store + "/000Admin/history.txt", encoding: .utf8)
        #expect(history.contains("0000000002,del,0000000001"))

        let usage = try runProcess(TestEnvironment.postmortemExecutable, ["symstore", "add", "-f", exe, "-s", store])
        #expect(usage.status == 2, "missing -t is a usage error")
    }
}
