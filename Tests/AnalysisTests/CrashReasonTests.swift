import Analysis
import Minidump
import TestSupport
import Testing

/// The raw fields of an exception record.
struct RawRecord {
    var code: UInt32
    var flags: UInt32
    var address: UInt64
    var parameters: [UInt64]
}

/// A record with the given code, flags, address and parameters.
func record(_ code: UInt32, flags: UInt32 = 0, address: UInt64 = 0x1000, _ parameters: [UInt64] = []) -> RawRecord {
    RawRecord(code: code, flags: flags, address: address, parameters: parameters)
}

extension CrashReason {
    init(record: RawRecord, platform: CrashPlatform, architecture: ProcessorArchitecture) {
        self.init(
            code: record.code, flags: record.flags, address: record.address, parameters: record.parameters,
            platform: platform, architecture: architecture)
    }
}

@Suite("CrashReason: Windows exception codes", .ownThread)
struct WindowsCrashReasonTests {
    static let cases: [(code: UInt32, parameters: [UInt64], reason: String)] = [
        (0xC000_0005, [0, 0x10], "EXCEPTION_ACCESS_VIOLATION_READ"),
        (0xC000_0005, [1, 0x45], "EXCEPTION_ACCESS_VIOLATION_WRITE"),
        (0xC000_0005, [8, 0x3DF944], "EXCEPTION_ACCESS_VIOLATION_EXEC"),
        // A kind Windows does not define, or no parameters at all: the plain name.
        (0xC000_0005, [2, 0], "EXCEPTION_ACCESS_VIOLATION"),
        (0xC000_0005, [], "EXCEPTION_ACCESS_VIOLATION"),
        (0xC000_0006, [0, 0x7000, 0xC000_00B5], "EXCEPTION_IN_PAGE_ERROR_READ / STATUS_IO_TIMEOUT"),
        (0xC000_0006, [8, 0x7000, 0xC000_009C], "EXCEPTION_IN_PAGE_ERROR_EXEC / STATUS_DEVICE_DATA_ERROR"),
        (0xC000_0006, [1, 0x7000, 0xC0DE_0001], "EXCEPTION_IN_PAGE_ERROR_WRITE / 0xc0de0001"),
        (0xC000_0006, [0, 0x7000], "EXCEPTION_IN_PAGE_ERROR"),
        (0xC000_0409, [7], "EXCEPTION_STACK_BUFFER_OVERRUN / FAST_FAIL_FATAL_APP_EXIT"),
        (0xC000_0409, [2], "EXCEPTION_STACK_BUFFER_OVERRUN / FAST_FAIL_STACK_COOKIE_CHECK_FAILURE"),
        (0xC000_0409, [0], "EXCEPTION_STACK_BUFFER_OVERRUN / FAST_FAIL_LEGACY_GS_VIOLATION"),
        (0xC000_0409, [28], "EXCEPTION_STACK_BUFFER_OVERRUN / FAST_FAIL_INVALID_BUFFER_ACCESS"),
        (0xC000_0409, [0x99], "EXCEPTION_STACK_BUFFER_OVERRUN / 0x00000099"),
        (0xC000_0409, [], "STATUS_STACK_BUFFER_OVERRUN"),
        (0xC000_00FD, [0, 0x102000], "EXCEPTION_STACK_OVERFLOW"),
        (0x8000_0003, [0], "EXCEPTION_BREAKPOINT"),
        (0x8000_0001, [], "EXCEPTION_GUARD_PAGE"),
        (0x8000_0002, [], "EXCEPTION_DATATYPE_MISALIGNMENT"),
        (0x8000_0004, [], "EXCEPTION_SINGLE_STEP"),
        (0xC000_001D, [], "EXCEPTION_ILLEGAL_INSTRUCTION"),
        (0xC000_0094, [], "EXCEPTION_INT_DIVIDE_BY_ZERO"),
        (0xC000_0096, [], "EXCEPTION_PRIV_INSTRUCTION"),
        (0xC000_0374, [], "STATUS_HEAP_CORRUPTION"),
        (0xC000_0602, [], "STATUS_FAIL_FAST_EXCEPTION"),
        (0xC000_000D, [], "STATUS_INVALID_PARAMETER"),
        (0xC000_0417, [], "STATUS_INVALID_CRUNTIME_PARAMETER"),
        (0x4000_0015, [], "STATUS_FATAL_APP_EXIT"),
        (0xC000_0420, [], "STATUS_ASSERTION_FAILURE"),
        (0xC000_0135, [], "STATUS_DLL_NOT_FOUND"),
        (0xE06D_7363, [0x1993_0520, 0, 0], "Unhandled C++ Exception"),
        (0xE000_0008, [], "Out of Memory"),
        (0x0517_A7ED, [], "Simulated Exception"),
        (0xE043_4352, [], "MANAGED_EXCEPTION_CODE_V4"),
        // The delay-load helper: FACILITY_VISUALCPP with a Win32 error in the low word.
        (0xC06D_007E, [], "FACILITY_VISUALCPP / ERROR_MOD_NOT_FOUND"),
        (0xC06D_007F, [], "FACILITY_VISUALCPP / ERROR_PROC_NOT_FOUND"),
        // Win32 errors come before NTSTATUS, as in minidump-stackwalk.
        (5, [], "ERROR_ACCESS_DENIED"),
        (0x1234_5678, [], "unknown 0x12345678"),
    ]

