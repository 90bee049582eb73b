import BinaryReading

/// `MINIDUMP_THREAD_INFO.DumpFlags`: how well the writer could capture a thread.
public struct ThreadInfoDumpFlags: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MINIDUMP_THREAD_INFO_ERROR_THREAD`: an error occurred while reading the thread (see `DumpError`).
    public static let errorThread = ThreadInfoDumpFlags(rawValue: 0x1)
    /// `MINIDUMP_THREAD_INFO_WRITING_THREAD`: the thread that wrote the dump.
    public static let writingThread = ThreadInfoDumpFlags(rawValue: 0x2)
    /// `MINIDUMP_THREAD_INFO_EXITED_THREAD`: the thread had exited.
    public static let exitedThread = ThreadInfoDumpFlags(rawValue: 0x4)
    /// `MINIDUMP_THREAD_INFO_INVALID_INFO`.
    public static let invalidInfo = ThreadInfoDumpFlags(rawValue: 0x8)
    /// `MINIDUMP_THREAD_INFO_INVALID_CONTEXT`.
    public static let invalidContext = ThreadInfoDumpFlags(rawValue: 0x10)
    /// `MINIDUMP_THREAD_INFO_INVALID_TEB`.
    public static let invalidTeb = ThreadInfoDumpFlags(rawValue: 0x20)
}

/// `MINIDUMP_THREAD_INFO` (64 bytes): times, start address and affinity of one thread.
public struct ThreadInfo: Sendable, Equatable, Codable {
    /// `ThreadId`.
    public var threadId: UInt32
    /// `DumpFlags`.
    public var dumpFlags: ThreadInfoDumpFlags
    /// `DumpError`: an HRESULT.
    public var dumpError: UInt32
    /// `ExitStatus`.
    public var exitStatus: UInt32
    /// `CreateTime`: a FILETIME (100 ns since 1601).
    public var createTime: UInt64
    /// `ExitTime`: a FILETIME.
    public var exitTime: UInt64
    /// `KernelTime`: 100 ns units.
    public var kernelTime: UInt64
    /// `UserTime`: 100 ns units.
    public var userTime: UInt64
    /// `StartAddress`.
    public var startAddress: UInt64
    /// `Affinity`.
    public var affinity: UInt64

    /// Size on disk.
    public static let size = 64

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "MINIDUMP_THREAD_INFO"
        threadId = try reader.read(UInt32.self, field + ".ThreadId")
        dumpFlags = ThreadInfoDumpFlags(rawValue: try reader.read(UInt32.self, field + ".DumpFlags"))
        dumpError = try reader.read(UInt32.self, field + ".DumpError")
        exitStatus = try reader.read(UInt32.self, field + ".ExitStatus")
        createTime = try reader.read(UInt64.self, field + ".CreateTime")
        exitTime = try reader.read(UInt64.self, field + ".ExitTime")
        kernelTime = try reader.read(UInt64.self, field + ".KernelTime")
        userTime = try reader.read(UInt64.self, field + ".UserTime")
        startAddress = try reader.read(UInt64.self, field + ".StartAddress")
        affinity = try reader.read(UInt64.self, field + ".Affinity")
    }
}

/// `MINIDUMP_THREAD_INFO_LIST` (12-byte header): one `MINIDUMP_THREAD_INFO` per thread.
public struct ThreadInfoList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.threadInfoList
    /// The entries in stream order.
    public var threads: [ThreadInfo]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let entries = try dump.sizedListEntries(bytes, minimumEntrySize: ThreadInfo.size, field: "MINIDUMP_THREAD_INFO_LIST")
        var threads = [ThreadInfo]()
        threads.reserveCapacity(entries.count)
        for entry in entries {
            var reader = dump.reader(entry)
            threads.append(try ThreadInfo(parsing: &reader))
        }
        self.threads = threads
    }
}
