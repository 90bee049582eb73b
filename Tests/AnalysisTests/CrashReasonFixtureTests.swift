import Analysis
import Foundation
import Minidump
import TestSupport
import Testing

/// Crash reasons and addresses of real dumps against the golden outputs of the tools they
/// come from, and against values their owners' tests assert.
@Suite("CrashReason on the shared fixtures", .ownThread)
struct CrashReasonFixtureTests {
    /// rust-minidump's minidump-stackwalk `--human` snapshots: "Crash reason:" and "Crash address:".
    static let stackwalkSnapshots: [(snapshot: String, dump: String)] = [
        ("test_minidump_stackwalk__human.snap", "rust-minidump/testdata/test.dmp"),
        ("test_minidump_stackwalk__linux_human.snap", "rust-minidump/testdata/linux-mini.dmp"),
        ("test_minidump_stackwalk__macos_inlines_human.snap", "rust-minidump/testdata/pipeline-inlines-macos-segv.dmp"),
    ]

    @Test("matches minidump-stackwalk's human snapshot", arguments: stackwalkSnapshots)
    func humanSnapshot(snapshot: String, dump: String) throws {
        let text = try Fixtures.snapshot(snapshot)
        let crash = try #require(try CrashReason(minidump: Fixtures.dump(dump)))
        #expect(crash.reason == Fixtures.field("Crash reason:", in: text))
        #expect(crash.formattedAddress == Fixtures.field("Crash address:", in: text))
    }

    @Test(
        "matches minidump-stackwalk's JSON crash_info",
        arguments: [
            ("test_minidump_stackwalk__json-pretty.snap", "rust-minidump/testdata/test.dmp"),
            ("test_minidump_stackwalk__linux_json_pretty.snap", "rust-minidump/testdata/linux-mini.dmp"),
            ("test_minidump_stackwalk__macos_inlines_json_pretty.snap", "rust-minidump/testdata/pipeline-inlines-macos-segv.dmp"),
        ])
    func jsonSnapshot(snapshot: String, dump: String) throws {
        let json = try Fixtures.snapshotJSON(snapshot)
        let expected = try #require(json["crash_info"] as? [String: Any])
        var warnings = [String]()
        let info = CrashSummary(minidump: try Fixtures.dump(dump), warnings: &warnings)
        #expect(warnings.isEmpty)
        #expect(info.type == expected["type"] as? String)
        #expect(info.address == expected["address"] as? String)
        // minidump-stackwalk never fills `assertion` in.
        #expect(info.assertion == nil && expected["assertion"] is NSNull)
    }

    @Test("matches Breakpad's minidump_stackwalk golden output for minidump2.dmp")
    func breakpadGolden() throws {
        let text = try String(
            contentsOfFile: Fixtures.path("breakpad/src/processor/testdata/minidump2.stackwalk.out"), encoding: .utf8)
        let crash = try #require(try CrashReason(minidump: Fixtures.dump("breakpad/src/processor/testdata/minidump2.dmp")))
        #expect(crash.reason == Fixtures.field("Crash reason:", in: text))
        // Breakpad prints the address without padding (0x45).
        let address = try #require(Fixtures.field("Crash address:", in: text))
        #expect(crash.address == UInt64(address.dropFirst(2), radix: 16))
        let machine = try String(
            contentsOfFile: Fixtures.path("breakpad/src/processor/testdata/minidump2.stackwalk.machine_readable.out"),
            encoding: .utf8)
        let crashLine = try #require(machine.split(separator: "\n").first { $0.hasPrefix("Crash|") })
        #expect(crashLine.split(separator: "|")[1] == Substring(crash.reason))
    }