    @Test("reason", arguments: cases)
    func reason(code: UInt32, parameters: [UInt64], reason: String) {
        let crash = CrashReason(record: record(code, parameters), platform: .windows, architecture: .amd64)
        #expect(crash.reason == reason)
    }

    @Test("access violations and in-page errors report parameter 1; others the exception address")
    func address() {
        let av = CrashReason(record: record(0xC000_0005, address: 0x40_429E, [1, 0x45]), platform: .windows, architecture: .x86)
        #expect(av.address == 0x45)
        #expect(av.formattedAddress == "0x00000045")
        let inPage = CrashReason(
            record: record(0xC000_0006, address: 0x40_429E, [0, 0x7FF0_0000_1000, 0xC000_0185]), platform: .windows,
            architecture: .amd64)
        #expect(inPage.address == 0x7FF0_0000_1000)
        #expect(inPage.formattedAddress == "0x00007ff000001000")
        let overflow = CrashReason(
            record: record(0xC000_00FD, address: 0xDE_A637, [0, 0x102000]), platform: .windows, architecture: .x86)
        #expect(overflow.address == 0xDE_A637)
        // One parameter is not enough to hold an address.
        let short = CrashReason(record: record(0xC000_0005, address: 0x1234, [1]), platform: .windows, architecture: .amd64)
        #expect(short.address == 0x1234)
    }

    @Test("32-bit CPUs drop the high half (Breakpad's minidump_32bit_crash_addr.dmp)")
    func truncation() {
        let crash = CrashReason(
            record: record(0xC000_0005, address: 0xFFFF_FFFF_0040_429E, [1, 0xFFFF_FFFF_0000_0045]), platform: .windows,
            architecture: .x86)
        #expect(crash.address == 0x45)
        let arm = CrashReason(record: record(11, flags: 1, address: 0xFFFF_FFFF_8000_0000), platform: .linux, architecture: .arm)
        #expect(arm.formattedAddress == "0x80000000")
        let wide = CrashReason(
            record: record(11, flags: 1, address: 0xFFFF_FFFF_8000_0000), platform: .linux, architecture: .arm64)
        #expect(wide.formattedAddress == "0xffffffff80000000")
    }

