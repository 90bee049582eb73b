import Foundation
import TestSupport
import Testing

/// The `postmortem` executable as users run it: output pinned by snapshots, exit statuses fixed.
@Suite("postmortem command line", .ownThread)
struct CommandLineTests {
    static let sample = TestEnvironment.local("rust-minidump/test.dmp")

    func run(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(TestEnvironment.postmortemExecutable, arguments)
    }

    @Test(
        "snapshots of the sample dump",
        arguments: [
            (["modules", sample], "modules-test.dmp.txt"),
            (["modules", "--json", sample], "modules-test.dmp.json"),
            (["dump", sample], "dump-test.dmp.txt"),
            (["dump", "--json", sample], "dump-test.dmp.json"),
        ])
    func snapshot(arguments: [String], name: String) throws {
        let result = try run(arguments)
        #expect(result.status == 0, "\(result.stderrText)")
        // Paths differ between machines; the snapshot keeps the file name only.
        let text = result.stdoutText.replacingOccurrences(of: Self.sample, with: "test.dmp")
        if let mismatch = snapshotMismatch(text, suite: "CommandTests", name: name) {
            Issue.record(Comment(rawValue: mismatch))
        }
    }

    @Test(
        "help text",
        arguments: [
            (["--help"], "help.txt"),
            (["modules", "--help"], "help-modules.txt"),
            (["dump", "--help"], "help-dump.txt"),
            (["match", "--help"], "help-match.txt"),
            (["rescue", "--help"], "help-rescue.txt"),
            (["symbolize", "--help"], "help-symbolize.txt"),
            (["symstore", "add", "--help"], "help-symstore-add.txt"),
            (["verify", "--help"], "help-verify.txt"),
            (["dump-syms", "--help"], "help-dump-syms.txt"),
            (["serve-symbols", "--help"], "help-serve-symbols.txt"),
            (["fetch", "--help"], "help-fetch.txt"),
            (["analyze", "--help"], "help-analyze.txt"),
            (["serve", "--help"], "help-serve.txt"),
        ])
    func help(arguments: [String], name: String) throws {
        let result = try run(arguments)
        #expect(result.status == 0)
        if let mismatch = snapshotMismatch(result.stdoutText, suite: "CommandTests", name: name) {
            Issue.record(Comment(rawValue: mismatch))
        }
    }

    @Test("usage errors exit 2")
    func usageErrors() throws {
        for arguments in [["modules"], ["bogus"], ["modules", "--frobnicate", Self.sample], ["dump", "a", "b"]] {
            let result = try run(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderrText)")
            #expect(result.stderrText.contains("Usage") || result.stderrText.contains("Error"))
        }
    }

    @Test("malformed input exits 1 with the offset and field")
    func malformedInput() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try Data(contentsOf: URL(fileURLWithPath: Self.sample))

        let truncated = folder.appendingPathComponent("truncated.dmp")
        try original.prefix(20).write(to: truncated)
        let cut = try run(["modules", truncated.path])
        #expect(cut.status == 1)
        #expect(cut.stderrText.contains("offset 0x14"))
        #expect(cut.stderrText.contains("MINIDUMP_HEADER.TimeDateStamp"))

        let missing = try run(["modules", folder.appendingPathComponent("absent.dmp").path])
        #expect(missing.status == 1)
        #expect(missing.stderrText.contains("No such file"))

        // The module list's RVA points past the end: the other streams still print, the error is beside them.
        var damaged = [UInt8](original)
        let directory = 0x20
        for index in 0..<9 where damaged[directory + index * 12] == 4 {
            let rva = directory + index * 12 + 8
            for k in 0..<4 { damaged[rva + k] = 0xFF }
        }
        let damagedPath = folder.appendingPathComponent("damaged.dmp")
        try Data(damaged).write(to: damagedPath)
        let dump = try run(["dump", damagedPath.path])
        #expect(dump.status == 1)
        #expect(dump.stdoutText.contains("ThreadListStream"))
        #expect(dump.stdoutText.contains("SystemInfoStream"))
        #expect(dump.stdoutText.contains("ERROR: range 0xffffffff"))
        #expect(dump.stderrText.contains("ModuleListStream"))
        let modules = try run(["modules", damagedPath.path])
        #expect(modules.status == 1)
        #expect(modules.stderrText.contains("ModuleListStream"))
    }

    @Test("unknown streams are listed with type and size")
    func unknownStreams() throws {
        guard TestEnvironment.hasSharedFixtures else {
            Issue.record("shared fixtures absent")
            return
        }
        let result = try run(["dump", TestEnvironment.shared("generated/dumps/x64-null-aedebug.dmp")])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("0xfff0"))
        #expect(result.stdoutText.contains("(stream type not decoded by this reader)"))
    }
}
