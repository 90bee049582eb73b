import BinaryReading

extension PEImage {
    /// The image checksum as `CheckSumMappedFile` (imagehlp) computes it.
    ///
    /// The file is summed as little-endian 16-bit words (an odd last byte is a word of its own)
    /// with end-around carry, the `CheckSum` field counting as zero; the sum is folded to 16 bits
    /// and the file length added.
    public func computeChecksum() -> UInt32 {
        Self.checksum(of: bytes, checkSumFieldOffset: Int(clamping: checkSumFieldOffset))
    }

    /// The `CheckSumMappedFile` checksum of `bytes`, with the four bytes at `checkSumFieldOffset` taken as zero.
    public static func checksum(of bytes: ByteView, checkSumFieldOffset: Int) -> UInt32 {
        bytes.withUnsafeBytes { buffer -> UInt32 in
            // A 64-bit accumulator cannot overflow for files below 2^48 bytes; fold at the end.
            var sum: UInt64 = 0
            let count = buffer.count
            let pairs = count / 2
            var index = 0
            while index < pairs {
                let low = UInt64(buffer[index * 2])
                let high = UInt64(buffer[index * 2 + 1])
                sum &+= low | (high << 8)
                index += 1
            }
            if count % 2 == 1 { sum &+= UInt64(buffer[count - 1]) }
            // Take the CheckSum field back out.
            if checkSumFieldOffset >= 0, checkSumFieldOffset + 4 <= count, checkSumFieldOffset % 2 == 0 {
                for word in 0..<2 {
                    let at = checkSumFieldOffset + word * 2
                    sum &-= UInt64(buffer[at]) | (UInt64(buffer[at + 1]) << 8)
                }
            }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            return UInt32(truncatingIfNeeded: sum &+ UInt64(count))
        }
    }
}
