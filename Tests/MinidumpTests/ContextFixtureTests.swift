import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Minidumps among the shared fixtures (files starting `MDMP`; kernel dumps and microdump text are not minidumps).
enum ContextFixtures {
    static let dumps: [String] = {
        guard TestEnvironment.hasSharedFixtures else { return [] }
        return TestEnvironment.sharedFiles(suffixes: [".dmp"]).filter { path in
            guard let handle = FileHandle(forReadingAtPath: path) else { return false }
            defer { try? handle.close() }
            return handle.readData(ofLength: 4) == Data("MDMP".utf8)
        }
    }()

    /// The fixtures' path relative to the shared folder, for messages.
    static func name(_ path: String) -> String {
        let root = TestEnvironment.sharedFixtures.path + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }

    /// One decoded thread: id, stack range and context.
    struct DecodedThread {
        var threadId: UInt32
        var stack: ClosedRange<UInt64>?
        var context: ThreadContext
    }

    /// The dump's threads with their contexts, the exception context, and the modules.
    struct Decoded {
        var dump: MinidumpFile
        var architecture: ProcessorArchitecture?
        var threads: [DecodedThread]
        var exception: (threadId: UInt32, context: ThreadContext)?
        var modules: ModuleList?
    }

    static func decode(_ relativePath: String) throws -> Decoded {
        try decode(path: TestEnvironment.shared(relativePath))
    }

    static func decode(path: String) throws -> Decoded {
        let dump = try MinidumpFile(path: path)
        let architecture = try dump.stream(SystemInfo.self)?.processorArchitecture
        var threads = [DecodedThread]()
        for thread in try dump.stream(ThreadList.self)?.threads ?? [] {
            let context = try dump.threadContext(at: thread.threadContext, architecture: architecture)
            let start = thread.stack.startOfMemoryRange
            let size = UInt64(thread.stack.memory.dataSize)
            let (end, overflow) = start.addingReportingOverflow(size)
            let stack = size > 0 && !overflow ? start...(end - 1) : nil
            threads.append(DecodedThread(threadId: thread.threadId, stack: stack, context: context))
        }
        var exception: (UInt32, ThreadContext)? = nil
        if let stream = try dump.stream(ExceptionStream.self) {
            exception = (stream.threadId, try dump.threadContext(at: stream.threadContext, architecture: architecture))
        }
        return Decoded(
            dump: dump, architecture: architecture, threads: threads, exception: exception,
            modules: try dump.stream(ModuleList.self))
    }
}

@Suite("Thread contexts of real dumps", .ownThread)
struct ContextFixtureTests {
    /// Breakpad's exploitability fixtures that crash by jumping outside every module, on purpose.
    static let ipOutsideModules: Set<String> = [
        "breakpad/src/processor/testdata/linux_jmp_to_0.dmp",
        "breakpad/src/processor/testdata/linux_jmp_to_module_not_exe_region.dmp",
        "breakpad/src/processor/testdata/linux_outside_module.dmp",
    ]

    /// Crashpad's linux_inline.dmp captured a stack (0x7fff1669d120, 16096 bytes) that does not hold
    /// the thread's rsp 0x7f75578cc080; the Python oracle reads the same rsp, so the writer is the cause.
    static let spOutsideStack: Set<String> = ["breakpad/src/processor/testdata/linux_inline.dmp"]

    @Test("the shared fixtures hold minidumps")
    func fixturesPresent() {
        #expect(TestEnvironment.hasSharedFixtures, "shared fixtures missing at \(TestEnvironment.sharedFixtures.path)")
        #expect(ContextFixtures.dumps.count >= 50, "found only \(ContextFixtures.dumps.count) minidumps")
    }

    /// Minidumps without a readable thread list: lldb's regions-memlist64.dmp has none, and
    /// rust-minidump's invalid-*.dmp are malformed on purpose.
    static let withoutThreads: Set<String> = [
        "lldb/unittests/Process/minidump/Inputs/regions-memlist64.dmp",
        "rust-minidump/testdata/invalid-range.dmp",
        "rust-minidump/testdata/invalid-record-count.dmp",
    ]

