import BinaryReading

/// `PROCESSOR_ARCHITECTURE_*` (and Breakpad's `MD_CPU_ARCHITECTURE_*` extensions).
public struct ProcessorArchitecture: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `PROCESSOR_ARCHITECTURE_INTEL` (0).
    public static let x86 = ProcessorArchitecture(rawValue: 0)
    /// `PROCESSOR_ARCHITECTURE_MIPS` (1).
    public static let mips = ProcessorArchitecture(rawValue: 1)
    /// `PROCESSOR_ARCHITECTURE_PPC` (3).
    public static let ppc = ProcessorArchitecture(rawValue: 3)
    /// `PROCESSOR_ARCHITECTURE_ARM` (5).
    public static let arm = ProcessorArchitecture(rawValue: 5)
    /// `PROCESSOR_ARCHITECTURE_IA64` (6).
    public static let ia64 = ProcessorArchitecture(rawValue: 6)
    /// `PROCESSOR_ARCHITECTURE_AMD64` (9).
    public static let amd64 = ProcessorArchitecture(rawValue: 9)
    /// `PROCESSOR_ARCHITECTURE_IA32_ON_WIN64` (10).
    public static let x86OnWin64 = ProcessorArchitecture(rawValue: 10)
    /// `PROCESSOR_ARCHITECTURE_ARM64` (12).
    public static let arm64 = ProcessorArchitecture(rawValue: 12)
    /// Breakpad `MD_CPU_ARCHITECTURE_SPARC` (0x8001).
    public static let sparc = ProcessorArchitecture(rawValue: 0x8001)
    /// Breakpad `MD_CPU_ARCHITECTURE_PPC64` (0x8002).
    public static let ppc64 = ProcessorArchitecture(rawValue: 0x8002)
    /// Breakpad `MD_CPU_ARCHITECTURE_ARM64_OLD` (0x8003), written by Breakpad before Windows had a value.
    public static let arm64Old = ProcessorArchitecture(rawValue: 0x8003)
    /// Breakpad `MD_CPU_ARCHITECTURE_MIPS64` (0x8004).
    public static let mips64 = ProcessorArchitecture(rawValue: 0x8004)
    /// Breakpad `MD_CPU_ARCHITECTURE_RISCV` (0x8005).
    public static let riscv = ProcessorArchitecture(rawValue: 0x8005)
    /// Breakpad `MD_CPU_ARCHITECTURE_RISCV64` (0x8006).
    public static let riscv64 = ProcessorArchitecture(rawValue: 0x8006)
    /// `PROCESSOR_ARCHITECTURE_UNKNOWN` (0xFFFF).
    public static let unknown = ProcessorArchitecture(rawValue: 0xFFFF)

    /// The name minidump-stackwalk uses (`x86`, `amd64`, `arm`, `arm64`, ...).
    public var description: String {
        switch self {
        case .x86, .x86OnWin64: return "x86"
        case .mips: return "mips"
        case .ppc: return "ppc"
        case .arm: return "arm"
        case .ia64: return "ia64"
        case .amd64: return "amd64"
        case .arm64, .arm64Old: return "arm64"
        case .sparc: return "sparc"
        case .ppc64: return "ppc64"
        case .mips64: return "mips64"
        case .riscv: return "riscv"
        case .riscv64: return "riscv64"
        default: return "unknown (0x\(String(rawValue, radix: 16)))"
        }
    }

    /// Pointer size in bytes, where known.
    public var pointerSize: Int? {
        switch self {
        case .x86, .x86OnWin64, .mips, .ppc, .arm, .sparc, .riscv: return 4
        case .amd64, .ia64, .arm64, .arm64Old, .ppc64, .mips64, .riscv64: return 8
        default: return nil
        }
    }
}

/// `VER_PLATFORM_*` (and Breakpad's `MD_OS_*` values for other systems).
public struct PlatformID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let win32s = PlatformID(rawValue: 0)
    public static let win32Windows = PlatformID(rawValue: 1)
    public static let win32NT = PlatformID(rawValue: 2)
    public static let win32CE = PlatformID(rawValue: 3)
    public static let unix = PlatformID(rawValue: 0x8000)
    public static let macOS = PlatformID(rawValue: 0x8101)
    public static let iOS = PlatformID(rawValue: 0x8102)
    public static let linux = PlatformID(rawValue: 0x8201)
    public static let solaris = PlatformID(rawValue: 0x8202)
    public static let android = PlatformID(rawValue: 0x8203)
    public static let ps3 = PlatformID(rawValue: 0x8204)
    public static let nacl = PlatformID(rawValue: 0x8205)
    public static let fuchsia = PlatformID(rawValue: 0x8206)

    /// The OS name minidump-stackwalk prints (`Windows NT`, `Linux`, `Mac OS X`, ...).
    public var description: String {
        switch self {
        case .win32s, .win32Windows, .win32NT, .win32CE: return "Windows NT"
        case .unix: return "Unix"
        case .macOS: return "Mac OS X"
        case .iOS: return "iOS"
        case .linux: return "Linux"
        case .solaris: return "Solaris"
        case .android: return "Android"
        case .ps3: return "PS3"
        case .nacl: return "NaCl"
        case .fuchsia: return "Fuchsia"
        default: return "unknown (0x\(String(rawValue, radix: 16)))"
        }
    }

    /// Whether the dump comes from Windows.
    public var isWindows: Bool { rawValue <= 3 }
}

