import BinaryReading
import Minidump

/// Every stream of a minidump, decoded where the reader knows the type: `postmortem dump`'s model.
public struct StreamDump: Sendable, Encodable {
    /// One directory entry and what it holds.
    public struct Entry: Sendable, Encodable {
        /// Position in the directory.
        public var index: Int
        /// `StreamType` value.
        public var streamType: UInt32
        /// Its C name, or hex for an unknown type.
        public var streamTypeName: String
        /// `Location.DataSize`.
        public var dataSize: UInt32
        /// `Location.Rva`.
        public var rva: UInt32
        /// The decoded stream; nil for unknown types or when decoding failed.
        public var decoded: (any MinidumpStream & Encodable)?
        /// Why the stream could not be decoded.
        public var error: String?
        /// Whether the reader knows this type.
        public var known: Bool
        /// For thread lists and the exception stream: the register contexts they point to.
        public var contexts: [ContextEntry]?

        enum CodingKeys: String, CodingKey {
            case index, streamType = "stream_type", streamTypeName = "stream_type_name", dataSize = "data_size",
                rva, known, decoded, error, contexts
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(streamType, forKey: .streamType)
            try container.encode(streamTypeName, forKey: .streamTypeName)
            try container.encode(dataSize, forKey: .dataSize)
            try container.encode(rva, forKey: .rva)
            try container.encode(known, forKey: .known)
            if let decoded {
                try decoded.encode(to: container.superEncoder(forKey: .decoded))
            }
            try container.encodeIfPresent(error, forKey: .error)
            try container.encodeIfPresent(contexts, forKey: .contexts)
        }
    }

    /// A thread's register context, decoded, or why it could not be.
    public struct ContextEntry: Sendable, Encodable {
        /// The thread the context belongs to.
        public var threadId: UInt32
        /// The decoded context.
        public var context: ThreadContext?
        /// Why the context could not be decoded.
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case threadId = "thread_id", context, error
        }
    }

    /// The dump's path as given.
    public var dump: String
    /// The header.
    public var header: MinidumpHeader
    /// The header's time stamp as an ISO 8601 UTC date.
    public var headerTimeUTC: String
    /// Byte order of the file.
    public var bigEndian: Bool
    /// Every directory entry in file order.
    public var entries: [Entry]

    enum CodingKeys: String, CodingKey {
        case dump, header, headerTimeUTC = "header_time_utc", bigEndian = "big_endian", entries
    }

    /// Decodes every stream of `minidump`; a stream that fails keeps its error and the rest go on.
    public init(minidump: MinidumpFile, path: String) {
        dump = path
        header = minidump.header
        headerTimeUTC = isoDate(secondsSince1970: Int64(minidump.header.timeDateStamp))
        bigEndian = minidump.endianness == .big
        let architecture = (try? minidump.stream(SystemInfo.self))?.processorArchitecture
        func context(_ thread: UInt32, _ location: LocationDescriptor) -> ContextEntry {
            do {
                return ContextEntry(
                    threadId: thread, context: try minidump.threadContext(at: location, architecture: architecture))
            } catch {
                return ContextEntry(threadId: thread, context: nil, error: error.description)
            }
        }
        entries = minidump.directory.map { entry in
            var row = Entry(
                index: entry.index, streamType: entry.streamType.rawValue, streamTypeName: entry.streamType.name,
                dataSize: entry.location.dataSize, rva: entry.location.rva, decoded: nil, error: nil,
                known: KnownStreams.byType[entry.streamType] != nil)
            do {
                let decoded = try minidump.decodeStream(entry)
                row.decoded = decoded
                switch decoded {
                case let list as ThreadList:
                    row.contexts = list.threads.map { context($0.threadId, $0.threadContext) }
                case let list as ThreadExList:
                    row.contexts = list.threads.map { context($0.threadId, $0.threadContext) }
                case let exception as ExceptionStream:
                    row.contexts = [context(exception.threadId, exception.threadContext)]
                default:
                    break
                }
            } catch {
                row.error = "\(error)"
            }
            return row
        }
    }

    /// Whether any stream failed to decode.
    public var hasErrors: Bool { entries.contains { $0.error != nil } }
}
