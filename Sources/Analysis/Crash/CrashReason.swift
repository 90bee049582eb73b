import BinaryReading
import Minidump

/// The operating-system family whose exception codes a dump uses.
public enum CrashPlatform: String, Sendable, Codable {
    /// NTSTATUS exception codes.
    case windows
    /// Signals with `si_code` (Linux and Android).
    case linux
    /// Mach exceptions (macOS and iOS).
    case apple
    /// Anything else: codes are shown raw.
    case other

    /// The family of a minidump's `SystemInfo.PlatformId`.
    public init(_ platform: PlatformID) {
        if platform.isWindows {
            self = .windows
        } else if platform == .linux || platform == .android {
            self = .linux
        } else if platform == .macOS || platform == .iOS {
            self = .apple
        } else {
            self = .other
        }
    }
}

/// Why the process crashed and at which address, named as minidump-stackwalk names them.
///
/// `reason` is minidump-stackwalk's "Crash reason" line and its JSON `crash_info.type`;
/// `address` is its "Crash address": the data address an access violation or in-page error
/// touched, else the exception address, cut to 32 bits on 32-bit CPUs.
public struct CrashReason: Sendable, Equatable, Codable {
    /// The reason, e.g. `EXCEPTION_ACCESS_VIOLATION_WRITE`, `SIGSEGV / SEGV_MAPERR`, `EXC_BAD_ACCESS / KERN_INVALID_ADDRESS`.
    public var reason: String
    /// The crash address.
    public var address: UInt64
    /// Pointer size in bytes (4 or 8) used to print `address`.
    public var pointerSize: Int
    /// `ExceptionCode` as recorded.
    public var exceptionCode: UInt32
    /// `ExceptionFlags` as recorded (the `si_code` or Mach code outside Windows).
    public var exceptionFlags: UInt32

    /// The address as `0x` and 8 or 16 hex digits, as minidump-stackwalk prints it.
    public var formattedAddress: String { hex0x(address, width: pointerSize * 2) }

    /// Names the exception `record` of a dump from `platform` running on `architecture`.
    public init(record: ExceptionRecord, platform: CrashPlatform, architecture: ProcessorArchitecture) {
        // The resource and guard codes of a Mach exception live in ExceptionInformation whatever
        // NumberParameters says, so the Apple names read all 15 values.
        self.init(
            code: record.exceptionCode, flags: record.exceptionFlags, address: record.exceptionAddress,
            parameters: platform == .apple ? record.exceptionInformation : record.parameters, platform: platform,
            architecture: architecture)
    }

    /// Names an exception from its raw fields: `ExceptionCode`, `ExceptionFlags`,
    /// `ExceptionAddress` and the meaningful `ExceptionInformation` values.
    public init(
        code: UInt32, flags: UInt32, address exceptionAddress: UInt64, parameters: [UInt64], platform: CrashPlatform,
        architecture: ProcessorArchitecture
    ) {
        exceptionCode = code
        exceptionFlags = flags
        // minidump-stackwalk prints addresses at 64 bits when it does not know the CPU.
        pointerSize = architecture.pointerSize ?? 8
        switch platform {
        case .windows:
            reason = Self.windowsReason(code: code, parameters: parameters)
        case .linux:
            reason = LinuxSignalNames.reason(signal: code, code: flags) ?? Self.unknown(code, flags)
        case .apple:
            reason =
                MachExceptionNames.reason(type: code, code: flags, parameters: parameters, cpu: Self.cpuFamily(architecture))
                ?? Self.unknown(code, flags)
        case .other:
            reason = Self.unknown(code, flags)
        }
        var address = exceptionAddress
        // Windows puts the data address of an access violation or in-page error in parameter 1.
        if platform == .windows, code == 0xC000_0005 || code == 0xC000_0006, parameters.count >= 2 {
            address = parameters[1]
        }
        // 32-bit writers sometimes leave garbage or a sign extension in the high half (Breakpad's
        // minidump_32bit_crash_addr.dmp stores 0xffffffff00000045 for 0x45).
        if pointerSize == 4 { address &= 0xFFFF_FFFF }
        self.address = address
    }

    /// Names the exception of `dump`, nil when the dump has no exception stream.
    ///
    /// Without a SystemInfo stream the codes cannot be interpreted and are shown raw.
    public init?(minidump dump: MinidumpFile) throws(ParseError) {
        guard let exception = try dump.stream(ExceptionStream.self) else { return nil }
        let system = try dump.stream(SystemInfo.self)
        self.init(
            record: exception.exceptionRecord, platform: system.map { CrashPlatform($0.platformId) } ?? .other,
            architecture: system?.processorArchitecture ?? .unknown)
    }

    /// minidump-stackwalk's fallback for codes it cannot name: `unknown 0x…code / 0x…flags`.
    static func unknown(_ code: UInt32, _ flags: UInt32) -> String {
        "unknown \(hex0x(code, width: 8)) / \(hex0x(flags, width: 8))"
    }

    static func cpuFamily(_ architecture: ProcessorArchitecture) -> MachExceptionNames.CPUFamily {
        switch architecture {
        case .x86, .x86OnWin64, .amd64: return .x86
        case .arm64, .arm64Old: return .arm64
        case .ppc, .ppc64: return .ppc
        default: return .other
        }
    }

    /// The Windows reason: a named exception code refined by its parameters where they say more.
    static func windowsReason(code: UInt32, parameters: [UInt64]) -> String {
        switch code {
        case 0xC000_0005:
            // Parameter 0 says what the instruction tried: 0 read, 1 write, 8 execute (DEP).
            if let first = parameters.first, let kind = WindowsExceptionNames.accessKinds[first] {
                return "EXCEPTION_ACCESS_VIOLATION_" + kind
            }
        case 0xC000_0006:
            // Same kinds as an access violation, and parameter 2 is the NTSTATUS of the failed paging I/O.
            if parameters.count >= 3, let kind = WindowsExceptionNames.accessKinds[parameters[0]] {
                return "EXCEPTION_IN_PAGE_ERROR_\(kind) / " + ntStatusText(parameters[2])
            }
        case 0xC000_0409:
            // __fastfail raises STATUS_STACK_BUFFER_OVERRUN with the FAST_FAIL_* code in parameter 0.
            if let first = parameters.first {
                let name = WindowsExceptionNames.fastFailCodes[first] ?? hex0x(first, width: 8)
                return "EXCEPTION_STACK_BUFFER_OVERRUN / " + name
            }
        default:
            break
        }
        if let name = WindowsExceptionNames.exceptionCodes[code] { return name }
        return WindowsExceptionNames.knownErrorName(code) ?? "unknown " + hex0x(code, width: 8)
    }

    static func ntStatusText(_ value: UInt64) -> String {
        if value <= UInt64(UInt32.max), let name = WindowsExceptionNames.ntStatus[UInt32(value)] { return name }
        return hex0x(value, width: 8)
    }
}
