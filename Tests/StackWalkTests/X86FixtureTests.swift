import Analysis
import Foundation
import Minidump
import StackWalk
import Symbolication
import TestSupport
import Testing

/// One frame of a minidump_stackwalk text report (Breakpad's or rust-minidump's `--human`).
struct GoldenFrame: Equatable {
    var module: String
    var registers: [String: UInt64]
    var foundBy: String
}

/// Reads the frames of the report's first thread: a frame line (`N  module!function...` or
/// `N  module + 0xoffset`), register lines (`name = 0xvalue`) and a `Found by:` line.
func goldenFrames(report path: String) throws -> [GoldenFrame] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var frames = [GoldenFrame]()
    var inThread = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("Thread ") {
            if inThread { break }
            inThread = true
            continue
        }
        guard inThread else { continue }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty {
            if !frames.isEmpty { break }
            continue
        }
        if trimmed.hasPrefix("Found by: ") {
            frames[frames.count - 1].foundBy = String(trimmed.dropFirst("Found by: ".count))
        } else if trimmed.contains(" = 0x") {
            let tokens = trimmed.split(separator: " ")
            for index in tokens.indices where tokens[index] == "=" && index > 0 && index + 1 < tokens.count {
                frames[frames.count - 1].registers[String(tokens[index - 1])] = UInt64(tokens[index + 1].dropFirst(2), radix: 16)
            }
        } else if let first = trimmed.first, first.isNumber {
            let rest = trimmed.drop(while: { $0.isNumber }).drop(while: { $0 == " " })
            let module = rest.prefix(while: { $0 != "!" && $0 != " " })
            frames.append(GoldenFrame(module: String(module), registers: [:], foundBy: ""))
        }
    }
    return frames
}

@Suite(.ownThread) struct X86FixtureTests {
    static let breakpadData = "breakpad/src/processor/testdata/"
    static let snapshots = "rust-minidump/minidump-stackwalk/tests/snapshots/"

    static func symbolFiles(kernel32: Bool) -> [String: String] {
        let symbols = TestEnvironment.shared(breakpadData + "symbols")
        var files = ["test_app.exe": symbols + "/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"]
        if kernel32 { files["kernel32.dll"] = symbols + "/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym" }
        return files
    }

