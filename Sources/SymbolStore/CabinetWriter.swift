/// Writes a one-file cabinet compressed with MSZIP, as `symstore /compress` stores files.
///
/// Each 32 KiB of input becomes one `CFDATA` block holding `CK` and a deflate stream; the
/// encoder uses the fixed Huffman code with greedy matches (reaching into the previous
/// block, as MSZIP allows), and a stored block when that would be larger.
public enum CabinetWriter {
    static let blockSize = 32768

    /// The cabinet bytes for one file named `name` with `contents`.
    /// `dosDate` and `dosTime` are the MS-DOS date and time stored in `CFFILE`.
    public static func mszipCabinet(name: String, contents: [UInt8], dosDate: UInt16 = 0, dosTime: UInt16 = 0) -> [UInt8] {
        var encoder = MSZIPEncoder()
        var blocks = [[UInt8]]()
        var start = 0
        repeat {
            let end = min(start + blockSize, contents.count)
            blocks.append(encoder.compressBlock(contents, from: start, to: end))
            start = end
        } while start < contents.count
        let nameBytes = Array(name.utf8) + [0]
        let headerSize = 36
        let folderSize = 8
        let fileSize = 16 + nameBytes.count
        let dataStart = headerSize + folderSize + fileSize
        let total = dataStart + blocks.reduce(0) { $0 + 8 + $1.count }
        var out = [UInt8]()
        out.reserveCapacity(total)
        func u16(_ value: Int) { out += [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF)] }
        func u32(_ value: Int) { u16(value & 0xFFFF); u16((value >> 16) & 0xFFFF) }
        // CFHEADER
        out += Array("MSCF".utf8)
        u32(0)
        u32(total)  // cbCabinet
        u32(0)
        u32(headerSize + folderSize)  // coffFiles
        u32(0)
        out += [3, 1]  // versionMinor, versionMajor
        u16(1)  // cFolders
        u16(1)  // cFiles
        u16(0)  // flags
        u16(0)  // setID
        u16(0)  // iCabinet
        // CFFOLDER
        u32(dataStart)
        u16(blocks.count)
        u16(Int(Cabinet.CompressionType.mszip.rawValue))
        // CFFILE
        u32(contents.count)
        u32(0)  // uoffFolderStart
        u16(0)  // iFolder
        u16(Int(dosDate))
        u16(Int(dosTime))
        u16(0x20)  // _A_ARCH
        out += nameBytes
        // CFDATA
        var position = 0
        for block in blocks {
            let uncompressed = min(blockSize, contents.count - position)
            position += uncompressed
            let sizes: [UInt8] = [
                UInt8(block.count & 0xFF), UInt8(block.count >> 8), UInt8(uncompressed & 0xFF), UInt8(uncompressed >> 8),
            ]
            let dataSum = block.withUnsafeBytes { Cabinet.checksum($0, seed: 0) }
            let checksum = sizes.withUnsafeBytes { Cabinet.checksum($0, seed: dataSum) }
            u32(Int(checksum))
            out += sizes
            out += block
        }
        return out
    }
}

/// The deflate side of MSZIP: greedy LZ77 matches coded with the fixed Huffman code.
///
/// One encoder serves every block of a file, so its hash table still holds the positions of
/// the previous block, which the decoder keeps as its window. Codes are looked up in tables
/// built once, with their bits already in the order deflate writes them.
struct MSZIPEncoder {
    /// The latest position of each 3-byte hash, as offsets into the file (-1: none).
    private var head = [Int32](repeating: -1, count: 1 << MSZIPEncoder.hashBits)
    private static let hashBits = 15

