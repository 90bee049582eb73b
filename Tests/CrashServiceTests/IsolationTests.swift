import Analysis
import Foundation
import Hummingbird
import HummingbirdTesting
import SymbolStore
import TestSupport
import Testing

@testable import CrashService

/// Analyses in child processes: the same report as in-process, and a dump that crashes or hangs
/// the analyzer fails alone while the worker goes on.
@Suite("Analysis in a child process", .ownThread)
struct IsolationTests {
    /// The options of a worker with a symbol path, executable folders and a prefix mapping.
    static func options() throws -> AnalysisOptions {
        var symbols = SymbolLocationsFactory.localSymbols()
        // A store that does not exist, searched after the fixture symbols: it must survive the trip too.
        symbols.symbolPath = try SymbolPath(
            parsing: TestEnvironment.local("symbols") + ";srv*/nonexistent/cache*/nonexistent/store")
        symbols.executablePath = ExecutableSearchPath(
            entries: [.folder("/nonexistent/binaries"), .folder(TestEnvironment.local("rust-minidump"))],
            mappings: [ExecutableSearchPath.PrefixMapping(windowsPrefix: "C:\\", localFolder: "/nonexistent/c")])
        symbols.fetch.progress = nil
        return AnalysisOptions(locations: symbols, threads: .all)
    }

    @Test func theChildReportsWhatTheWorkerWouldHaveComputedItself() async throws {
        let options = try Self.options()
        let dump = TestEnvironment.local("rust-minidump/test.dmp")
        let arguments = ChildProcessAnalysis.arguments(options: options, dump: dump)
        #expect(arguments.suffix(2) == ["--", dump])
        #expect(arguments.contains("--map-path") && arguments.contains("C:\\=/nonexistent/c"))

        let inProcess = try await CrashAnalyzer.analyze(path: dump, options: options)
        let child = ChildProcessAnalysis(executable: TestEnvironment.postmortemExecutable, options: options)
        guard case .done(let crash) = await child.run(dump: dump, timeout: .seconds(120)) else {
            Issue.record("the child did not produce a report")
            return
        }
        #expect(crash == inProcess)
        #expect(crash.signature == "`anonymous namespace'::CrashFunction")
    }

    @Test func aChildOverItsMemoryLimitIsStoppedAndItsDumpFails() async throws {
        let tools = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: tools) }
        let analyzer = try Self.writeAnalyzer(in: tools)
        let hog = tools + "/hog.dmp"
        try Data("HOGME".utf8).write(to: URL(fileURLWithPath: hog))
        let limited = ChildProcessAnalysis(executable: analyzer, options: try Self.options(), memoryLimitMB: 64)
        let start = ContinuousClock.now
        guard case .unreadable(let reason) = await limited.run(dump: hog, timeout: .seconds(120)) else {
            Issue.record("a child over its memory limit was not stopped")
            return
        }
        #expect(reason.hasPrefix("the analysis used more than 64 MiB ("), "\(reason)")
        #expect(ContinuousClock.now - start < .seconds(60), "the child was not stopped before it ended by itself")
        // A real analysis stays well within the same limit.
        let dump = TestEnvironment.local("rust-minidump/test.dmp")
        guard case .done(let crash) = await limited.run(dump: dump, timeout: .seconds(120)) else {
            Issue.record("a child within its memory limit did not report")
            return
        }
        #expect(crash.signature == "`anonymous namespace'::CrashFunction")
    }

    @Test func aMalformedDumpIsUnreadableWithTheAnalyzersReason() async throws {
        let folder = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dump = folder + "/garbage.dmp"
        try Data("this is not a dump".utf8).write(to: URL(fileURLWithPath: dump))
        let child = ChildProcessAnalysis(executable: TestEnvironment.postmortemExecutable, options: try Self.options())
        guard case .unreadable(let reason) = await child.run(dump: dump, timeout: .seconds(120)) else {
            Issue.record("a malformed dump was not reported unreadable")
            return
        }
        #expect(!reason.isEmpty)
        #expect(!reason.contains(dump), "the reason repeats the stored path: \(reason)")
    }

    /// A stand-in analyzer: traps on dumps holding CRASHME, hangs on HANGME (writing its pid
    /// first), holds 256 MiB on HOGME, and runs the real `postmortem` on anything else.
    static func writeAnalyzer(in folder: String) throws -> String {
        let script = """
            #!/bin/sh
            if [ "$1" = probe ]; then exit 0; fi
            for dump; do :; done
            if grep -q -e CRASHME -- "$dump"; then kill -SEGV $$; fi
            if grep -q -e HANGME -- "$dump"; then echo $$ > '\(folder)/hung.pid'; exec sleep 600; fi
            if grep -q -e HOGME -- "$dump"; then exec python3 -c 'import time; hog = b"x" * (256 << 20); time.sleep(60)'; fi
            exec '\(TestEnvironment.postmortemExecutable)' "$@"

            """
        let path = folder + "/analyzer.sh"
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        // A process forked elsewhere in this test process while the script was open for writing
        // holds it open until it execs, and exec then fails with ETXTBSY: wait until it runs.
        for _ in 0..<50 {
            if (try? runProcess(path, ["probe"]))?.status == 0 { return path }
            usleep(100_000)
        }
        throw ProcessFailure(description: "the stand-in analyzer \(path) does not run")
    }

    @Test func crashingAndHangingAnalysesFailAloneAndTheWorkerGoesOn() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let tools = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: tools) }
        let good = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        var configuration = ServiceFixtures.configuration(data: data)
        configuration.worker.isolation = .childProcess(executable: try Self.writeAnalyzer(in: tools))
        // Long enough for a real analysis on a loaded machine; the hung one waits it out.
        configuration.worker.analysisTimeout = .seconds(15)
        let app = try buildCrashService(configuration: configuration)
        try await app.test(.router) { client in
            // Trailing bytes leave the minidump readable; only the stand-in looks at them.
            let (_, crashing) = try await ServiceRouterTests.submit(client, .crashpad(dump: good + Array("CRASHME".utf8)))
            let (_, hanging) = try await ServiceRouterTests.submit(client, .crashpad(dump: good + Array("HANGME".utf8)))
            let (_, fine) = try await ServiceRouterTests.submit(client, .crashpad(dump: good))

            let crashed = try await ServiceRouterTests.settled(client, String(crashing.dropFirst(11).prefix(36)))
            #expect(crashed.status == .failed)
            #expect(
                crashed.failure?.hasPrefix("the analysis crashed (signal \(SIGSEGV), SIGSEGV)") == true,
                "\(crashed.failure ?? "")")

            let hung = try await ServiceRouterTests.settled(client, String(hanging.dropFirst(11).prefix(36)))
            #expect(hung.status == .failed)
            #expect(hung.failure?.contains("did not finish within 15 s") == true, "\(hung.failure ?? "")")
            // The hung process was killed, not left running.
            let pidText = try String(contentsOfFile: tools + "/hung.pid", encoding: .utf8)
            let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "the hung analyzer \(pid) is still running")

            let processed = try await ServiceRouterTests.settled(client, String(fine.dropFirst(11).prefix(36)))
            #expect(processed.status == .processed, "\(processed.failure ?? "")")
            #expect(processed.signature == "`anonymous namespace'::CrashFunction")
        }
    }
}
