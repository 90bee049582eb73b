import BinaryReading

/// One record of Mozilla's Mac crash info stream: macOS's `crashreporter_annotations_t` from a
/// module's `__DATA,__crash_info` section, with its string pointers replaced by the strings.
///
/// The fixed part is `stream_type` and `version` (u64 each), then from version 4 `thread` and
/// `dialog_mode`, from version 5 `abort_cause`. The strings follow at `record_start_size`,
/// NUL-terminated, in the order module path, message, signature string, backtrace, message2.
public struct MacCrashInfoRecord: Sendable, Equatable, Codable {
    /// `stream_type`.
    public var streamType: UInt64
    /// `version`: 4 or 5 in the writers seen so far.
    public var version: UInt64
    /// `thread` (version 4).
    public var thread: UInt64?
    /// `dialog_mode` (version 4).
    public var dialogMode: UInt64?
    /// `abort_cause` (version 5).
    public var abortCause: UInt64?
    /// The module whose `__crash_info` this is.
    public var modulePath: String
    /// `message`.
    public var message: String
    /// `signature_string`.
    public var signatureString: String
    /// `backtrace`.
    public var backtrace: String
    /// `message2`.
    public var message2: String
}

/// Mozilla's `MDRawMacCrashInfo` (172 bytes): up to 20 records of macOS crash annotations.
///
/// Strings longer than 8192 bytes (the writer's cap) are cut there and reported in `warnings`.
public struct MacCrashInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.macCrashInfo

    /// `stream_type`.
    public var rawStreamType: UInt32
    /// `record_count`: at most 20.
    public var recordCount: UInt32
    /// `record_start_size`: size of the fixed part of each record, where its strings begin.
    public var recordStartSize: UInt32
    /// `records[20]`: where the records are; only the first `record_count` are used.
    public var recordLocations: [LocationDescriptor]
    /// The records.
    public var records: [MacCrashInfoRecord]
    /// Problems that did not stop the stream from being read.
    public var warnings: [String]

    /// `MAC_CRASH_INFOS_MAX`.
    public static let maximumRecords = 20
    /// The writer's cap on one string.
    public static let maximumStringSize = 8192

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MDRawMacCrashInfo"
        var reader = dump.reader(bytes)
        rawStreamType = try reader.read(UInt32.self, field + ".stream_type")
        recordCount = try reader.read(UInt32.self, field + ".record_count")
        recordStartSize = try reader.read(UInt32.self, field + ".record_start_size")
        guard recordCount <= Self.maximumRecords else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: field + ".record_count",
                kind: .countTooLarge(count: Int64(recordCount), limit: Int64(Self.maximumRecords)))
        }
        guard recordStartSize >= 16 else {
            throw ParseError(
                offset: bytes.fileOffset + 8, field: field + ".record_start_size",
                kind: .invalidValue("\(recordStartSize) is smaller than stream_type and version"))
        }
        var locations = [LocationDescriptor]()
        for index in 0..<Self.maximumRecords {
            locations.append(try LocationDescriptor(parsing: &reader, "\(field).records[\(index)]"))
        }
        recordLocations = locations

        var records = [MacCrashInfoRecord]()
        var warnings = [String]()
        for index in 0..<Int(recordCount) {
            let recordField = "MDRawMacCrashInfoRecord[\(index)]"
            let record = try dump.bytes(at: locations[index], field: recordField)
            guard record.count >= Int(recordStartSize) else {
                throw ParseError(
                    offset: record.fileOffset, field: recordField,
                    kind: .truncated(needed: Int64(recordStartSize), available: Int64(record.count)))
            }
            let fixed = record.prefix(Int(recordStartSize))
            var fixedReader = dump.reader(fixed)
            let type = try fixedReader.read(UInt64.self, recordField + ".stream_type")
            let version = try fixedReader.read(UInt64.self, recordField + ".version")
            // Fields a version has but the writer's record_start_size leaves out stay nil.
            var thread: UInt64?
            var dialogMode: UInt64?
            var abortCause: UInt64?
            if version >= 4, fixedReader.remaining >= 16 {
                thread = try fixedReader.read(UInt64.self, recordField + ".thread")
                dialogMode = try fixedReader.read(UInt64.self, recordField + ".dialog_mode")
            }
            if version >= 5, fixedReader.remaining >= 8 {
                abortCause = try fixedReader.read(UInt64.self, recordField + ".abort_cause")
            }
            var strings = ProcText.nulSeparated(record.suffix(from: Int(recordStartSize)))
            for (stringIndex, string) in strings.enumerated() where string.utf8.count > Self.maximumStringSize {
                warnings.append("\(recordField): string \(stringIndex) is longer than \(Self.maximumStringSize) bytes; cut")
                strings[stringIndex] = String(decoding: string.utf8.prefix(Self.maximumStringSize), as: UTF8.self)
            }
            while strings.count < 5 { strings.append("") }
            records.append(
                MacCrashInfoRecord(
                    streamType: type, version: version, thread: thread, dialogMode: dialogMode, abortCause: abortCause,
                    modulePath: strings[0], message: strings[1], signatureString: strings[2], backtrace: strings[3],
                    message2: strings[4]))
        }
        self.records = records
        self.warnings = warnings
    }
}
