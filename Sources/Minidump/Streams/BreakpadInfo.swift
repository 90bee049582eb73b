import BinaryReading

/// `MDRawBreakpadInfo.validity`: which of the thread ids are meaningful.
public struct BreakpadInfoValidity: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MD_BREAKPAD_INFO_VALID_DUMP_THREAD_ID`.
    public static let dumpThreadId = BreakpadInfoValidity(rawValue: 0x1)
    /// `MD_BREAKPAD_INFO_VALID_REQUESTING_THREAD_ID`.
    public static let requestingThreadId = BreakpadInfoValidity(rawValue: 0x2)
}

/// Breakpad's `MDRawBreakpadInfo` (12 bytes): which thread wrote the dump and which asked for it.
public struct BreakpadInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.breakpadInfo

    /// `validity`.
    public var validity: BreakpadInfoValidity
    /// `dump_thread_id`: the thread that wrote the dump (its stack is the writer's, not the crash's).
    public var dumpThreadId: UInt32
    /// `requesting_thread_id`: the thread that crashed or asked for the dump.
    public var requestingThreadId: UInt32

    /// Size on disk.
    public static let size = 12

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        validity = BreakpadInfoValidity(rawValue: try reader.read(UInt32.self, "MDRawBreakpadInfo.validity"))
        dumpThreadId = try reader.read(UInt32.self, "MDRawBreakpadInfo.dump_thread_id")
        requestingThreadId = try reader.read(UInt32.self, "MDRawBreakpadInfo.requesting_thread_id")
    }

    /// The dump thread id when `validity` says it is set.
    public var validDumpThreadId: UInt32? { validity.contains(.dumpThreadId) ? dumpThreadId : nil }
    /// The requesting thread id when `validity` says it is set.
    public var validRequestingThreadId: UInt32? { validity.contains(.requestingThreadId) ? requestingThreadId : nil }
}

/// `MDRawAssertionInfo.type`; unknown values survive.
public struct AssertionType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MD_ASSERTION_INFO_TYPE_UNKNOWN`.
    public static let unknown = AssertionType(rawValue: 0)
    /// `MD_ASSERTION_INFO_TYPE_INVALID_PARAMETER`: the CRT's invalid-parameter handler.
    public static let invalidParameter = AssertionType(rawValue: 1)
    /// `MD_ASSERTION_INFO_TYPE_PURE_VIRTUAL_CALL`.
    public static let pureVirtualCall = AssertionType(rawValue: 2)

    public var description: String {
        switch self {
        case .unknown: return "Unknown"
        case .invalidParameter: return "InvalidParameter"
        case .pureVirtualCall: return "PureVirtualCall"
        default: return hex0x(rawValue)
        }
    }
}

/// Breakpad's `MDRawAssertionInfo` (776 bytes): a failed CRT assertion or invalid-parameter call.
public struct AssertionInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.assertionInfo

    /// `expression` (`uint16_t[128]` UTF-16), up to its first NUL.
    public var expression: String
    /// `function` (`uint16_t[128]`), up to its first NUL.
    public var function: String
    /// `file` (`uint16_t[128]`), up to its first NUL.
    public var file: String
    /// `line`.
    public var line: UInt32
    /// `type`.
    public var type: AssertionType

    /// Size on disk.
    public static let size = 776

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        expression = try reader.readBytes(256, "MDRawAssertionInfo.expression").fixedUTF16String(endianness: dump.endianness)
        function = try reader.readBytes(256, "MDRawAssertionInfo.function").fixedUTF16String(endianness: dump.endianness)
        file = try reader.readBytes(256, "MDRawAssertionInfo.file").fixedUTF16String(endianness: dump.endianness)
        line = try reader.read(UInt32.self, "MDRawAssertionInfo.line")
        type = AssertionType(rawValue: try reader.read(UInt32.self, "MDRawAssertionInfo.type"))
    }
}