    @Test("Win32 error names for last_error_value, falling back to NTSTATUS")
    func errorNames() {
        #expect(WindowsExceptionNames.errorName(0) == "ERROR_SUCCESS")
        #expect(WindowsExceptionNames.errorName(2) == "ERROR_FILE_NOT_FOUND")
        #expect(WindowsExceptionNames.errorName(87) == "ERROR_INVALID_PARAMETER")
        #expect(WindowsExceptionNames.errorName(1400) == "ERROR_INVALID_WINDOW_HANDLE")
        // WAIT_TIMEOUT is not an ERROR_ name; the value is also STATUS_TIMEOUT, which minidump-stackwalk shows.
        #expect(WindowsExceptionNames.errorName(258) == "STATUS_TIMEOUT")
        #expect(WindowsExceptionNames.errorName(0xC000_0022) == "STATUS_ACCESS_DENIED")
        #expect(WindowsExceptionNames.errorName(0xDEAD_BEEF) == "unknown 0xdeadbeef")
    }

    @Test("table spellings: macro-style names, no name used twice")
    func tables() {
        for (value, name) in WindowsExceptionNames.ntStatus {
            #expect(name.hasPrefix("STATUS_") || name.hasPrefix("DBG_") || name.hasPrefix("RPC_NT_"), "\(value)")
            #expect(name.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }, "\(name)")
        }
        // Severity bits: success and informational values below 0x80000000, warnings 0x8…, errors 0xC….
        for (value, name) in WindowsExceptionNames.ntStatus where name.hasPrefix("STATUS_") {
            if value >= 0xC000_0000 { #expect(value >> 30 == 3, "\(name)") }
        }
        #expect(Set(WindowsExceptionNames.ntStatus.values).count == WindowsExceptionNames.ntStatus.count)
        #expect(Set(Win32ErrorNames.names.values).count == Win32ErrorNames.names.count)
        #expect(Set(WindowsExceptionNames.fastFailCodes.values).count == WindowsExceptionNames.fastFailCodes.count)
        #expect(WindowsExceptionNames.fastFailCodes.values.allSatisfy { $0.hasPrefix("FAST_FAIL_") })
        #expect(Win32ErrorNames.names.values.allSatisfy { $0.hasPrefix("ERROR_") || $0.hasPrefix("RPC_") })
        #expect(WindowsExceptionNames.ntStatus.count >= 200)
        #expect(Win32ErrorNames.names.count >= 150)
        // Every EXCEPTION_* code is also an NTSTATUS with the STATUS_ spelling.
        for (value, name) in WindowsExceptionNames.exceptionCodes where name.hasPrefix("EXCEPTION_") {
            #expect(WindowsExceptionNames.ntStatus[value] != nil, "\(name)")
        }
    }
}

@Suite("CrashReason: Linux signals", .ownThread)
struct LinuxCrashReasonTests {
    static let cases: [(signal: UInt32, code: UInt32, reason: String)] = [
        (11, 1, "SIGSEGV / SEGV_MAPERR"),
        (11, 2, "SIGSEGV / SEGV_ACCERR"),
        (11, 4, "SIGSEGV / SEGV_PKUERR"),
        // SI_USER (0) is left out, as in rust-minidump's linux-mini.dmp snapshot ("Crash reason:  SIGSEGV").
        (11, 0, "SIGSEGV"),
        (11, 0x80, "SIGSEGV / SI_KERNEL"),
        (11, 99, "SIGSEGV / 0x00000063"),
        (7, 1, "SIGBUS / BUS_ADRALN"),
        (7, 2, "SIGBUS / BUS_ADRERR"),
        (7, 0x80, "SIGBUS / SI_KERNEL"),
        (8, 1, "SIGFPE / FPE_INTDIV"),
        (8, 6, "SIGFPE / FPE_FLTRES"),
        (8, 0, "SIGFPE"),
        (4, 1, "SIGILL / ILL_ILLOPC"),
        (4, 2, "SIGILL / ILL_ILLOPN"),
        (5, 1, "SIGTRAP / TRAP_BRKPT"),
        (5, 0x80, "SIGTRAP / SI_KERNEL"),
        (6, 0, "SIGABRT"),
        // Negative si_codes arrive as large unsigned flags.
        (6, 0xFFFF_FFFA, "SIGABRT / SI_TKILL"),
        (6, 0xFFFF_FFFF, "SIGABRT / SI_QUEUE"),
        (6, 0xFFFF_FFFE, "SIGABRT / SI_TIMER"),
        (6, 0xFFFF_FFC4, "SIGABRT / SI_ASYNCNL"),
        (31, 1, "SIGSYS / SYS_SECCOMP"),
        (9, 0, "SIGKILL"),
        (13, 0, "SIGPIPE"),
        (0xFFFF_FFFF, 0, "DUMP_REQUESTED"),
        (99, 3, "unknown 0x00000063 / 0x00000003"),
    ]

