/// Windows kernel crash dumps (PAGEDUMP / PAGEDU64) and legacy full user-mode dumps (USERDUMP / USERDU64).
///
/// Entry points: `KernelDumpFile` (kernel dumps of every type, with `PhysicalMemory` for the
/// memory-carrying types and `TriageDump` for small dumps) and `UserDumpFile` (`.dump /f` user dumps).
public enum KernelDumpFormat {
    /// Size of a page in every dump type this target reads.
    public static let pageSize: UInt64 = 0x1000

    /// `'PAGE'`: the filler a dump writer leaves in header fields it never filled in.
    static let unfilled32: UInt32 = 0x4547_4150
    /// `'PAGEPAGE'`.
    static let unfilled64: UInt64 = 0x4547_4150_4547_4150

    /// `value`, or nil when it still reads `PAGE`.
    static func filled(_ value: UInt32) -> UInt32? { value == unfilled32 ? nil : value }
    /// `value`, or nil when it still reads `PAGEPAGE`.
    static func filled(_ value: UInt64) -> UInt64? { value == unfilled64 ? nil : value }

    /// The four ASCII characters of a little-endian signature, for error messages.
    static func fourCC(_ value: UInt32) -> String {
        let bytes = [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: value >> $0) }
        return String(decoding: bytes.map { (0x20...0x7e).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
    }
}

/// `IMAGE_FILE_MACHINE_*`: the processor a dump was written on.
public struct MachineType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `IMAGE_FILE_MACHINE_I386`.
    public static let x86 = MachineType(rawValue: 0x014C)
    /// `IMAGE_FILE_MACHINE_AMD64`.
    public static let amd64 = MachineType(rawValue: 0x8664)
    /// `IMAGE_FILE_MACHINE_ARM64`.
    public static let arm64 = MachineType(rawValue: 0xAA64)
    /// `IMAGE_FILE_MACHINE_ARMNT` (ARM Thumb-2, Windows on ARM32).
    public static let armNT = MachineType(rawValue: 0x01C4)
    /// `IMAGE_FILE_MACHINE_ARM`.
    public static let arm = MachineType(rawValue: 0x01C0)

    /// Pointer size in bytes, when the machine is known.
    public var pointerSize: Int? {
        switch self {
        case .x86, .armNT, .arm: 4
        case .amd64, .arm64: 8
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .x86: "x86"
        case .amd64: "amd64"
        case .arm64: "arm64"
        case .armNT: "arm"
        case .arm: "arm"
        default: "machine 0x" + String(rawValue, radix: 16)
        }
    }
}

/// `DUMP_TYPE`: what a kernel dump holds after its header.
public struct DumpType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `DUMP_TYPE_FULL`: physical memory described by the header's runs.
    public static let full = DumpType(rawValue: 1)
    /// `DUMP_TYPE_SUMMARY`: the older kernel summary dump (bitmap at the header's end).
    public static let kernel = DumpType(rawValue: 2)
    /// `DUMP_TYPE_HEADER`: header only.
    public static let headerOnly = DumpType(rawValue: 3)
    /// `DUMP_TYPE_TRIAGE`: a small (mini) dump with a `TRIAGE_DUMP` header.
    public static let small = DumpType(rawValue: 4)
    /// `DUMP_TYPE_BITMAP_FULL`: bitmap dump (`SDMP`/`FDMP` header after the dump header).
    public static let bitmap = DumpType(rawValue: 5)
    /// `DUMP_TYPE_BITMAP_KERNEL`: live kernel bitmap dump.
    public static let liveKernelBitmap = DumpType(rawValue: 6)
    /// `DUMP_TYPE_AUTOMATIC`.
    public static let automatic = DumpType(rawValue: 7)
    /// Kernel memory dump with an `RDMP` header.
    public static let kernelMemory = DumpType(rawValue: 8)
    /// Kernel and user memory dump with an `RDMP` header.
    public static let kernelAndUserMemory = DumpType(rawValue: 9)
    /// Complete memory dump with an `RDMP` header.
    public static let complete = DumpType(rawValue: 0xA)

    public var description: String {
        switch self {
        case .full: "full"
        case .kernel: "kernel summary"
        case .headerOnly: "header only"
        case .small: "small (triage)"
        case .bitmap: "bitmap"
        case .liveKernelBitmap: "live kernel bitmap"
        case .automatic: "automatic"
        case .kernelMemory: "kernel memory"
        case .kernelAndUserMemory: "kernel and user memory"
        case .complete: "complete memory"
        default: "dump type 0x" + String(rawValue, radix: 16)
        }
    }
}
