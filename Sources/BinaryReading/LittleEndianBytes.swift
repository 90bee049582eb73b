extension Array where Element == UInt32 {
    /// The words as bytes in little-endian order, copied in one go (writers of binary formats
    /// build tables as words: appending them byte by byte cost more than the rest of the writing).
    public var littleEndianBytes: [UInt8] {
        let words = 1.littleEndian == 1 ? self : map(\.littleEndian)
        return words.withUnsafeBytes { [UInt8]($0) }
    }
}