    @Test("every thread's and the exception's context decodes and points into the process", arguments: ContextFixtures.dumps)
    func decodes(path: String) throws {
        let name = ContextFixtures.name(path)
        if Self.withoutThreads.contains(name) {
            // Must not trap; whether it throws is the thread list's business.
            _ = try? ContextFixtures.decode(path: path)
            let threads = try? MinidumpFile(path: path).stream(ThreadList.self)?.threads
            #expect(threads?.isEmpty ?? true, "\(name) has threads now: check its contexts")
            return
        }
        let decoded = try ContextFixtures.decode(path: path)
        #expect(!decoded.threads.isEmpty, "\(name): no threads")
        for thread in decoded.threads {
            let context = thread.context
            if let architecture = decoded.architecture {
                #expect(
                    context.architecture == architecture
                        || (architecture == .x86OnWin64 && context.architecture == .x86),
                    "\(name): thread \(thread.threadId) context \(context.architecture) in a \(architecture) dump")
            }
            let ip = context.instructionPointer
            let sp = context.stackPointer
            if !Self.ipOutsideModules.contains(name) {
                #expect(
                    decoded.modules?.module(containing: ip) != nil,
                    "\(name): thread \(hex0x(thread.threadId)) ip \(hex0x(ip)) lies in no module")
            }
            if !Self.spOutsideStack.contains(name) {
                // Writers start the captured stack at the stack pointer or a little below it
                // (Linux writers include the 128-byte red zone).
                let inStack = thread.stack.map { $0.lowerBound <= sp &+ 128 && sp <= $0.upperBound &+ 1 } ?? false
                #expect(
                    inStack,
                    "\(name): thread \(hex0x(thread.threadId)) sp \(hex0x(sp)) outside its stack \(String(describing: thread.stack))"
                )
            }
            #expect(context.registers.contains { $0.value == ip })
            #expect(context.registers.contains { $0.value == sp })
        }
        // The exemptions must stay true, or they hide nothing and should go.
        if Self.ipOutsideModules.contains(name) {
            #expect(
                decoded.threads.contains { decoded.modules?.module(containing: $0.context.instructionPointer) == nil },
                "\(name): every ip lies in a module now")
        }
        if Self.spOutsideStack.contains(name) {
            #expect(
                decoded.threads.contains { thread in
                    thread.stack.map { !$0.contains(thread.context.stackPointer) } ?? true
                }, "\(name): every sp lies in its stack now")
        }
        if let exception = decoded.exception {
            let thread = decoded.threads.first { $0.threadId == exception.threadId }
            #expect(thread != nil, "\(name): exception thread \(exception.threadId) not in the thread list")
            if let stack = thread?.stack {
                let sp = exception.context.stackPointer
                #expect(
                    stack.lowerBound <= sp &+ 128 && sp <= stack.upperBound &+ 1,
                    "\(name): exception sp \(hex0x(sp)) outside the crashing thread's stack \(stack)")
            }
        }
    }

    @Test("rust-minidump test.dmp: exception and thread contexts (EXPECTED.md)")
    func rustMinidumpTestDump() throws {
        let decoded = try ContextFixtures.decode("rust-minidump/testdata/test.dmp")
        let exception = try #require(decoded.exception)
        #expect(exception.threadId == 0xbf4)
        guard case .x86(let context) = exception.context else {
            Issue.record("expected an x86 context, got \(exception.context.architecture)")
            return
        }
        #expect(context.eip == 0x40429e)
        #expect(context.esp == 0x12fe84)
        #expect(context.contextFlags.rawValue == 0x1003f)
        #expect(
            exception.context.validGroups.isSuperset(of: [
                .control, .integer, .segments, .floatingPoint, .debugRegisters, .extendedRegisters,
            ]))
        #expect(decoded.threads.map(\.threadId) == [0xbf4, 0x11c0])
        #expect(decoded.threads[0].context.instructionPointer == 0x7c90eb94)
        #expect(decoded.threads[0].context.stackPointer == 0x12f320)
    }

    /// Register lines as minidump-stackwalk prints them (`name = 0x...`), in order.
    static func registerLines(_ text: some StringProtocol) -> [RegisterValue] {
        var values = [RegisterValue]()
        for token in text.split(whereSeparator: { $0 == "\n" }).flatMap({ $0.split(separator: "   ") }) {
            let parts = token.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[1].hasPrefix("0x"), let value = UInt64(parts[1].dropFirst(2), radix: 16) else {
                continue
            }
            values.append(RegisterValue(name: parts[0], value: value))
        }
        return values
    }

    /// The register block of frame 0 of the crashed thread in a minidump-stackwalk human report.
    static func crashedFrameRegisters(_ report: String, frameHeader: String) throws -> [RegisterValue] {
        let lines = report.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.contains(frameHeader) }, "no line containing \(frameHeader)")
        var block = [Substring]()
        for line in lines[(start + 1)...] {
            if line.contains("Found by:") { break }
            block.append(line)
        }
        return registerLines(block.joined(separator: "\n"))
    }

    @Test("breakpad minidump2.dmp: registers and order as minidump2.stackwalk.out prints them")
    func breakpadMinidump2() throws {
        let report = try String(
            contentsOfFile: TestEnvironment.shared("breakpad/src/processor/testdata/minidump2.stackwalk.out"), encoding: .utf8)
        let expected = try Self.crashedFrameRegisters(report, frameHeader: "Thread 0 (crashed)")
        #expect(expected.map(\.name) == ["eip", "esp", "ebp", "ebx", "esi", "edi", "eax", "ecx", "edx", "efl"])
        let decoded = try ContextFixtures.decode("breakpad/src/processor/testdata/minidump2.dmp")
        #expect(try #require(decoded.exception).context.registers == expected)
    }

    @Test(
        "rust-minidump snapshots: crashed thread's registers",
        arguments: [
            ("test_minidump_stackwalk__linux_human.snap", "rust-minidump/testdata/linux-mini.dmp", " 0  crash + 0x1d72"),
            (
                "test_minidump_stackwalk__macos_inlines_human.snap", "rust-minidump/testdata/pipeline-inlines-macos-segv.dmp",
                " 1  crash-client!sadness_generator::raise_segfault"
            ),
        ])
    func rustMinidumpSnapshots(snapshot: String, dumpPath: String, frameHeader: String) throws {
        let report = try String(
            contentsOfFile: TestEnvironment.shared("rust-minidump/minidump-stackwalk/tests/snapshots/" + snapshot),
            encoding: .utf8)
        let expected = try Self.crashedFrameRegisters(report, frameHeader: frameHeader)
        #expect(expected.count == 17, "\(snapshot): parsed \(expected.count) registers")
        let decoded = try ContextFixtures.decode(dumpPath)
        let context = try #require(decoded.exception).context
        #expect(context.architecture == .amd64)
        #expect(context.registers == expected)
    }

    @Test("macOS Crashpad contexts carry CONTEXT_AMD64 alone, yet hold every register")
    func macOSFlagsQuirk() throws {
        for path in ["rust-minidump/testdata/pipeline-inlines-macos-segv.dmp", "symbolic/py/tests/res/minidump/crash_macos.dmp"] {
            let decoded = try ContextFixtures.decode(path)
            let context = try #require(decoded.exception).context
            #expect(context.contextFlags == .amd64, "\(path)")
            #expect(context.validGroups.isEmpty, "\(path)")
            #expect(context.instructionPointer != 0, "\(path)")
        }
    }

    @Test("lldb fizzbuzz_no_heap.dmp: frame 0 pc 0x164d14 (TestMiniDump.py)")
    func lldbFizzbuzz() throws {
        let decoded = try ContextFixtures.decode(
            "lldb/packages/Python/lldbsuite/test/functionalities/postmortem/minidump/fizzbuzz_no_heap.dmp")
        #expect(decoded.threads.count == 1)
        #expect(try #require(decoded.exception).context.instructionPointer == 0x164d14)
        #expect(decoded.threads[0].context.architecture == .x86)
    }

    @Test(
        "kdlibcpp: the exception context stops at the breakpoint (EXPECTED.md)",
        arguments: [
            (
                "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp",
                ProcessorArchitecture.x86, UInt64(0xbf2872)
            ),
            (
                "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp", .amd64,
                0x7ff6_6d9f_29e9
            ),
        ])
    func kdlibcppBreakpoints(path: String, architecture: ProcessorArchitecture, breakpoint: UInt64) throws {
        let decoded = try ContextFixtures.decode(path)
        #expect(decoded.threads.count == 4)
        let context = try #require(decoded.exception).context
        #expect(context.architecture == architecture)
        #expect(context.instructionPointer == breakpoint)
        // WinDbg sets CONTEXT_XSTATE in a context of exactly sizeof(CONTEXT): no XSAVE data to read.
        #expect(context.validGroups.contains(.xstate))
        switch context {
        case .x86(let x86): #expect(x86.extendedState == nil && x86.extendedStateProblem != nil)
        case .amd64(let amd64): #expect(amd64.extendedState == nil && amd64.extendedStateProblem != nil)
        default: Issue.record("unexpected \(context.architecture)")
        }
    }

    @Test("Wine's dumps: CONTEXT_XSTATE set in a 1232-byte context, exception at 0x180001090 (README)")
    func wineXStateQuirk() throws {
        let decoded = try ContextFixtures.decode("generated/dumps/x64-dll-inproc-cv.dmp")
        let context = try #require(decoded.exception).context
        #expect(context.instructionPointer == 0x1_8000_1090)
        guard case .amd64(let amd64) = context else {
            Issue.record("expected amd64")
            return
        }
        #expect(amd64.contextFlags.rawValue == 0x10005f)
        #expect(amd64.extendedState == nil)
        #expect(amd64.extendedStateProblem?.contains("no CONTEXT_EX") == true)
    }
}