    /// Walks thread 0xbf4 of minidump2.dmp and compares every frame with a golden report: module,
    /// how it was found, and each register the report prints (all of them when `sameRegisters`).
    func compareMinidump2(symbolFiles: [String: String], report: String, sameRegisters: Bool) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared(Self.breakpadData + "minidump2.dmp"))
        let modules = try harness.moduleSet(symbolFiles: symbolFiles)
        let stack = try #require(try harness.walk(threadID: 0xbf4, modules: modules))
        let golden = try goldenFrames(report: TestEnvironment.shared(report))
        #expect(golden.count == 4)
        #expect(stack.frames.count == golden.count, "\(harness.describe(stack, modules: modules))")
        for (index, (frame, expected)) in zip(stack.frames, golden).enumerated() {
            #expect(modules.module(containing: frame.pc)?.name == expected.module, "frame \(index)")
            #expect(frame.trust.description == expected.foundBy, "frame \(index)")
            for (name, value) in expected.registers {
                #expect(frame.registers[name] == value, "frame \(index) \(name)")
            }
            if sameRegisters {
                #expect(
                    frame.registers.recoveredCount == expected.registers.count, "frame \(index): \(frame.registers.recovered)")
            }
        }
    }

    @Test func minidump2MatchesBreakpadGolden() throws {
        try compareMinidump2(
            symbolFiles: Self.symbolFiles(kernel32: true), report: Self.breakpadData + "minidump2.stackwalk.out",
            sameRegisters: false)
        // The machine-readable golden names the same modules.
        let text = try String(
            contentsOfFile: TestEnvironment.shared(Self.breakpadData + "minidump2.stackwalk.machine_readable.out"),
            encoding: .utf8)
        let modules = text.split(separator: "\n").filter { $0.hasPrefix("0|") }.map { $0.split(separator: "|")[2] }
        #expect(modules == ["test_app.exe", "test_app.exe", "test_app.exe", "kernel32.dll"])
    }

    @Test func minidump2MatchesRustMinidumpWithSymbols() throws {
        // rust-minidump's testdata has symbols for test_app only; frames 1-3 carry ebx, esi and edi too.
        try compareMinidump2(
            symbolFiles: Self.symbolFiles(kernel32: false),
            report: Self.snapshots + "test_minidump_stackwalk__human-symbols.snap", sameRegisters: true)
    }

    @Test func minidump2MatchesRustMinidumpWithoutSymbols() throws {
        // Without symbols every caller comes from the EBP chain, with only eip, esp and ebp known.
        try compareMinidump2(
            symbolFiles: [:], report: Self.snapshots + "test_minidump_stackwalk__human.snap", sameRegisters: true)
    }

    @Test func visualStudioDumpMatchesLLDB() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let folder = "lldb/packages/Python/lldbsuite/test/functionalities/postmortem/minidump/"
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared(folder + "fizzbuzz_no_heap.dmp"))
        let modules = try harness.moduleSet(symbolFiles: ["fizzbuzz.exe": TestEnvironment.shared(folder + "fizzbuzz.syms")])
        let stack = try #require(try harness.walk(threadID: 0x2320, modules: modules))
        // TestMiniDump.py: the six frames lldb finds, ending in ntdll's thread start.
        #expect(stack.frames.map(\.pc) == [0x164d14, 0x167c79, 0x167e6d, 0x7510_336a, 0x7775_9882, 0x7775_9855])
        #expect(stack.frames.dropFirst().allSatisfy { $0.trust == .framePointer })
        #expect(stack.warnings.isEmpty)
    }

    static let windows7Dumps = [
        "ascii_read_av", "ascii_read_av_block_write", "ascii_read_av_clobber_write", "ascii_read_av_conditional",
        "ascii_read_av_then_jmp", "ascii_read_av_xchg_write", "ascii_write_av", "ascii_write_av_arg_to_call",
        "exec_av_on_stack", "null_read_av", "null_write_av", "read_av_clobber_write", "read_av_conditional",
        "read_av_non_null", "stack_exhaustion", "write_av_non_null",
    ]

    @Test(arguments: windows7Dumps) func windows7DumpWalksAreBoundedAndPlausible(name: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared(Self.breakpadData + name + ".dmp"))
        #expect(harness.architecture == .x86)
        let modules = try harness.moduleSet()
        let exception = try #require(try harness.dump.stream(ExceptionStream.self))
        for thread in try harness.dump.stream(ThreadList.self)?.threads ?? [] {
            let stack = try #require(try harness.walk(threadID: thread.threadId, modules: modules))
            #expect(stack.frames.count < WalkLimits().maximumFrames, "\(name) thread \(thread.threadId)")
            for (caller, callee) in zip(stack.frames.dropFirst(), stack.frames) {
                #expect(caller.registers.sp! > callee.registers.sp!)
                #expect(modules.module(containing: caller.pc) != nil, "\(name): \(harness.describe(stack, modules: modules))")
            }
            guard thread.threadId == exception.threadId else { continue }
            // The crashing thread's EBP chain runs to the thread start: kernel32's BaseThreadInitThunk,
            // then ntdll's __RtlUserThreadStart and _RtlUserThreadStart (Windows 7 SP1 builds).
            let described = harness.describe(stack, modules: modules)
            #expect(
                Array(described.suffix(3))
                    == [
                        "kernel32.dll + 0x13677 (frame_pointer)", "ntdll.dll + 0x39d42 (frame_pointer)",
                        "ntdll.dll + 0x39d15 (frame_pointer)",
                    ],
                "\(name): \(described)")
            #expect(stack.warnings.isEmpty, "\(name): \(stack.warnings)")
        }
    }

    @Test func stackExhaustionWalksEveryRecursion() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared(Self.breakpadData + "stack_exhaustion.dmp"))
        let modules = try harness.moduleSet()
        let exception = try #require(try harness.dump.stream(ExceptionStream.self))
        let stack = try #require(try harness.walk(threadID: exception.threadId, modules: modules))
        let recursive = stack.frames.filter {
            modules.module(containing: $0.pc)?.name == "crashme.exe" && $0.pc & 0xFFFF == 0xa6a7
        }
        #expect(recursive.count > 200)
        #expect(stack.frames.dropFirst().allSatisfy { $0.trust == .framePointer })
    }

    static let kdlibFolder = "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/"

    @Test func pdbFrameDataWalksToMain() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let pdbPath = TestEnvironment.shared(Self.kdlibFolder + "targetapp.pdb")
        let harness = try MinidumpWalkHarness(
            path: TestEnvironment.shared(Self.kdlibFolder + "targetapp_test_cv_allreg_i386.dmp"))
        var walkModules = try harness.moduleSet().modules
        let index = try #require(walkModules.firstIndex { $0.name == "targetapp.exe" })
        walkModules[index].rules = try PDBUnwindRules(path: pdbPath)
        let modules = ModuleSet(walkModules)
        let exception = try #require(try harness.dump.stream(ExceptionStream.self))
        let stack = try #require(try harness.walk(threadID: exception.threadId, modules: modules))

        let symbols = try PDBSymbolProvider(path: pdbPath)
        let app = walkModules[index]
        let names = stack.frames.prefix(3).map { frame in
            symbols.frames(at: frame.lookupAddress - app.base).map(\.function)
        }
        // Breakpoint in test_cv_allreg_i386, called from test_cv_allreg inlined into wmain, called
        // from invoke_main inlined into the CRT's __scrt_common_main_seh.
        #expect(names == [["test_cv_allreg_i386"], ["test_cv_allreg", "wmain"], ["invoke_main", "__scrt_common_main_seh"]])
        #expect(stack.frames.dropFirst().prefix(3).allSatisfy { $0.trust == .cfi })
        #expect(
            harness.describe(stack, modules: modules).dropFirst(3).map {
                $0.hasPrefix("kernel32.dll") || $0.hasPrefix("ntdll.dll")
            } == [true, true, true])
        // Frame 0's program aligns the stack (`8 @`): the return address is found from EBP, not ESP.
        #expect(stack.frames[1].registers.sp == stack.frames[0].registers.fp! + 8)
        // The programs restore EBX, ESI and EDI by CodeView number ($20, $23, $24).
        let frame1 = stack.frames[1].registers
        let aligned = (stack.frames[0].registers.fp! + 4 - 4) & ~7
        #expect(frame1["ebx"] == harness.memory.readUInt32(at: aligned - 32).map(UInt64.init))
        #expect(frame1["esi"] == harness.memory.readUInt32(at: aligned - 36).map(UInt64.init))
        #expect(frame1["edi"] == harness.memory.readUInt32(at: aligned - 40).map(UInt64.init))
    }

    @Test func pdbRulesMatchTheConvertedSymbolFile() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let pdbPath = TestEnvironment.shared(Self.kdlibFolder + "targetapp.pdb")
        let rules = try PDBUnwindRules(path: pdbPath)
        let converted = try BreakpadConversion.symbolFile(pdbPath: pdbPath)
        #expect(rules.stackWinRecords == converted.stackWin)
        #expect(rules.stackWinRecords.count > 100)
        #expect(rules.hasFunction(at: 0x2872) == true)
        #expect(rules.cfi(at: 0x2872) == nil)
        #expect(rules.parameterSize(at: 0x2872) == 8)
    }
}
