import BinaryReading

/// `MINIDUMP_MEMORY_DESCRIPTOR` (16 bytes): a range of the process's memory and where its bytes are.
public struct MemoryDescriptor: Sendable, Equatable, Codable {
    /// `StartOfMemoryRange`: virtual address of the first byte.
    public var startOfMemoryRange: UInt64
    /// `Memory`: the bytes in the file.
    public var memory: LocationDescriptor

    /// Size on disk.
    public static let size = 16

    // The field name is built only when a read fails: memory lists hold thousands of descriptors.
    init(parsing reader: inout ByteReader, _ field: @autoclosure () -> String) throws(ParseError) {
        startOfMemoryRange = try reader.read(UInt64.self, field() + ".StartOfMemoryRange")
        memory = try LocationDescriptor(parsing: &reader, field() + ".Memory")
    }
}

/// `MINIDUMP_THREAD` (48 bytes), or `MINIDUMP_THREAD_EX` (64 bytes) with a backing store.
public struct Thread: Sendable, Equatable, Codable {
    /// `ThreadId`.
    public var threadId: UInt32
    /// `SuspendCount`.
    public var suspendCount: UInt32
    /// `PriorityClass`.
    public var priorityClass: UInt32
    /// `Priority`.
    public var priority: UInt32
    /// `Teb`: address of the thread environment block (Linux: the pthread pointer).
    public var teb: UInt64
    /// `Stack`: the captured stack memory.
    public var stack: MemoryDescriptor
    /// `ThreadContext`: where the register context is.
    public var threadContext: LocationDescriptor
    /// `BackingStore` (IA-64 only, `MINIDUMP_THREAD_EX`).
    public var backingStore: MemoryDescriptor?

    /// Size of `MINIDUMP_THREAD` on disk.
    public static let size = 48
    /// Size of `MINIDUMP_THREAD_EX` on disk.
    public static let extendedSize = 64

    init(parsing reader: inout ByteReader, extended: Bool) throws(ParseError) {
        let field = extended ? "MINIDUMP_THREAD_EX" : "MINIDUMP_THREAD"
        threadId = try reader.read(UInt32.self, field + ".ThreadId")
        suspendCount = try reader.read(UInt32.self, field + ".SuspendCount")
        priorityClass = try reader.read(UInt32.self, field + ".PriorityClass")
        priority = try reader.read(UInt32.self, field + ".Priority")
        teb = try reader.read(UInt64.self, field + ".Teb")
        stack = try MemoryDescriptor(parsing: &reader, field + ".Stack")
        threadContext = try LocationDescriptor(parsing: &reader, field + ".ThreadContext")
        backingStore = extended ? try MemoryDescriptor(parsing: &reader, field + ".BackingStore") : nil
    }
}

/// `MINIDUMP_THREAD_LIST`: the process's threads.
public struct ThreadList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.threadList
    /// The threads in stream order.
    public var threads: [Thread]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        threads = try Self.parse(bytes, in: dump, extended: false)
    }

    static func parse(_ bytes: ByteView, in dump: MinidumpFile, extended: Bool) throws(ParseError) -> [Thread] {
        let size = extended ? Thread.extendedSize : Thread.size
        let field = extended ? "MINIDUMP_THREAD_EX_LIST" : "MINIDUMP_THREAD_LIST"
        let (count, entries) = try dump.listEntries(bytes, entrySize: size, field: field)
        var reader = dump.reader(entries)
        var threads = [Thread]()
        threads.reserveCapacity(count)
        for _ in 0..<count {
            threads.append(try Thread(parsing: &reader, extended: extended))
        }
        return threads
    }
}

/// `MINIDUMP_THREAD_EX_LIST`: threads with backing stores (written for IA-64).
public struct ThreadExList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.threadExList
    /// The threads in stream order.
    public var threads: [Thread]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        threads = try ThreadList.parse(bytes, in: dump, extended: true)
    }
}
