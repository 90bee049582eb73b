import BinaryReading

/// `GSIHashHeader` (16 bytes) and its hash records: the index shared by the globals and publics
/// streams (LLVM's `GlobalStream.html`). Each hash record names a symbol record by offset + 1.
public struct GSIHashTable: Sendable, Equatable {
    /// `VerSignature`: 0xFFFFFFFF.
    public var versionSignature: UInt32
    /// `VerHdr`: `GSIHashV70` (0xEFFE0000 + 19990810).
    public var versionHeader: UInt32
    /// `HrSize`: bytes of hash records.
    public var hashRecordSize: UInt32
    /// `NumBuckets`: bytes of the bucket bitmap and buckets.
    public var bucketDataSize: UInt32
    /// Offsets of the symbols in the symbol record stream (`Off - 1` of each `PSHashRecord`), in hash order.
    public var symbolOffsets: [UInt32]

    /// `GSIHashV70`.
    public static let v70: UInt32 = 0xEFFE_0000 &+ 19_990_810

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        let start = reader.fileOffset
        versionSignature = try reader.read(UInt32.self, "GSIHashHeader.VerSignature")
        versionHeader = try reader.read(UInt32.self, "GSIHashHeader.VerHdr")
        guard versionSignature == UInt32.max, versionHeader == Self.v70 else {
            throw ParseError(
                offset: start, field: "GSIHashHeader.VerHdr",
                kind: .unsupportedVersion("0x" + String(versionHeader, radix: 16)))
        }
        hashRecordSize = try reader.read(UInt32.self, "GSIHashHeader.HrSize")
        bucketDataSize = try reader.read(UInt32.self, "GSIHashHeader.NumBuckets")
        guard hashRecordSize % 8 == 0 else {
            throw ParseError(
                offset: start + 8, field: "GSIHashHeader.HrSize", kind: .invalidValue("\(hashRecordSize) is not a multiple of 8"))
        }
        let count = Int(hashRecordSize / 8)
        try reader.checkCount(count, elementSize: 8, "GSIHashHeader.HrSize")
        var offsets = [UInt32]()
        offsets.reserveCapacity(count)
        for _ in 0..<count {
            let at = reader.fileOffset
            let offset = try reader.read(UInt32.self, "PSHashRecord.Off")
            _ = try reader.read(UInt32.self, "PSHashRecord.CRef")
            guard offset > 0 else {
                throw ParseError(offset: at, field: "PSHashRecord.Off", kind: .invalidValue("0 (offsets are stored plus one)"))
            }
            offsets.append(offset - 1)
        }
        symbolOffsets = offsets
        try reader.skip(Int(bucketDataSize), "GSI hash buckets")
    }
}

/// `PublicsStreamHeader` (28 bytes), the GSI hash, then the address map (LLVM's `PublicStream.html`).
public struct PublicsStream: Sendable, Equatable {
    /// `SymHash`: bytes of the GSI hash.
    public var symHashSize: UInt32
    /// `AddrMap`: bytes of the address map.
    public var addressMapSize: UInt32
    /// `NumThunks`.
    public var numThunks: UInt32
    /// `SizeOfThunk`.
    public var sizeOfThunk: UInt32
    /// `ISectThunkTable`.
    public var thunkTableSection: UInt16
    /// `OffThunkTable`.
    public var thunkTableOffset: UInt32
    /// `NumSections`.
    public var numSections: UInt32
    /// The hash table.
    public var hash: GSIHashTable
    /// Offsets of the public symbols in the symbol record stream, sorted by address.
    public var addressMap: [UInt32]

    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        symHashSize = try reader.read(UInt32.self, "PublicsStreamHeader.SymHash")
        addressMapSize = try reader.read(UInt32.self, "PublicsStreamHeader.AddrMap")
        numThunks = try reader.read(UInt32.self, "PublicsStreamHeader.NumThunks")
        sizeOfThunk = try reader.read(UInt32.self, "PublicsStreamHeader.SizeOfThunk")
        thunkTableSection = try reader.read(UInt16.self, "PublicsStreamHeader.ISectThunkTable")
        try reader.skip(2, "PublicsStreamHeader.Padding")
        thunkTableOffset = try reader.read(UInt32.self, "PublicsStreamHeader.OffThunkTable")
        numSections = try reader.read(UInt32.self, "PublicsStreamHeader.NumSections")
        var hashReader = try reader.readBytes(symHashSize, "PublicsStream GSI hash").reader()
        hash = try GSIHashTable(parsing: &hashReader)
        guard addressMapSize % 4 == 0 else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: "PublicsStreamHeader.AddrMap",
                kind: .invalidValue("\(addressMapSize) is not a multiple of 4"))
        }
        addressMap = try reader.readArray(UInt32.self, count: Int(addressMapSize / 4), "PublicsStream address map")
    }
}

/// A symbol from the symbol record stream, decoded by kind.
public enum GlobalSymbol: Sendable, Equatable {
    case publicSymbol(PublicSymbol)
    case procedureReference(ProcedureReference, kind: SymbolKind)
    case data(DataSymbol, kind: SymbolKind)
    /// Any other kind (`S_CONSTANT`, `S_UDT`, ...): kept as its kind and offset.
    case other(kind: SymbolKind, offset: UInt32)

    /// Decodes one record.
    public init(_ record: SymbolRecord) throws(ParseError) {
        switch record.kind {
        case .pub32: self = .publicSymbol(try PublicSymbol(parsing: record.data))
        case .procRef, .lprocRef: self = .procedureReference(try ProcedureReference(parsing: record.data), kind: record.kind)
        case .gdata32, .ldata32, .gthread32, .lthread32: self = .data(try DataSymbol(parsing: record.data), kind: record.kind)
        default: self = .other(kind: record.kind, offset: record.offset)
        }
    }
}

/// The symbol record stream that the globals and publics hashes point into.
public struct SymbolRecordStream: Sendable {
    /// The stream bytes.
    public let bytes: ByteView

    public init(bytes: ByteView) { self.bytes = bytes }

    /// The record at `offset`.
    public func record(at offset: UInt32) throws(ParseError) -> SymbolRecord {
        guard offset < bytes.count else {
            throw ParseError(
                offset: bytes.fileOffset, field: "symbol record offset",
                kind: .outOfBounds(offset: Int64(offset), size: 4, fileSize: Int64(bytes.count)))
        }
        var iterator = SymbolRecordIterator(bytes.suffix(from: Int(offset)), base: Int(offset))
        guard let record = try iterator.next() else {
            throw ParseError(
                offset: bytes.fileOffset + Int64(offset), field: "symbol record", kind: .truncated(needed: 4, available: 0))
        }
        return record
    }
}