/// The 24-byte `CPU_INFORMATION` union of `MINIDUMP_SYSTEM_INFO`.
public enum CPUInformation: Sendable, Equatable, Codable {
    /// `X86CpuInfo`: CPUID vendor (leaf 0), version and feature bits (leaf 1), AMD extended features.
    case x86(vendorID: String, versionInformation: UInt32, featureInformation: UInt32, amdExtendedCPUFeatures: UInt32)
    /// `OtherCpuInfo.ProcessorFeatures[2]`.
    case other(processorFeatures: [UInt64])
}

/// `MINIDUMP_SYSTEM_INFO` (56 bytes): CPU and operating system of the crashed machine.
public struct SystemInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.systemInfo
    /// `ProcessorArchitecture`.
    public var processorArchitecture: ProcessorArchitecture
    /// `ProcessorLevel`: the CPU family on x86.
    public var processorLevel: UInt16
    /// `ProcessorRevision`: model (high byte) and stepping (low byte) on x86.
    public var processorRevision: UInt16
    /// `NumberOfProcessors`.
    public var numberOfProcessors: UInt8
    /// `ProductType`: 1 workstation, 2 domain controller, 3 server.
    public var productType: UInt8
    /// `MajorVersion`.
    public var majorVersion: UInt32
    /// `MinorVersion`.
    public var minorVersion: UInt32
    /// `BuildNumber`.
    public var buildNumber: UInt32
    /// `PlatformId`.
    public var platformId: PlatformID
    /// `CSDVersionRva`.
    public var csdVersionRva: UInt32
    /// `SuiteMask`.
    public var suiteMask: UInt16
    /// `Reserved2`.
    public var reserved2: UInt16
    /// `Cpu`.
    public var cpu: CPUInformation
    /// The service pack or, on Linux/macOS, the kernel build string (`CSDVersionRva` resolved).
    public var csdVersion: String?

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        let field = "MINIDUMP_SYSTEM_INFO"
        processorArchitecture = ProcessorArchitecture(rawValue: try reader.read(UInt16.self, field + ".ProcessorArchitecture"))
        processorLevel = try reader.read(UInt16.self, field + ".ProcessorLevel")
        processorRevision = try reader.read(UInt16.self, field + ".ProcessorRevision")
        numberOfProcessors = try reader.read(UInt8.self, field + ".NumberOfProcessors")
        productType = try reader.read(UInt8.self, field + ".ProductType")
        majorVersion = try reader.read(UInt32.self, field + ".MajorVersion")
        minorVersion = try reader.read(UInt32.self, field + ".MinorVersion")
        buildNumber = try reader.read(UInt32.self, field + ".BuildNumber")
        platformId = PlatformID(rawValue: try reader.read(UInt32.self, field + ".PlatformId"))
        csdVersionRva = try reader.read(UInt32.self, field + ".CSDVersionRva")
        suiteMask = try reader.read(UInt16.self, field + ".SuiteMask")
        reserved2 = try reader.read(UInt16.self, field + ".Reserved2")
        let cpuBytes = try reader.readBytes(24, field + ".Cpu")
        if processorArchitecture == .x86 || processorArchitecture == .x86OnWin64 || processorArchitecture == .amd64 {
            // The vendor id is three CPUID registers in EBX, EDX, ECX order, each little-endian.
            var cpuReader = dump.reader(cpuBytes)
            let words = try cpuReader.readArray(UInt32.self, count: 6, field + ".Cpu.X86CpuInfo")
            var vendorBytes = [UInt8]()
            for word in words[0..<3] {
                vendorBytes += [UInt8(word & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word >> 16 & 0xFF), UInt8(word >> 24)]
            }
            let vendor = String(decoding: vendorBytes.prefix { $0 != 0 }, as: UTF8.self)
            cpu = .x86(
                vendorID: vendor, versionInformation: words[3], featureInformation: words[4], amdExtendedCPUFeatures: words[5])
        } else {
            var cpuReader = dump.reader(cpuBytes)
            cpu = .other(processorFeatures: try cpuReader.readArray(UInt64.self, count: 2, field + ".Cpu.OtherCpuInfo"))
        }
        csdVersion = csdVersionRva == 0 ? nil : try? dump.string(at: csdVersionRva, field: field + ".CSDVersionRva")
    }

    /// The OS version as `major.minor.build`.
    public var osVersion: String { "\(majorVersion).\(minorVersion).\(buildNumber)" }

    /// The CPU description Breakpad prints: `GenuineIntel family 6 model 13 stepping 8` on x86.
    public var cpuDescription: String {
        switch cpu {
        case .x86(let vendor, _, _, _):
            let family = processorLevel
            let model = processorRevision >> 8
            let stepping = processorRevision & 0xFF
            return (vendor.isEmpty ? "" : vendor + " ") + "family \(family) model \(model) stepping \(stepping)"
        case .other:
            return ""
        }
    }
}
