import BinaryReading

/// `MINIDUMP_HEADER` (32 bytes), from minidumpapiset.h.
public struct MinidumpHeader: Sendable, Equatable, Codable {
    /// `Signature`: `MDMP` (0x504D444D when read in the file's byte order).
    public var signature: UInt32
    /// `Version`: low 16 bits are `MINIDUMP_VERSION` (0xA793); high 16 bits are implementation-specific.
    public var version: UInt32
    /// `NumberOfStreams`.
    public var numberOfStreams: UInt32
    /// `StreamDirectoryRva`.
    public var streamDirectoryRva: UInt32
    /// `CheckSum`.
    public var checkSum: UInt32
    /// `TimeDateStamp`: seconds since 1970 (UTC) when the dump was written.
    public var timeDateStamp: UInt32
    /// `Flags`: `MINIDUMP_TYPE` bits the writer was asked for.
    public var flags: UInt64

    /// Size on disk.
    public static let size = 32
    /// `MINIDUMP_SIGNATURE`.
    public static let signatureValue: UInt32 = 0x504D_444D
    /// `MINIDUMP_VERSION`.
    public static let versionValue: UInt32 = 0xA793
}

/// `MINIDUMP_LOCATION_DESCRIPTOR` (8 bytes): a 32-bit size and RVA.
public struct LocationDescriptor: Sendable, Equatable, Codable {
    /// `DataSize`.
    public var dataSize: UInt32
    /// `Rva`: offset from the start of the file.
    public var rva: UInt32

    public init(dataSize: UInt32, rva: UInt32) {
        self.dataSize = dataSize
        self.rva = rva
    }

    init(parsing reader: inout ByteReader, _ field: @autoclosure () -> String) throws(ParseError) {
        dataSize = try reader.read(UInt32.self, field() + ".DataSize")
        rva = try reader.read(UInt32.self, field() + ".Rva")
    }
}

/// `MINIDUMP_DIRECTORY` (12 bytes): one entry of the stream directory.
public struct DirectoryEntry: Sendable, Equatable, Codable {
    /// `StreamType`.
    public var streamType: StreamType
    /// `Location`.
    public var location: LocationDescriptor
    /// Position of the entry in the directory.
    public var index: Int
}

/// A decoded stream of a minidump.
public protocol MinidumpStream: Sendable {
    /// The directory type this stream is stored under.
    static var streamType: StreamType { get }
    /// Decodes the stream from its bytes; `dump` resolves RVAs the stream points to.
    init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError)
}

/// A Windows minidump (`MDMP`) file: header and directory read eagerly, streams on request.
///
/// Both byte orders are accepted: a big-endian writer stores the signature as `PMDM`, and then
/// every integer in the file is big-endian (rust-minidump accepts such dumps too).
public struct MinidumpFile: Sendable {
    /// The whole file.
    public let bytes: ByteView
    /// Byte order of every integer in the file.
    public let endianness: Endianness
    /// The header.
    public let header: MinidumpHeader
    /// The stream directory in file order.
    public let directory: [DirectoryEntry]

    /// Maps and opens the dump at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(bytes: MappedFile(path: path).bytes)
    }

    /// Opens a dump held in `bytes`.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        let signature = try bytes.load(UInt32.self, at: 0, field: "MINIDUMP_HEADER.Signature")
        if signature == MinidumpHeader.signatureValue {
            endianness = .little
        } else if signature.byteSwapped == MinidumpHeader.signatureValue {
            endianness = .big
        } else {
            throw ParseError(
                offset: 0, field: "MINIDUMP_HEADER.Signature",
                kind: .badSignature(expected: "MDMP", found: Self.fourCC(signature)))
        }
        var reader = bytes.reader(endianness: endianness)
        let header = MinidumpHeader(
            signature: try reader.read(UInt32.self, "MINIDUMP_HEADER.Signature"),
            version: try reader.read(UInt32.self, "MINIDUMP_HEADER.Version"),
            numberOfStreams: try reader.read(UInt32.self, "MINIDUMP_HEADER.NumberOfStreams"),
            streamDirectoryRva: try reader.read(UInt32.self, "MINIDUMP_HEADER.StreamDirectoryRva"),
            checkSum: try reader.read(UInt32.self, "MINIDUMP_HEADER.CheckSum"),
            timeDateStamp: try reader.read(UInt32.self, "MINIDUMP_HEADER.TimeDateStamp"),
            flags: try reader.read(UInt64.self, "MINIDUMP_HEADER.Flags"))
        guard header.version & 0xFFFF == MinidumpHeader.versionValue else {
            throw ParseError(
                offset: 4, field: "MINIDUMP_HEADER.Version",
                kind: .unsupportedVersion("0x" + String(header.version & 0xFFFF, radix: 16) + " (expected 0xa793)"))
        }
        self.header = header

        var directoryReader = bytes.reader(at: Int(header.streamDirectoryRva), endianness: endianness)
        guard header.streamDirectoryRva <= bytes.count else {
            throw ParseError(
                offset: 12, field: "MINIDUMP_HEADER.StreamDirectoryRva",
                kind: .outOfBounds(offset: Int64(header.streamDirectoryRva), size: 0, fileSize: Int64(bytes.count)))
        }
        let count = Int(header.numberOfStreams)
        try directoryReader.checkCount(count, elementSize: 12, "MINIDUMP_HEADER.NumberOfStreams")
        var directory = [DirectoryEntry]()
        directory.reserveCapacity(count)
        for index in 0..<count {
            let type = StreamType(rawValue: try directoryReader.read(UInt32.self, "MINIDUMP_DIRECTORY.StreamType"))
            let location = try LocationDescriptor(parsing: &directoryReader, "MINIDUMP_DIRECTORY.Location")
            directory.append(DirectoryEntry(streamType: type, location: location, index: index))
        }
        self.directory = directory
    }

    /// The first directory entry of `type` that is not `UnusedStream`, if any.
    public func entry(of type: StreamType) -> DirectoryEntry? {
        directory.first { $0.streamType == type }
    }

    /// The bytes of a stream; throws when its location leaves the file.
    public func streamBytes(_ entry: DirectoryEntry) throws(ParseError) -> ByteView {
        try bytes.slice(
            offset: entry.location.rva, size: entry.location.dataSize,
            field: "MINIDUMP_DIRECTORY[\(entry.index)] (\(entry.streamType.name))")
    }

    /// Decodes the first stream of type `S`, or returns nil when the dump has none.
    public func stream<S: MinidumpStream>(_ type: S.Type) throws(ParseError) -> S? {
        guard let entry = entry(of: S.streamType) else { return nil }
        return try S(parsing: streamBytes(entry), in: self)
    }

    /// The bytes a location descriptor names.
    public func bytes(at location: LocationDescriptor, field: @autoclosure () -> String) throws(ParseError) -> ByteView {
        try bytes.slice(offset: location.rva, size: location.dataSize, field: field())
    }

    /// A reader in the file's byte order over `view`.
    public func reader(_ view: ByteView, at offset: Int = 0) -> ByteReader {
        view.reader(at: offset, endianness: endianness)
    }

    /// Reads a `MINIDUMP_STRING` (a 32-bit byte length, then UTF-16) at file offset `rva`.
    public func string(at rva: UInt32, field: @autoclosure () -> String) throws(ParseError) -> String {
        guard rva <= bytes.count else {
            throw ParseError(
                offset: Int64(rva), field: field(),
                kind: .outOfBounds(offset: Int64(rva), size: 4, fileSize: Int64(bytes.count)))
        }
        var reader = bytes.reader(at: Int(rva), endianness: endianness)
        let length = try reader.read(UInt32.self, field() + ".Length")
        let units = try reader.readBytes(Int(length & ~1), field() + ".Buffer")
        // Strings are names and paths; decoding is capped so that many records pointing at one
        // huge "string" stay cheap.
        return units.prefix(Self.maximumStringBytes).utf16String(endianness: endianness)
    }

    /// Bytes of a `MINIDUMP_STRING` decoded at most (32 Ki UTF-16 units).
    public static let maximumStringBytes = 65_536

    static func fourCC(_ value: UInt32) -> String {
        let bytes = [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
        }
        return "0x" + String(value, radix: 16)
    }
}

