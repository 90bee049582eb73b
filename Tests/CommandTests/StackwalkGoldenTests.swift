import Foundation
import TestSupport
import Testing

/// `postmortem analyze` text against minidump-stackwalk's own golden outputs (rust-minidump's insta
/// snapshots and Breakpad's minidump2.stackwalk.out): the same threads, frames, functions, source
/// lines, recovered registers and "Found by" lines.
@Suite("analyze against minidump-stackwalk's goldens", .ownThread)
struct StackwalkGoldenTests {
    /// The `Thread N ...` blocks of a report, with source-line offsets (`+ 0x562]`) dropped: Breakpad and
    /// rust-minidump measure them from different addresses and we do not print them.
    static func threadBlocks(_ text: String) -> [String] {
        var blocks = [String]()
        var current: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("Thread ") {
                if let current { blocks.append(current.joined(separator: "\n")) }
                current = [line]
            } else if line.isEmpty || line.hasPrefix("Loaded modules") {
                if let block = current { blocks.append(block.joined(separator: "\n")) }
                current = nil
            } else if current != nil {
                current!.append(line.replacingOccurrences(of: #" \+ 0x[0-9a-f]+\]"#, with: "]", options: .regularExpression))
            }
        }
        if let current { blocks.append(current.joined(separator: "\n")) }
        return blocks
    }

    static func snapshot(_ name: String) throws -> String {
        try String(
            contentsOfFile: TestEnvironment.shared(
                "rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__\(name).snap"),
            encoding: .utf8)
    }

    static func analyze(_ arguments: [String]) throws -> String {
        let result = try runProcess(TestEnvironment.postmortemExecutable, ["analyze"] + arguments)
        #expect(result.status == 0, "\(result.stderrText)")
        return result.stdoutText
    }

    static func line(_ text: String, prefix: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }

    @Test(
        "rust-minidump snapshots: the crashing thread, frame by frame",
        arguments: [
            ("macos_inlines_human", "pipeline-inlines-macos-segv.dmp", true),
            ("human-symbols", "test.dmp", true),
            ("linux_human", "linux-mini.dmp", false),
        ])
    func rustSnapshot(snapshot: String, dump: String, symbols: Bool) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the goldens cannot be compared")
        let testdata = TestEnvironment.shared("rust-minidump/testdata")
        let ours = try Self.analyze(
            [testdata + "/" + dump] + (symbols ? ["--symbol-path", testdata + "/symbols"] : []))
        let theirs = try Self.snapshot(snapshot)
        #expect(Self.line(ours, prefix: "Crash reason:") == Self.line(theirs, prefix: "Crash reason:"))
        #expect(Self.line(ours, prefix: "Crash address:") == Self.line(theirs, prefix: "Crash address:"))
        let ourBlocks = Self.threadBlocks(ours)
        let theirBlocks = Self.threadBlocks(theirs)
        let crashed = try #require(theirBlocks.first { $0.hasPrefix("Thread") && $0.contains("(crashed)") })
        #expect(ourBlocks.first == crashed)
    }

    @Test(
        "Breakpad's machine-readable goldens: module, function, file and line of every frame",
        arguments: [
            ("minidump2.dmp", "symbols", "minidump2.stackwalk.machine_readable.out"),
            ("microdump-arm64.dmp", "symbols/microdump", "microdump.stackwalk.machine_readable-arm64.out"),
            ("microdump-arm.dmp", "symbols/microdump", "microdump.stackwalk.machine_readable-arm.out"),
        ])
    func breakpadMachineReadable(dump: String, symbols: String, golden goldenName: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the goldens cannot be compared")
        let testdata = TestEnvironment.shared("breakpad/src/processor/testdata")
        let result = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["analyze", "--json", testdata + "/" + dump, "--symbol-path", testdata + "/" + symbols])
        try #require(result.status == 0, "\(result.stderrText)")
        let report = try JSONDecoder().decode(AnalyzeCommandTests.Report.self, from: result.stdout)
        // Microdumps name no exception; their one thread is the one Breakpad reports.
        let frames = report.threads[report.crash_info.crashing_thread ?? 0].frames
        // Lines `0|N|module|function|file|line|offset` of the crashing thread.
        let golden = try String(contentsOfFile: testdata + "/" + goldenName, encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("0|") }.map {
                $0.split(separator: "|", omittingEmptySubsequences: false)
            }
        #expect(frames.count == golden.count)
        for (frame, fields) in zip(frames, golden) {
            #expect(frame.module == String(fields[2]))
            #expect((frame.function ?? "") == String(fields[3]))
            #expect((frame.file ?? "") == String(fields[4]))
            #expect(frame.line.map(String.init) ?? (fields[5].isEmpty ? "" : "0") == String(fields[5]))
        }
    }

    struct SnapshotReport: Decodable {
        struct Thread: Decodable { var frames: [AnalyzeCommandTests.Frame] }
        struct Crashing: Decodable { var threads_index: Int }
        var crashing_thread: Crashing?
        var threads: [Thread]
    }

    @Test("rust-minidump's --json snapshot of test.dmp with symbols: the schema's frame fields, value for value")
    func rustJSONSnapshot() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the goldens cannot be compared")
        let testdata = TestEnvironment.shared("rust-minidump/testdata")
        let result = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["analyze", "--json", testdata + "/test.dmp", "--symbol-path", testdata + "/symbols"])
        try #require(result.status == 0, "\(result.stderrText)")
        let ours = try JSONDecoder().decode(SnapshotReport.self, from: result.stdout)
        // The snapshot file starts with insta's front matter between two `---` lines.
        let snapshot = try Self.snapshot("json-pretty-symbols")
        let body = try #require(snapshot.range(of: "\n---\n").map { String(snapshot[$0.upperBound...]) })
        let theirs = try JSONDecoder().decode(SnapshotReport.self, from: Data(body.utf8))
        let ourThread = ours.threads[try #require(ours.crashing_thread?.threads_index)]
        let theirThread = theirs.threads[try #require(theirs.crashing_thread?.threads_index)]
        #expect(ourThread.frames == theirThread.frames)
    }
}
