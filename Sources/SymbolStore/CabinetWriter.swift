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
        var blocks = [[UInt8]]()
        var start = 0
        repeat {
            let end = min(start + blockSize, contents.count)
            blocks.append(compressBlock(contents, from: start, to: end))
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

    /// `CK` and one final deflate block for `input[from..<to]`.
    static func compressBlock(_ input: [UInt8], from start: Int, to end: Int) -> [UInt8] {
        var bits = LSBBitWriter()
        bits.bytes = [0x43, 0x4B]
        bits.write(1, count: 1)  // BFINAL
        bits.write(1, count: 2)  // BTYPE = fixed Huffman
        var head = [Int](repeating: -1, count: 1 << 15)
        func hash(_ at: Int) -> Int {
            (Int(input[at]) << 10 ^ Int(input[at + 1]) << 5 ^ Int(input[at + 2])) & 0x7FFF
        }
        // Prime the hash with the previous block, which the decoder still holds.
        var prime = max(0, start - Inflater.windowSize)
        while prime + 2 < start {
            head[hash(prime)] = prime
            prime += 1
        }
        var at = start
        while at < end {
            var length = 0
            var distance = 0
            if at + 2 < end {
                let key = hash(at)
                let candidate = head[key]
                head[key] = at
                if candidate >= 0, at - candidate <= Inflater.windowSize {
                    let limit = min(258, end - at)
                    while length < limit && input[candidate + length] == input[at + length] { length += 1 }
                    distance = at - candidate
                }
            }
            if length >= 3 {
                writeLength(&bits, length)
                writeDistance(&bits, distance)
                for skipped in (at + 1)..<(at + length) where skipped + 2 < end { head[hash(skipped)] = skipped }
                at += length
            } else {
                writeLiteral(&bits, Int(input[at]))
                at += 1
            }
        }
        writeLiteral(&bits, 256)
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

    static func writeLiteral(_ bits: inout LSBBitWriter, _ symbol: Int) {
        switch symbol {
        case 0..<144: bits.writeCode(0x30 + symbol, length: 8)
        case 144..<256: bits.writeCode(0x190 + symbol - 144, length: 9)
        case 256..<280: bits.writeCode(symbol - 256, length: 7)
        default: bits.writeCode(0xC0 + symbol - 280, length: 8)
        }
    }

    static func writeLength(_ bits: inout LSBBitWriter, _ length: Int) {
        var index = Inflater.lengthBase.count - 1
        while Inflater.lengthBase[index] > length { index -= 1 }
        writeLiteral(&bits, 257 + index)
        bits.write(length - Inflater.lengthBase[index], count: Inflater.lengthExtra[index])
    }

    static func writeDistance(_ bits: inout LSBBitWriter, _ distance: Int) {
        var index = Inflater.distanceBase.count - 1
        while Inflater.distanceBase[index] > distance { index -= 1 }
        bits.writeCode(index, length: 5)
        bits.write(distance - Inflater.distanceBase[index], count: Inflater.distanceExtra[index])
    }
}

/// Writes bits least significant first.
struct LSBBitWriter {
    var bytes = [UInt8]()
    var buffer: UInt64 = 0
    var count = 0

    mutating func write(_ value: Int, count bitCount: Int) {
        buffer |= UInt64(value) << UInt64(count)
        count += bitCount
        while count >= 8 {
            bytes.append(UInt8(buffer & 0xFF))
            buffer >>= 8
            count -= 8
        }
    }

    /// Writes a Huffman code, whose bits go most significant first.
    mutating func writeCode(_ code: Int, length: Int) {
        var reversed = 0
        for bit in 0..<length where code & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
        write(reversed, count: length)
    }

    mutating func flush() {
        if count > 0 { bytes.append(UInt8(buffer & 0xFF)) }
        buffer = 0
        count = 0
    }
}