    @Test("reason", arguments: cases)
    func reason(signal: UInt32, code: UInt32, reason: String) {
        let crash = CrashReason(record: record(signal, flags: code), platform: .linux, architecture: .amd64)
        #expect(crash.reason == reason)
    }

    @Test("the crash address is the exception address (si_addr)")
    func address() {
        let crash = CrashReason(record: record(11, address: 0x45, [1, 2]), platform: .linux, architecture: .amd64)
        #expect(crash.address == 0x45)
        #expect(crash.formattedAddress == "0x0000000000000045")
    }

    @Test("Android dumps use the Linux names")
    func android() {
        #expect(CrashPlatform(.android) == .linux)
        #expect(CrashPlatform(.linux) == .linux)
        #expect(CrashPlatform(.win32NT) == .windows)
        #expect(CrashPlatform(.macOS) == .apple)
        #expect(CrashPlatform(.iOS) == .apple)
        #expect(CrashPlatform(.fuchsia) == .other)
    }
}

@Suite("CrashReason: Mach exceptions", .ownThread)
struct MachCrashReasonTests {
    static let cases: [(type: UInt32, code: UInt32, architecture: ProcessorArchitecture, reason: String)] = [
        (1, 1, .amd64, "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"),
        (1, 2, .arm64, "EXC_BAD_ACCESS / KERN_PROTECTION_FAILURE"),
        (1, 50, .arm64, "EXC_BAD_ACCESS / KERN_CODESIGN_ERROR"),
        (1, 13, .amd64, "EXC_BAD_ACCESS / EXC_I386_GPFLT"),
        (1, 0x101, .arm64, "EXC_BAD_ACCESS / EXC_ARM_DA_ALIGN"),
        (1, 0x101, .amd64, "EXC_BAD_ACCESS / 0x00000101"),
        (2, 1, .amd64, "EXC_BAD_INSTRUCTION / EXC_I386_INVOP"),
        (2, 1, .arm64, "EXC_BAD_INSTRUCTION / EXC_ARM_UNDEFINED"),
        (2, 3, .ppc, "EXC_BAD_INSTRUCTION / EXC_PPC_PRIVINST"),
        (3, 1, .amd64, "EXC_ARITHMETIC / EXC_I386_DIV"),
        (3, 2, .arm64, "EXC_ARITHMETIC / EXC_ARM_FP_DZ"),
        (5, 0x1_0002, .amd64, "EXC_SOFTWARE / SIGABRT"),
        (5, 0xDEAD_C0DE, .arm64, "EXC_SOFTWARE / UNCAUGHT_NS_EXCEPTION"),
        (6, 1, .amd64, "EXC_BREAKPOINT / EXC_I386_SGL"),
        (6, 2, .amd64, "EXC_BREAKPOINT / EXC_I386_BPT"),
        (6, 1, .arm64, "EXC_BREAKPOINT / EXC_ARM_BREAKPOINT"),
        (10, 0, .arm64, "EXC_CRASH / 0x00000000"),
        (0x4350_7378, 0, .amd64, "Simulated Exception"),
        (0, 0, .amd64, "unknown 0x00000000 / 0x00000000"),
    ]