    /// Values asserted by the fixtures' owners (EXPECTED.md) or, where no tool's output is kept,
    /// derived by hand from the raw exception record (code, parameter 0, parameter 1).
    static let expectations: [(dump: String, reason: String, address: String)] = [
        // Breakpad minidump_processor_unittest: high half of the address is garbage, cut for x86.
        ("breakpad/src/processor/testdata/minidump_32bit_crash_addr.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x00000045"),
        ("breakpad/src/processor/testdata/null_read_av.dmp", "EXCEPTION_ACCESS_VIOLATION_READ", "0x00000000"),
        ("breakpad/src/processor/testdata/null_write_av.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x00000000"),
        ("breakpad/src/processor/testdata/read_av_non_null.dmp", "EXCEPTION_ACCESS_VIOLATION_READ", "0x0004e3c9"),
        ("breakpad/src/processor/testdata/write_av_non_null.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x0004e3c9"),
        ("breakpad/src/processor/testdata/exec_av_on_stack.dmp", "EXCEPTION_ACCESS_VIOLATION_EXEC", "0x003df944"),
        ("breakpad/src/processor/testdata/ascii_read_av.dmp", "EXCEPTION_ACCESS_VIOLATION_READ", "0x41414141"),
        ("breakpad/src/processor/testdata/ascii_write_av.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x41414141"),
        ("breakpad/src/processor/testdata/stack_exhaustion.dmp", "EXCEPTION_STACK_OVERFLOW", "0x00dea637"),
        ("breakpad/src/processor/testdata/thread_name_list.dmp", "EXCEPTION_ACCESS_VIOLATION_READ", "0x000f1004"),
        ("breakpad/src/processor/testdata/linux_null_read_av.dmp", "SIGSEGV", "0x0000000000000000"),
        ("breakpad/src/processor/testdata/linux_write_to_under_4k.dmp", "SIGSEGV", "0x0000000000000f93"),
        ("breakpad/src/processor/testdata/linux_divide_by_zero.dmp", "SIGFPE", "0x0000000000401f27"),
        ("breakpad/src/processor/testdata/linux_raise_sigabrt.dmp", "SIGABRT", "0x0004d14400005be6"),
        ("breakpad/src/processor/testdata/linux_overflow.dmp", "SIGABRT", "0x000003e8000039be"),
        ("breakpad/src/processor/testdata/linux_inline.dmp", "SIGILL / ILL_ILLOPN", "0x00000000002161b6"),
        // Crashpad's iOS NSException code 'CPnx' has no name in minidump-stackwalk either.
        (
            "breakpad/src/processor/testdata/minidump_crashpad_annotation.dmp", "unknown 0x43506e78 / 0x00000000",
            "0x00000001030e9c34"
        ),
        // The generated dumps: a write to NULL; README.md gives the faulting instruction 0x180001090.
        ("generated/dumps/x64-dll-inproc-cv.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x0000000000000000"),
        ("generated/dumps/x64-null-aedebug.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x0000000000000000"),
        ("generated/dumps/x64-null-aedebug-cv.dmp", "EXCEPTION_ACCESS_VIOLATION_WRITE", "0x0000000000000000"),
        // kdlibcpp EXPECTED.md: "breakpoint at 0xbf2872" and "breakpoint at 0x7ff66d9f29e9".
        (
            "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp", "EXCEPTION_BREAKPOINT",
            "0x00bf2872"
        ),
        (
            "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp",
            "EXCEPTION_BREAKPOINT", "0x00007ff66d9f29e9"
        ),
        ("kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp", "EXCEPTION_BREAKPOINT", "0x00007ff6191a2fc7"),
        // lldb TestMiniDump.py: the description contains 0xc0000005.
        ("lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp", "EXCEPTION_ACCESS_VIOLATION_READ", "0x00000000"),
        // lldb TestMiniDumpNew.py: a dump requested without a crash.
        (
            "lldb/packages/Python/lldbsuite/test/functionalities/postmortem/minidump-new/linux-x86_64_not_crashed.dmp",
            "DUMP_REQUESTED", "0x00007f6b5a9ebfc3"
        ),
        ("rust-minidump/testdata/invalid-parameter.dmp", "STATUS_INVALID_PARAMETER", "0x0000000000000000"),
        ("rust-minidump/testdata/simple-crashpad.dmp", "unknown 0x00000000 / 0x00000000", "0x00007fff6f41333a"),
        ("symbolic/py/tests/res/minidump/crash_macos.dmp", "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS", "0x0000000000000045"),
        ("symbolic/py/tests/res/minidump/crash_linux.dmp", "SIGSEGV", "0x0000000000000000"),
    ]

    @Test("reason and address", arguments: expectations)
    func expected(dump: String, reason: String, address: String) throws {
        let crash = try #require(try CrashReason(minidump: Fixtures.dump(dump)))
        #expect(crash.reason == reason)
        #expect(crash.formattedAddress == address)
    }

    @Test("invalid-parameter.dmp: the assertion stream rust-minidump's test asserts")
    func assertion() throws {
        var warnings = [String]()
        let info = CrashSummary(minidump: try Fixtures.dump("rust-minidump/testdata/invalid-parameter.dmp"), warnings: &warnings)
        #expect(warnings.isEmpty)
        let assertion = try #require(info.assertionInfo)
        #expect(assertion.expression == "format != nullptr")
        #expect(assertion.function == "common_vfprintf")
        #expect(assertion.file == #"minkernel\crts\ucrt\src\appcrt\stdio\output.cpp"#)
        #expect(assertion.line == 32)
        #expect(assertion.type == "InvalidParameter")
        #expect(
            info.assertion
                == #"Invalid parameter passed to library function format != nullptr in function common_vfprintf, in file minkernel\crts\ucrt\src\appcrt\stdio\output.cpp at line 32"#
        )
        #expect(info.type == "STATUS_INVALID_PARAMETER")
        #expect(info.exceptionCode == "0xc000000d")
    }

    @Test("every intact fixture minidump gets a reason, and only the known ones are unnamed")
    func sweep() throws {
        #expect(Fixtures.minidumps.count >= 50, "shared fixtures missing or incomplete")
        let unnamed: Set<String> = ["simple-crashpad.dmp", "minidump_crashpad_annotation.dmp"]
        var withException = 0
        for path in Fixtures.minidumps {
            let dump = try MinidumpFile(path: path)
            var warnings = [String]()
            let info = CrashSummary(minidump: dump, warnings: &warnings)
            #expect(warnings.isEmpty, "\(Fixtures.name(path)): \(warnings)")
            guard let type = info.type else { continue }
            withException += 1
            let file = URL(fileURLWithPath: path).lastPathComponent
            #expect(type.hasPrefix("unknown") == unnamed.contains(file), "\(Fixtures.name(path)): \(type)")
            #expect(info.address?.hasPrefix("0x") == true)
        }
        #expect(withException >= 50)
    }
}