    /// `CK` and one final deflate block for `input[start..<end]`, or a stored block when that is smaller.
    mutating func compressBlock(_ input: [UInt8], from start: Int, to end: Int) -> [UInt8] {
        var bits = LSBBitWriter()
        bits.bytes.reserveCapacity((end - start) + (end - start) / 8 + 16)
        bits.bytes += [0x43, 0x4B]
        bits.write(0b011, count: 3)  // BFINAL, BTYPE = fixed Huffman
        let literals = Self.literalCodes
        let lengths = Self.lengthCodes
        let window = Inflater.windowSize
        let hashShift = 32 - Self.hashBits
        // The table leaves `self` while its span is open, so that no copy is made.
        var table = [Int32]()
        swap(&table, &head)
        defer { swap(&table, &head) }
        let bytes = input.span
        var head = table.mutableSpan
        var at = start
        while at < end {
            var length = 0
            var distance = 0
            if at + 2 < end {
                let key = Self.hash(bytes, at, shift: hashShift)
                let candidate = Int(head[key])
                head[key] = Int32(truncatingIfNeeded: at)
                if candidate >= 0, at - candidate <= window {
                    let limit = min(258, end - at)
                    while length < limit && bytes[candidate + length] == bytes[at + length] { length += 1 }
                    distance = at - candidate
                }
            }
            if length >= 3 {
                let code = lengths[length]
                bits.write(Int(code & 0xFFFF), count: Int(code >> 16))
                let (distanceCode, distanceBits) = Self.distanceCode(distance)
                bits.write(distanceCode, count: distanceBits)
                var skipped = at + 1
                let last = min(at + length, end - 2)
                while skipped < last {
                    head[Self.hash(bytes, skipped, shift: hashShift)] = Int32(truncatingIfNeeded: skipped)
                    skipped += 1
                }
                at += length
            } else {
                let code = literals[Int(bytes[at])]
                bits.write(Int(code & 0xFFFF), count: Int(code >> 16))
                at += 1
            }
        }
        let endCode = literals[256]
        bits.write(Int(endCode & 0xFFFF), count: Int(endCode >> 16))
        bits.flush()
        let count = end - start
        // A stored block costs 5 bytes of header; use it when the code does not pay.
        if bits.bytes.count > count + 7 {
            var stored: [UInt8] = [
                0x43, 0x4B, 0x01, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF),
            ]
            stored += input[start..<end]
            return stored
        }
        return bits.bytes
    }

    /// A multiplicative hash of the three bytes at `at`.
    @inline(__always)
    private static func hash(_ bytes: borrowing Span<UInt8>, _ at: Int, shift: Int) -> Int {
        let value = UInt32(bytes[at]) << 16 | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2])
        return Int((value &* 2_654_435_761) >> UInt32(shift))
    }

    /// Fixed-code literal/length symbols 0...287: bit count << 16 | code bits in writing order.
    static let literalCodes: [UInt32] = (0..<288).map { symbol in
        let (code, length): (Int, Int)
        switch symbol {
        case 0..<144: (code, length) = (0x30 + symbol, 8)
        case 144..<256: (code, length) = (0x190 + symbol - 144, 9)
        case 256..<280: (code, length) = (symbol - 256, 7)
        default: (code, length) = (0xC0 + symbol - 280, 8)
        }
        return UInt32(length) << 16 | UInt32(reversed(code, length))
    }

    /// Match lengths 0...258 (3 and up used): the length symbol's code followed by its extra bits.
    static let lengthCodes: [UInt32] = (0...258).map { length in
        guard length >= 3 else { return 0 }
        var index = Inflater.lengthBase.count - 1
        while Inflater.lengthBase[index] > length { index -= 1 }
        let symbol = literalCodes[257 + index]
        let symbolBits = Int(symbol >> 16)
        let extra = UInt32(length - Inflater.lengthBase[index]) << UInt32(symbolBits)
        return UInt32(symbolBits + Inflater.lengthExtra[index]) << 16 | (symbol & 0xFFFF) | extra
    }

    /// The distance symbol's 5-bit code followed by its extra bits, and their total count.
    @inline(__always)
    static func distanceCode(_ distance: Int) -> (bits: Int, count: Int) {
        // Symbols pair up per power of two: 2·log2(d−1) and one more when the next bit is set.
        let index: Int
        if distance <= 4 {
            index = distance - 1
        } else {
            let log = Int.bitWidth - 1 - (distance - 1).leadingZeroBitCount
            index = 2 * log + (((distance - 1) >> (log - 1)) & 1)
        }
        let extraCount = Inflater.distanceExtra[index]
        return (reversedDistanceSymbols[index] | (distance - Inflater.distanceBase[index]) << 5, 5 + extraCount)
    }

    private static let reversedDistanceSymbols: [Int] = (0..<30).map { reversed($0, 5) }

    /// `code`'s low `length` bits in reverse order: Huffman codes are written most significant bit first.
    private static func reversed(_ code: Int, _ length: Int) -> Int {
        var result = 0
        for bit in 0..<length where code & (1 << bit) != 0 { result |= 1 << (length - 1 - bit) }
        return result
    }
}

/// Writes bits least significant first.
struct LSBBitWriter {
    var bytes = [UInt8]()
    var buffer: UInt64 = 0
    var count = 0

    /// Appends the low `bitCount` (at most 32) bits of `value`.
    @inline(__always)
    mutating func write(_ value: Int, count bitCount: Int) {
        buffer |= UInt64(truncatingIfNeeded: value) << UInt64(count)
        count += bitCount
        if count >= 32 {
            // Four bytes at a time: a byte per append cost as much as finding the matches.
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            bytes.append(UInt8(truncatingIfNeeded: buffer >> 8))
            bytes.append(UInt8(truncatingIfNeeded: buffer >> 16))
            bytes.append(UInt8(truncatingIfNeeded: buffer >> 24))
            buffer >>= 32
            count -= 32
        }
    }

    /// Writes out the bits held, the last byte padded with zeros.
    mutating func flush() {
        while count > 0 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            count -= 8
        }
        buffer = 0
        count = 0
    }
}
