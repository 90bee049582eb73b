import Analysis
import Foundation
import TestSupport
import Testing

/// `postmortem verify` and `postmortem modules` on kernel and user dumps, through the executable.
@Suite("verify and modules commands", .ownThread)
struct VerifyCommandTests {
    static let postmortem = TestEnvironment.postmortemExecutable

    @Test("exit status 0 on intact dumps, with one JSON report each")
    func intact() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let paths = [
            VerifyFixtures.arm64Small, VerifyFixtures.arm32Small, VerifyFixtures.userDump,
            TestEnvironment.shared("rust-minidump/testdata/test.dmp"),
        ]
        let result = try runProcess(Self.postmortem, ["verify", "--json"] + paths)
        #expect(result.status == 0, "\(result.stderrText)")
        let reports = try JSONDecoder().decode([VerificationReport].self, from: result.stdout)
        #expect(reports.map(\.dump) == paths)
        #expect(reports.allSatisfy { $0.passed })
        // The documented field names.
        let raw = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
        #expect(Set(raw[0].keys) == ["dump", "kind", "checks", "passed"])
        let check = try #require((raw[0]["checks"] as? [[String: Any]])?.first)
        #expect(Set(check.keys) == ["name", "status", "required", "detail"])
        let text = try runProcess(Self.postmortem, ["verify", VerifyFixtures.arm64Small])
        #expect(text.status == 0)
        #expect(text.stdoutText.contains("0xE2 MANUALLY_INITIATED_CRASH"))
        #expect(text.stdoutText.contains("verified: every required check passed"))
    }

    @Test("exit status 1 when any dump fails; the worst status wins; the failed check is named")
    func failing() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let bytes = try VerifyFixtures.bytes(VerifyFixtures.arm64Small)
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("verify-truncated-\(getpid()).dmp")
        try Data(bytes[..<(bytes.count / 2)]).write(to: truncated)
        defer { try? FileManager.default.removeItem(at: truncated) }
        let result = try runProcess(Self.postmortem, ["verify", VerifyFixtures.arm32Small, truncated.path])
        #expect(result.status == 1)
        #expect(result.stdoutText.contains("FAILED: file size"), "\(result.stdoutText)")
        let json = try runProcess(Self.postmortem, ["verify", "--json", truncated.path])
        #expect(json.status == 1)
        let reports = try JSONDecoder().decode([VerificationReport].self, from: json.stdout)
        #expect(reports.first?.passed == false)
        #expect(reports.first?.check(CheckName.fileSize)?.status == .fail)
        // A binary that cannot be found fails a required check too.
        let missing = try runProcess(
            Self.postmortem, ["verify", "--symbol-path", "/nonexistent;srv*x*https://example.invalid", VerifyFixtures.userDump])
        #expect(missing.status == 1)
        #expect(missing.stdoutText.contains("not searched"))
    }

    @Test("exit status 2 on usage errors")
    func usage() throws {
        #expect(try runProcess(Self.postmortem, ["verify"]).status == 2)
        #expect(try runProcess(Self.postmortem, ["verify", "--bogus", "x"]).status == 2)
    }

    @Test("modules on kernel and user dumps: text and JSON")
    func modules() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let text = try runProcess(Self.postmortem, ["modules", VerifyFixtures.arm64Small])
        #expect(text.status == 0, "\(text.stderrText)")
        #expect(text.stdoutText.contains("228 loaded"))
        #expect(text.stdoutText.contains("\\SystemRoot\\system32\\ntoskrnl.exe"))
        let json = try runProcess(Self.postmortem, ["modules", "--json", VerifyFixtures.userDump])
        #expect(json.status == 0, "\(json.stderrText)")
        let modules = try JSONDecoder().decode(DumpModules.self, from: json.stdout)
        #expect(modules.modules.count == 7)
        #expect(modules.modules.first?.debugId == "DC1EB176CD52469895EBBB75895BEC2B2")
        let raw = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let row = try #require((raw["modules"] as? [[String: Any]])?.first)
        for key in [
            "filename", "code_file", "base_addr", "end_addr", "size", "checksum", "timestamp", "timestamp_utc", "code_id",
            "debug_id",
        ] {
            #expect(row[key] != nil, "\(key)")
        }
        let arm32 = try runProcess(Self.postmortem, ["modules", VerifyFixtures.arm32Small])
        #expect(arm32.status == 0)
        #expect(arm32.stdoutText.contains("136 loaded"))
    }
}