    @Test("reason", arguments: cases)
    func reason(type: UInt32, code: UInt32, architecture: ProcessorArchitecture, reason: String) {
        let crash = CrashReason(record: record(type, flags: code), platform: .apple, architecture: architecture)
        #expect(crash.reason == reason)
    }

    @Test("EXC_RESOURCE and EXC_GUARD decode the packed codes")
    func resourceAndGuard() {
        // Memory limit: kind 3 in the top bits of the first code, flavor 1, 500 MiB.
        let memory = record(11, flags: 3 << 29, [0, 1 << 58 | 500, 0])
        #expect(
            CrashReason(record: memory, platform: .apple, architecture: .arm64).reason
                == "EXC_RESOURCE / RESOURCE_TYPE_MEMORY / FLAVOR_HIGH_WATERMARK high watermark limit: 500MiB")
        let cpu = record(11, flags: 1 << 29, [0, 2 << 58 | 180 << 7 | 5, 7])
        #expect(
            CrashReason(record: cpu, platform: .apple, architecture: .arm64).reason
                == "EXC_RESOURCE / RESOURCE_TYPE_CPU / FLAVOR_CPU_MONITOR_FATAL interval: 180s CPU limit: 5% CPU consumed: 7%")
        let unknownFlavor = record(11, flags: 3 << 29, [0, 7 << 58, 9])
        #expect(
            CrashReason(record: unknownFlavor, platform: .apple, architecture: .arm64).reason
                == "EXC_RESOURCE / RESOURCE_TYPE_MEMORY / 0x1c00000000000000 / 0x0000000000000009")
        let fd = record(12, flags: 2 << 29, [0, 1 << 32 | 7, 0xABC])
        #expect(
            CrashReason(record: fd, platform: .apple, architecture: .amd64).reason
                == "EXC_GUARD / GUARD_TYPE_FD / GUARD_EXC_CLOSE file descriptor: 7 guard identifier: 2748")
        let port = record(12, flags: 1 << 29, [0, 0x10 << 32 | 0x1503, 42])
        #expect(
            CrashReason(record: port, platform: .apple, architecture: .amd64).reason
                == "EXC_GUARD / GUARD_TYPE_MACH_PORT / GUARD_EXC_INCORRECT_GUARD port name: 5379 guard identifier: 42")
        let none = record(12, flags: 0, [0, 0, 0])
        #expect(CrashReason(record: none, platform: .apple, architecture: .amd64).reason == "EXC_GUARD / GUARD_TYPE_NONE")
    }

    @Test("codes of an unknown platform are shown raw")
    func otherPlatform() {
        let crash = CrashReason(record: record(0xC000_0005, flags: 1, [1, 0x45]), platform: .other, architecture: .unknown)
        #expect(crash.reason == "unknown 0xc0000005 / 0x00000001")
        #expect(crash.formattedAddress == "0x0000000000001000")
    }
}

@Suite("CrashAssertion", .ownThread)
struct CrashAssertionTests {
    @Test("Breakpad's sentence: kind, expression, function, file, line")
    func description() {
        var assertion = CrashAssertion(
            expression: "format != nullptr", function: "common_vfprintf", file: "output.cpp", line: 32, rawType: 1)
        #expect(
            assertion.description
                == "Invalid parameter passed to library function format != nullptr in function common_vfprintf, in file output.cpp at line 32"
        )
        assertion = CrashAssertion(expression: "", function: "", file: "", line: 0, rawType: 2)
        #expect(assertion.description == "Pure virtual function called")
        assertion = CrashAssertion(expression: "x", function: "", file: "a.c", line: 0, rawType: 9)
        #expect(assertion.description == "Unknown assertion type 0x00000009 x, in file a.c")
    }
}
