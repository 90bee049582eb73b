import Foundation
import TestSupport
import Testing

/// `postmortem analyze` against lldb (the Swift toolchain's) on the Wine-written x64 dumps, with the
/// same binaries and PDBs: every frame's module and function, and the source line wherever both
/// have one (lldb reads DWARF of the Wine DLLs, which we do not; there we compare names only).
@Suite("analyze against lldb", .ownThread)
struct AnalyzeLLDBTests {
    struct LLDBFrame: Equatable {
        var module: String
        var function: String
        var line: Int?
    }

    /// lldb and the environment it needs (pyenv's Python 3.10.13, which it was linked against).
    static func lldb() throws -> (String, [String: String]) {
        let lldb = ["/opt/swift/usr/bin/lldb", "/usr/bin/lldb"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let lldb else { throw ProcessFailure(description: "lldb is not installed: the oracle comparison cannot run") }
        let prefix = try runProcess("pyenv", ["prefix", "3.10.13"])
        guard prefix.status == 0 else { throw ProcessFailure(description: "pyenv has no Python 3.10.13 for lldb") }
        let home = prefix.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        return (lldb, ["PYTHONHOME": home, "LD_LIBRARY_PATH": home + "/lib"])
    }

    /// The frames of the first thread of `bt all`: "frame #N: 0x... module`function(args) at file:line[:col]".
    static func lldbFrames(_ output: String) -> [LLDBFrame] {
        var frames = [LLDBFrame]()
        for raw in output.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("* thread #2") || line.hasPrefix("thread #2") { break }
            guard line.contains("frame #"), let tick = line.firstIndex(of: "`") else { continue }
            let before = line[..<tick]
            let module = String(before.split(separator: " ").last ?? "")
            let rest = line[line.index(after: tick)...]
            let function = String(rest.prefix { $0 != "(" && $0 != " " })
            var number: Int?
            if let at = rest.range(of: " at ", options: .backwards) {
                let location = rest[at.upperBound...].split(separator: ":")
                if location.count >= 2 { number = Int(location[1]) }
            }
            frames.append(LLDBFrame(module: module, function: function, line: number))
        }
        return frames
    }

    @Test(
        "the same module and function in every frame, and the same line where both know it",
        arguments: ["x64-dll-inproc-cv.dmp", "x64-null-aedebug-cv.dmp"])
    func sameFrames(dump: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: lldb cannot be compared")
        let path = TestEnvironment.shared("generated/dumps/" + dump)
        let binaries = TestEnvironment.shared("generated/pe/x64")
        let wine = TestEnvironment.shared("generated/wine-x86_64-windows")
        let (lldb, environment) = try Self.lldb()
        let theirs = try runProcess(
            lldb,
            [
                "--batch", "-o", "settings set target.exec-search-paths \(binaries) \(wine)", "-o",
                "target create --core \(path)", "-o", "bt all",
            ],
            environment: environment)
        try #require(theirs.status == 0, "lldb failed: \(theirs.stderrText)")
        let expected = Self.lldbFrames(theirs.stdoutText)
        try #require(expected.count >= 5, "lldb printed: \(theirs.stdoutText)")

        let ours = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["analyze", "--json", path, "--symbol-path", binaries, "--exe-path", binaries + ";" + wine])
        try #require(ours.status == 0, "\(ours.stderrText)")
        let report = try JSONDecoder().decode(AnalyzeCommandTests.Report.self, from: ours.stdout)
        let frames = report.threads[try #require(report.crash_info.crashing_thread)].frames
        #expect(frames.count == expected.count)
        for (frame, theirs) in zip(frames, expected) {
            #expect(frame.module?.lowercased() == theirs.module.lowercased(), "frame \(frame.frame)")
            #expect(frame.function == theirs.function, "frame \(frame.frame)")
            if frame.file != nil, let line = theirs.line { #expect(frame.line == line, "frame \(frame.frame) line") }
        }
    }
}
