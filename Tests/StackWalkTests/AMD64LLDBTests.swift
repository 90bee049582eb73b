import Foundation
import Minidump
import StackWalk
import TestSupport
import Testing

/// lldb as the oracle for Windows x64 unwinding: the Wine-written dumps of `generated/dumps`, with
/// the fixture binaries and Wine's system DLLs on the module search path, walked by lldb (which
/// unwinds through `.pdata`) and by us; every thread's frames must have the same pcs.
@Suite(.ownThread) struct AMD64LLDBTests {
    static let generated = "generated"
    static let dumps = ["x64-dll-inproc-cv.dmp", "x64-null-aedebug-cv.dmp", "x64-null-aedebug.dmp"]

    /// Module file name → PE path, for the modules whose files the fixtures hold.
    static var images: [String: String] {
        var images = [String: String]()
        for name in ["fixture.exe", "fixturedll.dll"] { images[name] = TestEnvironment.shared("\(generated)/pe/x64/\(name)") }
        for name in ["ntdll.dll", "kernel32.dll", "kernelbase.dll"] {
            images[name] = TestEnvironment.shared("\(generated)/wine-x86_64-windows/\(name)")
        }
        return images
    }

    @Test(arguments: dumps)
    func framesMatchLLDB(dump: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the lldb comparison cannot run")
        let path = TestEnvironment.shared("\(Self.generated)/dumps/\(dump)")
        let harness = try MinidumpWalkHarness(path: path)
        let modules = try harness.moduleSet(images: Self.images)
        let oracle = try LLDBBacktrace.run(
            core: path,
            searchPaths: [
                TestEnvironment.shared("\(Self.generated)/pe/x64"),
                TestEnvironment.shared("\(Self.generated)/wine-x86_64-windows"),
            ])
        try #require(!oracle.isEmpty, "lldb printed no threads")
        for (threadID, lldbPCs) in oracle {
            let stack = try #require(
                try harness.walk(threadID: threadID, modules: modules), "thread \(threadID) is not in the dump")
            let ours = stack.frames.map { describe($0.pc, modules) }
            let theirs = lldbPCs.map { describe($0, modules) }
            #expect(ours == theirs, "thread 0x\(String(threadID, radix: 16)) of \(dump)")
            #expect(stack.frames.dropFirst().allSatisfy { $0.trust == .cfi }, "every caller found by unwind data")
        }
    }

    /// The reference backtrace of fixtures/README.md, written out, so a change in lldb cannot move the goalposts.
    @Test func referenceBacktraceOfTheDLLDump() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared("\(Self.generated)/dumps/x64-dll-inproc-cv.dmp"))
        let modules = try harness.moduleSet(images: Self.images)
        let exception = try #require(try harness.dump.stream(ExceptionStream.self))
        let stack = try #require(try harness.walk(threadID: exception.threadId, modules: modules))
        #expect(
            stack.frames.map { describe($0.pc, modules) } == [
                "fixturedll.dll+0x1090", "fixturedll.dll+0x104d", "fixturedll.dll+0x1043", "fixturedll.dll+0x1043",
                "fixturedll.dll+0x1043", "fixturedll.dll+0x101b", "fixture.exe+0x1705", "fixture.exe+0x1559",
                "fixture.exe+0x1539", "fixture.exe+0x11e2", "kernel32.dll+0x27e49", "ntdll.dll+0x5dca8",
            ])
        #expect(stack.warnings.isEmpty)
    }

    func describe(_ pc: UInt64, _ modules: ModuleSet) -> String {
        guard let module = modules.module(containing: pc) else { return "0x" + String(pc, radix: 16) }
        return module.name + "+0x" + String(pc - module.base, radix: 16)
    }
}

/// Runs lldb on a core file and reads back each thread's frame pcs.
enum LLDBBacktrace {
    /// The lldb of the Swift toolchain, and the Python it was linked against (pyenv's 3.10.13).
    static func environment() throws -> (lldb: String, environment: [String: String]) {
        let candidates =
            ["/opt/swift/usr/bin/lldb"]
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { $0 + "/lldb" }
        guard let lldb = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ProcessFailure(description: "lldb is not installed: the oracle comparison cannot run")
        }
        var pythonHome = ProcessInfo.processInfo.environment["POSTMORTEM_LLDB_PYTHONHOME"] ?? ""
        if pythonHome.isEmpty, let result = try? runProcess("pyenv", ["prefix", "3.10.13"]), result.status == 0 {
            pythonHome = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if pythonHome.isEmpty {
            pythonHome = NSHomeDirectory() + "/.pyenv/versions/3.10.13"
        }
        let library = [pythonHome + "/lib", ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"] ?? ""].filter { !$0.isEmpty }
        return (lldb, ["PYTHONHOME": pythonHome, "LD_LIBRARY_PATH": library.joined(separator: ":")])
    }

    /// Thread id → frame pcs, innermost first, from `thread list` and `bt all`.
    static func run(core: String, searchPaths: [String]) throws -> [(UInt32, [UInt64])] {
        let (lldb, environment) = try environment()
        let result = try runProcess(
            lldb,
            [
                "--batch", "-o", "settings set target.exec-search-paths " + searchPaths.joined(separator: " "),
                "-o", "target create --core \(core)", "-o", "thread list", "-o", "bt all",
            ], environment: environment)
        guard result.status == 0 else {
            throw ProcessFailure(description: "lldb failed (\(result.status)): \(result.stderrText)")
        }
        return parse(result.stdoutText)
    }

    /// Reads `thread #N: tid = 0x...` lines for the ids, then the `frame #K: 0x...` lines under each
    /// `thread #N` header of the backtrace.
    static func parse(_ output: String) -> [(UInt32, [UInt64])] {
        var ids = [Int: UInt32]()
        var frames = [(Int, [UInt64])]()
        var inBacktrace = false
        for rawLine in output.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "* ", with: "")
            if line.hasPrefix("(lldb) bt all") { inBacktrace = true }
            guard line.hasPrefix("thread #") || line.hasPrefix("frame #") else { continue }
            if line.hasPrefix("thread #") {
                let number = Int(line.dropFirst("thread #".count).prefix { $0.isNumber }) ?? -1
                if !inBacktrace, let range = line.range(of: "tid = 0x") {
                    let digits = line[range.upperBound...].prefix { $0.isHexDigit }
                    ids[number] = UInt32(digits, radix: 16)
                } else if inBacktrace {
                    frames.append((number, []))
                }
            } else if inBacktrace, !frames.isEmpty, let colon = line.range(of: ": 0x") {
                let digits = line[colon.upperBound...].prefix { $0.isHexDigit }
                if let pc = UInt64(digits, radix: 16) { frames[frames.count - 1].1.append(pc) }
            }
        }
        return frames.compactMap { number, pcs in ids[number].map { ($0, pcs) } }
    }
}
