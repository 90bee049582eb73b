import BinaryReading

/// The `/names` stream: `PDBStringTableHeader` (12 bytes), the strings, a hash of their
/// offsets, and the string count (LLVM's `PDBStringTable`). File names of line tables and
/// new-FPO programs are offsets into its string buffer.
public struct PDBStringTable: Sendable {
    /// `Signature`: 0xEFFEEFFE.
    public var signature: UInt32
    /// `HashVersion`: 1 or 2.
    public var hashVersion: UInt32
    /// The string buffer (`ByteSize` bytes).
    public let strings: ByteView
    /// Offsets of the strings, from the hash table (0 entries are empty buckets).
    public var ids: [UInt32]
    /// `NameCount`.
    public var nameCount: UInt32

    /// `PDBStringTableSignature`.
    public static let signatureValue: UInt32 = 0xEFFE_EFFE

    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        signature = try reader.read(UInt32.self, "PDBStringTableHeader.Signature")
        guard signature == Self.signatureValue else {
            throw ParseError(
                offset: bytes.fileOffset, field: "PDBStringTableHeader.Signature",
                kind: .badSignature(expected: "0xeffeeffe", found: "0x" + String(signature, radix: 16)))
        }
        hashVersion = try reader.read(UInt32.self, "PDBStringTableHeader.HashVersion")
        let size = try reader.read(UInt32.self, "PDBStringTableHeader.ByteSize")
        strings = try reader.readBytes(size, "PDBStringTable strings")
        let hashCount = Int(try reader.read(UInt32.self, "PDBStringTable.HashCount"))
        ids = try reader.readArray(UInt32.self, count: hashCount, "PDBStringTable.IDs")
        nameCount = try reader.read(UInt32.self, "PDBStringTable.NameCount")
    }

    /// The string at `offset`; nil when the offset is outside the buffer.
    public func string(at offset: UInt32) -> String? {
        guard offset < strings.count else { return nil }
        return strings.suffix(from: Int(offset)).cString
    }
}
