import BinaryReading

/// A ZIP archive read from memory (PKWARE APPNOTE 6.3.x), as uploads of symbol files arrive:
/// stored and deflated entries, no ZIP64, no encryption, no multi-disk archives.
///
/// The central directory is trusted for nothing: every entry's data is located through its
/// local header, inflated into at most its declared size, and checked against its CRC-32, so an
/// archive cannot make the reader produce more bytes than its directory declares.
public struct ZipArchive: Sendable {
    /// One file (or folder) entry of the central directory.
    public struct Entry: Sendable, Equatable {
        /// The name as stored (`/`-separated; folders end with `/`).
        public var name: String
        /// 0 (stored) or 8 (deflated).
        public var method: UInt16
        public var crc32: UInt32
        public var compressedSize: Int
        public var uncompressedSize: Int
        /// Offset of the entry's local file header.
        var localHeaderOffset: Int

        /// Whether the entry is a folder, which holds no data.
        public var isFolder: Bool { name.hasSuffix("/") }
    }

    /// Caps that keep a hostile archive from making us do unbounded work.
    static let maxEntries = 10000
    /// `end of central dir signature`.
    static let endSignature: UInt32 = 0x0605_4B50
    /// `central file header signature`.
    static let centralSignature: UInt32 = 0x0201_4B50
    /// `local file header signature`.
    static let localSignature: UInt32 = 0x0403_4B50
    /// The end record (22 bytes) and the longest comment it may carry.
    static let endRecordSize = 22

    public let bytes: ByteView
    /// The entries in central directory order.
    public let entries: [Entry]

    /// Whether `bytes` start like a ZIP archive (a local file header or an empty archive's end record).
    public static func looksLikeZip(_ bytes: some Collection<UInt8>) -> Bool {
        let head = Array(bytes.prefix(4))
        return head == [0x50, 0x4B, 0x03, 0x04] || head == [0x50, 0x4B, 0x05, 0x06]
    }