extension MinidumpFile {
    /// Locates the entries of a list stream: a 32-bit count followed by `count` entries of `entrySize` bytes.
    ///
    /// Some writers pad the count to 8 bytes (seen in symbolic's `crash_macos.dmp`, a module list
    /// written on macOS, and in Breakpad dumps of 64-bit Linux processes): when the stream is exactly
    /// 4 bytes longer than count + entries, the entries start after the padding.
    public func listEntries(
        _ bytes: ByteView, entrySize: Int, field: String
    ) throws(ParseError) -> (count: Int, entries: ByteView) {
        var reader = self.reader(bytes)
        let count = Int(try reader.read(UInt32.self, field + ".NumberOfEntries"))
        let (total, overflow) = count.multipliedReportingOverflow(by: entrySize)
        if !overflow, reader.remaining == total + 4 {
            try reader.skip(4, field + " (padding)")
        }
        try reader.checkCount(count, elementSize: entrySize, field + ".NumberOfEntries")
        let entries = try reader.readBytes(count * entrySize, field + " entries")
        return (count, entries)
    }

    /// Locates the entries of a list stream with a size-prefixed header
    /// (`SizeOfHeader`, `SizeOfEntry`, `NumberOfEntries`, as in `MINIDUMP_UNLOADED_MODULE_LIST`).
    ///
    /// Entries may be larger than the structure the reader knows (newer writers append fields),
    /// so each entry is returned as its own view of `SizeOfEntry` bytes.
    public func sizedListEntries(
        _ bytes: ByteView, minimumEntrySize: Int, field: String, countIs64Bit: Bool = false
    ) throws(ParseError) -> [ByteView] {
        var reader = self.reader(bytes)
        let headerSize = try reader.read(UInt32.self, field + ".SizeOfHeader")
        let entrySize = try reader.read(UInt32.self, field + ".SizeOfEntry")
        let count: UInt64
        if countIs64Bit {
            count = try reader.read(UInt64.self, field + ".NumberOfEntries")
        } else {
            count = UInt64(try reader.read(UInt32.self, field + ".NumberOfEntries"))
        }
        guard headerSize >= UInt32(reader.position), headerSize <= bytes.count else {
            throw ParseError(
                offset: bytes.fileOffset, field: field + ".SizeOfHeader",
                kind: .invalidValue("\(headerSize) is smaller than the header or larger than the stream"))
        }
        guard entrySize >= minimumEntrySize else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: field + ".SizeOfEntry",
                kind: .invalidValue("\(entrySize) is smaller than the \(minimumEntrySize) bytes an entry needs"))
        }
        reader.position = Int(headerSize)
        guard let intCount = Int(exactly: count) else {
            throw ParseError(
                offset: reader.fileOffset, field: field + ".NumberOfEntries",
                kind: .countTooLarge(count: Int64.max, limit: Int64(reader.remaining)))
        }
        try reader.checkCount(intCount, elementSize: Int(entrySize), field + ".NumberOfEntries")
        var entries = [ByteView]()
        entries.reserveCapacity(intCount)
        for index in 0..<intCount {
            entries.append(try reader.readBytes(Int(entrySize), "\(field)[\(index)]"))
        }
        return entries
    }
}
