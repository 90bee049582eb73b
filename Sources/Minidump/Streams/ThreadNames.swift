import BinaryReading

/// `MINIDUMP_THREAD_NAME` (12 bytes, packed): a thread id and the RVA64 of its name.
public struct ThreadName: Sendable, Equatable, Codable {
    /// `ThreadId`.
    public var threadId: UInt32
    /// `RvaOfThreadName`: a 64-bit RVA of a `MINIDUMP_STRING`.
    public var rvaOfThreadName: UInt64
    /// The name (empty when unreadable; see `warning`).
    public var name: String
    /// Why the name could not be read, if it could not.
    public var warning: String?

    /// Size on disk.
    public static let size = 12
}

/// `MINIDUMP_THREAD_NAME_LIST`: names given to threads (`SetThreadDescription`).
public struct ThreadNameList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.threadNames
    /// The names in stream order.
    public var names: [ThreadName]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MINIDUMP_THREAD_NAME_LIST"
        let (count, entries) = try dump.listEntries(bytes, entrySize: ThreadName.size, field: field)
        var reader = dump.reader(entries)
        var names = [ThreadName]()
        names.reserveCapacity(count)
        for _ in 0..<count {
            let threadId = try reader.read(UInt32.self, "MINIDUMP_THREAD_NAME.ThreadId")
            let rva = try reader.read(UInt64.self, "MINIDUMP_THREAD_NAME.RvaOfThreadName")
            var entry = ThreadName(threadId: threadId, rvaOfThreadName: rva, name: "", warning: nil)
            do {
                entry.name = try dump.string(at64: rva, field: "MINIDUMP_THREAD_NAME.RvaOfThreadName")
            } catch {
                entry.warning = error.description
            }
            names.append(entry)
        }
        self.names = names
    }

    /// The name of thread `threadId`, if the list has one.
    public func name(of threadId: UInt32) -> String? {
        names.first { $0.threadId == threadId }?.name
    }
}
