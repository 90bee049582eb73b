/// A `MINIDUMP_STREAM_TYPE` value; unknown values survive a round trip.
public struct StreamType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `ThreadListStream` (3).
    public static let threadList = StreamType(rawValue: 3)
    /// `ModuleListStream` (4).
    public static let moduleList = StreamType(rawValue: 4)
    /// `MemoryListStream` (5).
    public static let memoryList = StreamType(rawValue: 5)
    /// `ExceptionStream` (6).
    public static let exception = StreamType(rawValue: 6)
    /// `SystemInfoStream` (7).
    public static let systemInfo = StreamType(rawValue: 7)
    /// `ThreadExListStream` (8).
    public static let threadExList = StreamType(rawValue: 8)
    /// `Memory64ListStream` (9).
    public static let memory64List = StreamType(rawValue: 9)
    /// `CommentStreamA` (10).
    public static let commentA = StreamType(rawValue: 10)
    /// `CommentStreamW` (11).
    public static let commentW = StreamType(rawValue: 11)
    /// `HandleDataStream` (12).
    public static let handleData = StreamType(rawValue: 12)
    /// `FunctionTableStream` (13).
    public static let functionTable = StreamType(rawValue: 13)
    /// `UnloadedModuleListStream` (14).
    public static let unloadedModuleList = StreamType(rawValue: 14)
    /// `MiscInfoStream` (15).
    public static let miscInfo = StreamType(rawValue: 15)
    /// `MemoryInfoListStream` (16).
    public static let memoryInfoList = StreamType(rawValue: 16)
    /// `ThreadInfoListStream` (17).
    public static let threadInfoList = StreamType(rawValue: 17)
    /// `HandleOperationListStream` (18).
    public static let handleOperationList = StreamType(rawValue: 18)
    /// `TokenStream` (19).
    public static let token = StreamType(rawValue: 19)
    /// `JavaScriptDataStream` (20).
    public static let javaScriptData = StreamType(rawValue: 20)
    /// `SystemMemoryInfoStream` (21).
    public static let systemMemoryInfo = StreamType(rawValue: 21)
    /// `ProcessVmCountersStream` (22).
    public static let processVmCounters = StreamType(rawValue: 22)
    /// `IptTraceStream` (23).
    public static let iptTrace = StreamType(rawValue: 23)
    /// `ThreadNamesStream` (24).
    public static let threadNames = StreamType(rawValue: 24)

    /// Breakpad `MD_BREAKPAD_INFO_STREAM` (0x47670001).
    public static let breakpadInfo = StreamType(rawValue: 0x4767_0001)
    /// Breakpad `MD_ASSERTION_INFO_STREAM` (0x47670002).
    public static let assertionInfo = StreamType(rawValue: 0x4767_0002)
    /// Breakpad `MD_LINUX_CPU_INFO` (0x47670003): /proc/cpuinfo.
    public static let linuxCpuInfo = StreamType(rawValue: 0x4767_0003)
    /// Breakpad `MD_LINUX_PROC_STATUS` (0x47670004): /proc/self/status.
    public static let linuxProcStatus = StreamType(rawValue: 0x4767_0004)
    /// Breakpad `MD_LINUX_LSB_RELEASE` (0x47670005): /etc/lsb-release.
    public static let linuxLsbRelease = StreamType(rawValue: 0x4767_0005)
    /// Breakpad `MD_LINUX_CMD_LINE` (0x47670006): /proc/self/cmdline.
    public static let linuxCmdLine = StreamType(rawValue: 0x4767_0006)
    /// Breakpad `MD_LINUX_ENVIRON` (0x47670007): /proc/self/environ.
    public static let linuxEnviron = StreamType(rawValue: 0x4767_0007)
    /// Breakpad `MD_LINUX_AUXV` (0x47670008): /proc/self/auxv.
    public static let linuxAuxv = StreamType(rawValue: 0x4767_0008)
    /// Breakpad `MD_LINUX_MAPS` (0x47670009): /proc/self/maps.
    public static let linuxMaps = StreamType(rawValue: 0x4767_0009)
    /// Breakpad `MD_LINUX_DSO_DEBUG` (0x4767000A): the dynamic linker's r_debug and link maps.
    public static let linuxDsoDebug = StreamType(rawValue: 0x4767_000A)
    /// Crashpad `kMinidumpStreamTypeCrashpadInfo` (0x43500001).
    public static let crashpadInfo = StreamType(rawValue: 0x4350_0001)
    /// Mozilla `MOZ_MACOS_CRASH_INFO_STREAM` (0x4D7A0001).
    public static let macCrashInfo = StreamType(rawValue: 0x4D7A_0001)
    /// Mozilla `MOZ_LINUX_LIMITS` (0x4D7A0003).
    public static let linuxLimits = StreamType(rawValue: 0x4D7A_0003)
    /// Mozilla `MOZ_SOFT_ERRORS` (0x4D7A0005).
    public static let softErrors = StreamType(rawValue: 0x4D7A_0005)

    /// The C name of the stream type, or `0x…` for an unknown value.
    public var name: String {
        switch rawValue {
        case 0: return "UnusedStream"
        case 1: return "ReservedStream0"
        case 2: return "ReservedStream1"
        case 3: return "ThreadListStream"
        case 4: return "ModuleListStream"
        case 5: return "MemoryListStream"
        case 6: return "ExceptionStream"
        case 7: return "SystemInfoStream"
        case 8: return "ThreadExListStream"
        case 9: return "Memory64ListStream"
        case 10: return "CommentStreamA"
        case 11: return "CommentStreamW"
        case 12: return "HandleDataStream"
        case 13: return "FunctionTableStream"
        case 14: return "UnloadedModuleListStream"
        case 15: return "MiscInfoStream"
        case 16: return "MemoryInfoListStream"
        case 17: return "ThreadInfoListStream"
        case 18: return "HandleOperationListStream"
        case 19: return "TokenStream"
        case 20: return "JavaScriptDataStream"
        case 21: return "SystemMemoryInfoStream"
        case 22: return "ProcessVmCountersStream"
        case 23: return "IptTraceStream"
        case 24: return "ThreadNamesStream"
        case 0x8000: return "ceStreamNull"
        case 0x8001...0x800A: return "ceStream(0x\(String(rawValue, radix: 16)))"
        case 0xFFFF: return "LastReservedStream"
        case 0x4767_0001: return "BreakpadInfoStream"
        case 0x4767_0002: return "AssertionInfoStream"
        case 0x4767_0003: return "LinuxCpuInfo"
        case 0x4767_0004: return "LinuxProcStatus"
        case 0x4767_0005: return "LinuxLsbRelease"
        case 0x4767_0006: return "LinuxCmdLine"
        case 0x4767_0007: return "LinuxEnviron"
        case 0x4767_0008: return "LinuxAuxv"
        case 0x4767_0009: return "LinuxMaps"
        case 0x4767_000A: return "LinuxDsoDebug"
        case 0x4350_0001: return "CrashpadInfoStream"
        case 0x4D7A_0001: return "MozMacosCrashInfoStream"
        case 0x4D7A_0002: return "MozMacosBootargsStream"
        case 0x4D7A_0003: return "MozLinuxLimits"
        case 0x4D7A_0004: return "MozLinuxPsi"
        case 0x4D7A_0005: return "MozSoftErrors"
        default: return "0x" + String(rawValue, radix: 16, uppercase: false)
        }
    }

    public var description: String { name }
}
