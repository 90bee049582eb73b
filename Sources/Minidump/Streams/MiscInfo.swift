import BinaryReading

/// `MINIDUMP_MISC_INFO.Flags1`: which groups of fields the writer filled in.
public struct MiscInfoFlags: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MINIDUMP_MISC1_PROCESS_ID`.
    public static let processId = MiscInfoFlags(rawValue: 0x1)
    /// `MINIDUMP_MISC1_PROCESS_TIMES`.
    public static let processTimes = MiscInfoFlags(rawValue: 0x2)
    /// `MINIDUMP_MISC1_PROCESSOR_POWER_INFO`.
    public static let processorPowerInfo = MiscInfoFlags(rawValue: 0x4)
    /// `MINIDUMP_MISC3_PROCESS_INTEGRITY`.
    public static let processIntegrity = MiscInfoFlags(rawValue: 0x10)
    /// `MINIDUMP_MISC3_PROCESS_EXECUTE_FLAGS`.
    public static let processExecuteFlags = MiscInfoFlags(rawValue: 0x20)
    /// `MINIDUMP_MISC3_TIMEZONE`.
    public static let timeZone = MiscInfoFlags(rawValue: 0x40)
    /// `MINIDUMP_MISC3_PROTECTED_PROCESS`.
    public static let protectedProcess = MiscInfoFlags(rawValue: 0x80)
    /// `MINIDUMP_MISC4_BUILDSTRING`.
    public static let buildString = MiscInfoFlags(rawValue: 0x100)
    /// `MINIDUMP_MISC5_PROCESS_COOKIE`.
    public static let processCookie = MiscInfoFlags(rawValue: 0x200)
}

/// `SYSTEMTIME` (16 bytes): a calendar date and time, or in a time zone a transition rule.
public struct SystemTime: Sendable, Equatable, Codable {
    /// `wYear`.
    public var year: UInt16
    /// `wMonth`.
    public var month: UInt16
    /// `wDayOfWeek`.
    public var dayOfWeek: UInt16
    /// `wDay`.
    public var day: UInt16
    /// `wHour`.
    public var hour: UInt16
    /// `wMinute`.
    public var minute: UInt16
    /// `wSecond`.
    public var second: UInt16
    /// `wMilliseconds`.
    public var milliseconds: UInt16

    /// Size on disk.
    public static let size = 16

    init(parsing reader: inout ByteReader, _ field: String) throws(ParseError) {
        let values = try reader.readArray(UInt16.self, count: 8, field)
        year = values[0]
        month = values[1]
        dayOfWeek = values[2]
        day = values[3]
        hour = values[4]
        minute = values[5]
        second = values[6]
        milliseconds = values[7]
    }
}

/// `TIME_ZONE_INFORMATION` (172 bytes): the machine's time zone when the dump was written.
public struct TimeZoneInformation: Sendable, Equatable, Codable {
    /// `Bias`: minutes to add to local time to get UTC.
    public var bias: Int32
    /// `StandardName` (`WCHAR[32]`), up to its first NUL.
    public var standardName: String
    /// `StandardDate`: when daylight saving time ends.
    public var standardDate: SystemTime
    /// `StandardBias`.
    public var standardBias: Int32
    /// `DaylightName` (`WCHAR[32]`), up to its first NUL.
    public var daylightName: String
    /// `DaylightDate`: when daylight saving time starts.
    public var daylightDate: SystemTime
    /// `DaylightBias`.
    public var daylightBias: Int32

    /// Size on disk.
    public static let size = 172

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "TIME_ZONE_INFORMATION"
        bias = try reader.read(Int32.self, field + ".Bias")
        standardName = try reader.readBytes(64, field + ".StandardName").fixedUTF16String(endianness: reader.endianness)
        standardDate = try SystemTime(parsing: &reader, field + ".StandardDate")
        standardBias = try reader.read(Int32.self, field + ".StandardBias")
        daylightName = try reader.readBytes(64, field + ".DaylightName").fixedUTF16String(endianness: reader.endianness)
        daylightDate = try SystemTime(parsing: &reader, field + ".DaylightDate")
        daylightBias = try reader.read(Int32.self, field + ".DaylightBias")
    }
}

/// `XSTATE_FEATURE` (8 bytes): where one extended processor state component sits in a context.
public struct XStateFeature: Sendable, Equatable, Codable {
    /// `Offset`.
    public var offset: UInt32
    /// `Size`.
    public var size: UInt32
}

/// `XSTATE_CONFIG_FEATURE_MSC_INFO` (528 bytes): the extended-state layout of the dumped contexts.
public struct XStateConfigFeatureInfo: Sendable, Equatable, Codable {
    /// `SizeOfInfo`.
    public var sizeOfInfo: UInt32
    /// `ContextSize`.
    public var contextSize: UInt32
    /// `EnabledFeatures`: one bit per entry of `features`.
    public var enabledFeatures: UInt64
    /// `Features[64]`, all 64 entries.
    public var features: [XStateFeature]

    /// Size on disk.
    public static let size = 528

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "XSTATE_CONFIG_FEATURE_MSC_INFO"
        sizeOfInfo = try reader.read(UInt32.self, field + ".SizeOfInfo")
        contextSize = try reader.read(UInt32.self, field + ".ContextSize")
        enabledFeatures = try reader.read(UInt64.self, field + ".EnabledFeatures")
        let words = try reader.readArray(UInt32.self, count: 128, field + ".Features")
        features = (0..<64).map { XStateFeature(offset: words[2 * $0], size: words[2 * $0 + 1]) }
    }

    /// The enabled features as (bit index, feature) pairs.
    public var enabled: [(index: Int, feature: XStateFeature)] {
        (0..<64).filter { enabledFeatures >> UInt64($0) & 1 == 1 }.map { ($0, features[$0]) }
    }
}

/// `MINIDUMP_MISC_INFO` (24 bytes) and its extensions `_2` (44), `_3` (232), `_4` (832) and `_5` (1364).
///
/// Each version appends fields to the previous one; `SizeOfInfo` says which version was
/// written. Fields of versions the writer did not reach are nil. Whether a present field
/// holds data is told by `flags1` (a writer may leave a group zeroed).
public struct MiscInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.miscInfo

    /// `SizeOfInfo`.
    public var sizeOfInfo: UInt32
    /// `Flags1`.
    public var flags1: MiscInfoFlags
    /// `ProcessId`.
    public var processId: UInt32
    /// `ProcessCreateTime`: seconds since 1970 (UTC).
    public var processCreateTime: UInt32
    /// `ProcessUserTime`: seconds.
    public var processUserTime: UInt32
    /// `ProcessKernelTime`: seconds.
    public var processKernelTime: UInt32

    /// `ProcessorMaxMhz` (version 2).
    public var processorMaxMhz: UInt32?
    /// `ProcessorCurrentMhz` (version 2).
    public var processorCurrentMhz: UInt32?
    /// `ProcessorMhzLimit` (version 2).
    public var processorMhzLimit: UInt32?
    /// `ProcessorMaxIdleState` (version 2).
    public var processorMaxIdleState: UInt32?
    /// `ProcessorCurrentIdleState` (version 2).
    public var processorCurrentIdleState: UInt32?

    /// `ProcessIntegrityLevel` (version 3).
    public var processIntegrityLevel: UInt32?
    /// `ProcessExecuteFlags` (version 3).
    public var processExecuteFlags: UInt32?
    /// `ProtectedProcess` (version 3).
    public var protectedProcess: UInt32?
    /// `TimeZoneId` (version 3): 0 unknown, 1 standard time, 2 daylight time.
    public var timeZoneId: UInt32?
    /// `TimeZone` (version 3).
    public var timeZone: TimeZoneInformation?

    /// `BuildString` (`WCHAR[260]`, version 4): the OS build, e.g. `19041.1.amd64fre.vb_release.191206-1406`.
    public var buildString: String?
    /// `DbgBldStr` (`WCHAR[40]`, version 4): the build of the dbghelp that wrote the dump.
    public var dbgBuildString: String?

    /// `XStateData` (version 5).
    public var xStateData: XStateConfigFeatureInfo?
    /// `ProcessCookie` (version 5).
    public var processCookie: UInt32?
    /// Problems that did not stop the stream from being read (a `SizeOfInfo` that disagrees with the stream).
    public var warnings: [String] = []

    /// Sizes of `MINIDUMP_MISC_INFO`, `_2`, `_3`, `_4` and `_5`, in version order.
    public static let versionSizes = [24, 44, 232, 832, 1364]

    /// The structure version read (1 to 5).
    public private(set) var version: Int = 1

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MINIDUMP_MISC_INFO"
        var reader = dump.reader(bytes)
        sizeOfInfo = try reader.read(UInt32.self, field + ".SizeOfInfo")
        // The version is chosen by SizeOfInfo; a size between two versions reads the smaller
        // one. When SizeOfInfo is impossible (below 24 or past the stream) the stream's own size
        // decides instead: lldb's yaml2obj-made regions-memlist64.dmp writes SizeOfInfo 0 in a
        // 24-byte stream, and lldb reads it.
        var size = Int(sizeOfInfo)
        if size < 24 || size > bytes.count {
            warnings.append(
                "MINIDUMP_MISC_INFO.SizeOfInfo \(sizeOfInfo) disagrees with the \(bytes.count)-byte stream; read by stream size")
            size = bytes.count
        }
        guard let index = Self.versionSizes.lastIndex(where: { $0 <= size }) else {
            throw ParseError(
                offset: bytes.fileOffset, field: field,
                kind: .truncated(needed: 24, available: Int64(bytes.count)))
        }
        version = index + 1
        flags1 = MiscInfoFlags(rawValue: try reader.read(UInt32.self, field + ".Flags1"))
        processId = try reader.read(UInt32.self, field + ".ProcessId")
        processCreateTime = try reader.read(UInt32.self, field + ".ProcessCreateTime")
        processUserTime = try reader.read(UInt32.self, field + ".ProcessUserTime")
        processKernelTime = try reader.read(UInt32.self, field + ".ProcessKernelTime")
        if size >= 44 {
            processorMaxMhz = try reader.read(UInt32.self, field + "_2.ProcessorMaxMhz")
            processorCurrentMhz = try reader.read(UInt32.self, field + "_2.ProcessorCurrentMhz")
            processorMhzLimit = try reader.read(UInt32.self, field + "_2.ProcessorMhzLimit")
            processorMaxIdleState = try reader.read(UInt32.self, field + "_2.ProcessorMaxIdleState")
            processorCurrentIdleState = try reader.read(UInt32.self, field + "_2.ProcessorCurrentIdleState")
        }
        if size >= 232 {
            processIntegrityLevel = try reader.read(UInt32.self, field + "_3.ProcessIntegrityLevel")
            processExecuteFlags = try reader.read(UInt32.self, field + "_3.ProcessExecuteFlags")
            protectedProcess = try reader.read(UInt32.self, field + "_3.ProtectedProcess")
            timeZoneId = try reader.read(UInt32.self, field + "_3.TimeZoneId")
            timeZone = try TimeZoneInformation(parsing: &reader)
        }
        if size >= 832 {
            buildString = try reader.readBytes(520, field + "_4.BuildString").fixedUTF16String(endianness: dump.endianness)
            dbgBuildString = try reader.readBytes(80, field + "_4.DbgBldStr").fixedUTF16String(endianness: dump.endianness)
        }
        if size >= 1364 {
            xStateData = try XStateConfigFeatureInfo(parsing: &reader)
            processCookie = try reader.read(UInt32.self, field + "_5.ProcessCookie")
        }
    }
}