    /// Reads the central directory of `bytes`.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        let end = try Self.findEndRecord(bytes)
        var reader = bytes.reader(at: end + 4)
        let disk = try reader.read(UInt16.self, "EOCD.number of this disk")
        let directoryDisk = try reader.read(UInt16.self, "EOCD.disk where central directory starts")
        _ = try reader.read(UInt16.self, "EOCD.number of central directory records on this disk")
        let total = try reader.read(UInt16.self, "EOCD.total number of central directory records")
        let size = try reader.read(UInt32.self, "EOCD.size of central directory")
        let offset = try reader.read(UInt32.self, "EOCD.offset of start of central directory")
        guard disk == 0, directoryDisk == 0 else {
            throw ParseError(offset: Int64(end + 4), field: "EOCD.number of this disk", kind: .invalidValue("multi-disk archive"))
        }
        // ZIP64 archives mark the 32-bit fields with all ones and keep the real values elsewhere.
        guard total != 0xFFFF, size != 0xFFFF_FFFF, offset != 0xFFFF_FFFF else {
            throw ParseError(offset: Int64(end), field: "EOCD", kind: .unsupportedVersion("ZIP64"))
        }
        guard Int(total) <= Self.maxEntries else {
            throw ParseError(
                offset: Int64(end + 10), field: "EOCD.total number of central directory records",
                kind: .countTooLarge(count: Int64(total), limit: Int64(Self.maxEntries)))
        }
        let directory = try bytes.slice(offset: offset, size: size, field: "central directory")
        var entries = [Entry]()
        var cursor = directory.reader()
        for _ in 0..<Int(total) {
            entries.append(try Self.readCentralHeader(&cursor))
        }
        self.entries = entries
    }

    /// The end record is the last 22 bytes unless a comment (at most 65535 bytes) follows it.
    static func findEndRecord(_ bytes: ByteView) throws(ParseError) -> Int {
        let last = bytes.count - endRecordSize
        guard last >= 0 else {
            throw ParseError(
                offset: 0, field: "EOCD", kind: .truncated(needed: Int64(endRecordSize), available: Int64(bytes.count)))
        }
        var position = last
        while position >= 0 && position >= last - 0xFFFF {
            if try bytes.load(UInt32.self, at: position, field: "EOCD.signature") == endSignature {
                let commentLength = try bytes.load(UInt16.self, at: position + 20, field: "EOCD.comment length")
                if position + endRecordSize + Int(commentLength) == bytes.count { return position }
            }
            position -= 1
        }
        throw ParseError(offset: Int64(max(last, 0)), field: "EOCD", kind: .badSignature(expected: "PK\\5\\6", found: "none"))
    }

    /// Reads a record's 4-byte signature and refuses any other.
    static func readSignature(_ reader: inout ByteReader, _ expected: UInt32, of record: String, spelled: String)
        throws(ParseError)
    {
        let start = reader.fileOffset
        let signature = try reader.read(UInt32.self, record + " signature")
        guard signature == expected else {
            throw ParseError(
                offset: start, field: record + " signature",
                kind: .badSignature(expected: spelled, found: hex(signature, width: 8)))
        }
    }

    /// `central file header` (46 bytes, then name, extra field and comment).
    static func readCentralHeader(_ reader: inout ByteReader) throws(ParseError) -> Entry {
        let start = reader.fileOffset
        try readSignature(&reader, centralSignature, of: "central file header", spelled: "PK\\1\\2")
        try reader.skip(4, "version made by, version needed to extract")
        let flags = try reader.read(UInt16.self, "general purpose bit flag")
        let method = try reader.read(UInt16.self, "compression method")
        try reader.skip(4, "last mod file time, last mod file date")
        let crc = try reader.read(UInt32.self, "crc-32")
        let compressed = try reader.read(UInt32.self, "compressed size")
        let uncompressed = try reader.read(UInt32.self, "uncompressed size")
        let nameLength = try reader.read(UInt16.self, "file name length")
        let extraLength = try reader.read(UInt16.self, "extra field length")
        let commentLength = try reader.read(UInt16.self, "file comment length")
        try reader.skip(8, "disk number start, internal and external file attributes")
        let localOffset = try reader.read(UInt32.self, "relative offset of local header")
        let name = try reader.readBytes(nameLength, "file name")
        try reader.skip(Int(extraLength) + Int(commentLength), "extra field, file comment")
        guard flags & 0x1 == 0 else {
            throw ParseError(offset: start + 8, field: "general purpose bit flag", kind: .invalidValue("encrypted entry"))
        }
        guard method == 0 || method == 8 else {
            throw ParseError(
                offset: start + 10, field: "compression method",
                kind: .invalidValue("method \(method) (only stored and deflated are read)"))
        }
        guard compressed != 0xFFFF_FFFF, uncompressed != 0xFFFF_FFFF, localOffset != 0xFFFF_FFFF else {
            throw ParseError(offset: start + 20, field: "compressed size", kind: .unsupportedVersion("ZIP64"))
        }
        // Names are UTF-8 (bit 11) or CP437 in old archives; both agree on the ASCII that store keys use.
        return Entry(
            name: String(decoding: name.array, as: UTF8.self), method: method, crc32: crc, compressedSize: Int(compressed),
            uncompressedSize: Int(uncompressed), localHeaderOffset: Int(localOffset))
    }

    /// The bytes of `entry`, checked against its declared size and CRC-32.
    public func contents(of entry: Entry) throws(ParseError) -> [UInt8] {
        let start = Int64(entry.localHeaderOffset)
        var reader = bytes.reader(at: entry.localHeaderOffset)
        try Self.readSignature(&reader, Self.localSignature, of: "local file header", spelled: "PK\\3\\4")
        try reader.skip(22, "local file header fixed fields")
        let nameLength = try reader.read(UInt16.self, "file name length")
        let extraLength = try reader.read(UInt16.self, "extra field length")
        try reader.skip(Int(nameLength) + Int(extraLength), "file name, extra field")
        // Sizes come from the central directory: with bit 3 set the local header holds zeros.
        let data = try reader.readBytes(entry.compressedSize, "file data")
        var output = [UInt8]()
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw ParseError(offset: start, field: "compressed size", kind: .invalidValue("stored entry sizes differ"))
            }
            output = data.array
        default:
            output.reserveCapacity(entry.uncompressedSize)
            do {
                try Inflater.inflate(data, into: &output, limit: entry.uncompressedSize)
            } catch .outputLimit {
                throw ParseError(
                    offset: data.fileOffset, field: "file data",
                    kind: .invalidValue("inflates to more than the declared \(entry.uncompressedSize) bytes"))
            } catch {
                throw ParseError(offset: data.fileOffset, field: "file data", kind: .invalidValue("deflate: \(error)"))
            }
            guard output.count == entry.uncompressedSize else {
                throw ParseError(
                    offset: data.fileOffset, field: "uncompressed size",
                    kind: .invalidValue("inflated to \(output.count) bytes, declared \(entry.uncompressedSize)"))
            }
        }
        let actual = CRC32.checksum(output)
        guard actual == entry.crc32 else {
            throw ParseError(
                offset: start + 14, field: "crc-32",
                kind: .invalidValue(
                    "entry \(entry.name) has CRC-32 \(hex(actual, width: 8)), declared \(hex(entry.crc32, width: 8))"))
        }
        return output
    }
}

/// CRC-32 as ZIP and gzip use it (reflected polynomial 0xEDB88320).
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}
