import BinaryReading

/// Fixed stream indexes of a PDB (LLVM's `llvm.org/docs/PDB/index.html`, "Streams").
public enum PDBStreamIndex {
    /// Old directory (unused).
    public static let oldDirectory = 0
    /// PDB information stream.
    public static let info = 1
    /// TPI (type records).
    public static let tpi = 2
    /// DBI (debug information).
    public static let dbi = 3
    /// IPI (id records).
    public static let ipi = 4
}

/// `PdbStreamVersion` values of the info stream header.
public struct PDBStreamVersion: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `PdbImplVC70` (20000404): the version every current writer uses.
    public static let vc70 = PDBStreamVersion(rawValue: 20_000_404)
    /// `PdbImplVC140` (20140508).
    public static let vc140 = PDBStreamVersion(rawValue: 20_140_508)
}

/// PDB feature codes that follow the named stream map in the info stream.
public struct PDBFeature: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VC110` (20091201).
    public static let vc110 = PDBFeature(rawValue: 20_091_201)
    /// `VC140` (20140508): the file has an IPI stream.
    public static let vc140 = PDBFeature(rawValue: 20_140_508)
    /// `NoTypeMerge` (`'MTOM'`).
    public static let noTypeMerge = PDBFeature(rawValue: 0x4D54_4F4D)
    /// `MinimalDebugInfo` (`'INIM'`): /DEBUG:FASTLINK.
    public static let minimalDebugInfo = PDBFeature(rawValue: 0x494E_494D)
}

/// The PDB information stream (stream 1): `PdbStreamHeader` (28 bytes), the named stream
/// map, and feature codes (LLVM's `PdbStream.html`).
public struct PDBInfoStream: Sendable, Equatable {
    /// `Version`.
    public var version: PDBStreamVersion
    /// `Signature`: a time stamp written at link time.
    public var signature: UInt32
    /// `Age`: incremented on every write of the PDB. Debuggers match the DBI stream's age instead.
    public var age: UInt32
    /// `UniqueId`: the GUID the image's CodeView record repeats.
    public var guid: GUID
    /// The named stream map: `/names`, `/LinkInfo`, `/src/headerblock`, `srcsrv`, ... to stream index.
    public var namedStreams: [String: Int]
    /// Feature codes after the map.
    public var features: [PDBFeature]

    /// Decodes the stream.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        version = PDBStreamVersion(rawValue: try reader.read(UInt32.self, "PdbStreamHeader.Version"))
        signature = try reader.read(UInt32.self, "PdbStreamHeader.Signature")
        age = try reader.read(UInt32.self, "PdbStreamHeader.Age")
        guid = try reader.readGUID("PdbStreamHeader.UniqueId")
        namedStreams = try Self.readNamedStreamMap(&reader)
        var features = [PDBFeature]()
        while reader.remaining >= 4 {
            features.append(PDBFeature(rawValue: try reader.read(UInt32.self, "PDB feature code")))
        }
        self.features = features
    }

    /// The named stream map: a string buffer, then a serialized hash table of (string offset, stream index).
    static func readNamedStreamMap(_ reader: inout ByteReader) throws(ParseError) -> [String: Int] {
        let bufferSize = try reader.read(UInt32.self, "NamedStreamMap.StringBufferSize")
        let strings = try reader.readBytes(bufferSize, "NamedStreamMap.StringBuffer")
        let size = Int(try reader.read(UInt32.self, "NamedStreamMap.HashTable.Size"))
        let capacity = Int(try reader.read(UInt32.self, "NamedStreamMap.HashTable.Capacity"))
        guard size <= capacity else {
            throw ParseError(
                offset: reader.fileOffset - 8, field: "NamedStreamMap.HashTable.Size",
                kind: .invalidValue("size \(size) exceeds capacity \(capacity)"))
        }
        // Present and deleted bit vectors: a word count, then the words.
        let presentWords = Int(try reader.read(UInt32.self, "NamedStreamMap.HashTable.Present.WordCount"))
        let present = try reader.readArray(UInt32.self, count: presentWords, "NamedStreamMap.HashTable.Present")
        let deletedWords = Int(try reader.read(UInt32.self, "NamedStreamMap.HashTable.Deleted.WordCount"))
        try reader.skip(try Self.times4(deletedWords, reader), "NamedStreamMap.HashTable.Deleted")
        var presentCount = 0
        for word in present { presentCount += word.nonzeroBitCount }
        guard presentCount == size else {
            throw ParseError(
                offset: reader.fileOffset, field: "NamedStreamMap.HashTable.Present",
                kind: .invalidValue("\(presentCount) present buckets, Size says \(size)"))
        }
        try reader.checkCount(size, elementSize: 8, "NamedStreamMap.HashTable.Buckets")
        var map = [String: Int]()
        for _ in 0..<size {
            let keyAt = reader.fileOffset
            let key = try reader.read(UInt32.self, "NamedStreamMap key")
            let value = try reader.read(UInt32.self, "NamedStreamMap value")
            guard key < strings.count else {
                throw ParseError(
                    offset: keyAt, field: "NamedStreamMap key",
                    kind: .outOfBounds(offset: Int64(key), size: 1, fileSize: Int64(strings.count)))
            }
            map[strings.suffix(from: Int(key)).cString] = Int(value)
        }
        return map
    }

    static func times4(_ count: Int, _ reader: ByteReader) throws(ParseError) -> Int {
        try reader.checkCount(count, elementSize: 4, "word count")
        return count * 4
    }
}
