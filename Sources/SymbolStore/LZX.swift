import BinaryReading

/// An LZX decoder for CAB folders (the format of `[MS-PATCH]` LZX DELTA without the
/// delta parts, as Microsoft's cabinet tools write it): verbatim, aligned-offset and
/// uncompressed blocks, window 2^15…2^21, repeated offsets R0–R2, and the E8 call
/// translation applied to each 32 KiB frame.
///
/// The input is one bitstream over all of a folder's data blocks. Each data block holds
/// one frame (32 KiB of output, the last one shorter); after each frame the bitstream is
/// realigned to 16 bits ([MS-PATCH] 2.2, chunks). The state (window, trees, repeated
/// offsets, the current block) carries over from frame to frame.
struct LZXDecoder {
    static let blockVerbatim = 1
    static let blockAligned = 2
    static let blockUncompressed = 3
    static let lengthTreeSize = 249
    static let pretreeSize = 20
    static let minimumMatch = 2

    /// Footer bits of each position slot: 0,0,0,0,1,1,2,2,… capped at 17.
    static let extraBits: [Int] = (0..<51).map { slot in slot < 4 ? 0 : min(slot / 2 - 1, 17) }
    /// First formatted offset of each position slot.
    static let positionBase: [Int] = {
        var base = [0]
        for slot in 0..<50 { base.append(base[slot] + (1 << extraBits[slot])) }
        return base
    }()

    let windowBits: Int
    let positionSlots: Int
    var window: [UInt8]
    /// Bytes decoded so far (they may run ahead of the bytes handed out by up to one match).
    var decoded = 0
    /// Bytes handed out so far.
    var emitted = 0
    var started = false
    var translationSize = 0
    var blockType = 0
    var blockRemaining = 0
    var blockIsOdd = false
    var mainLengths: [Int]
    var lengthLengths = [Int](repeating: 0, count: lengthTreeSize)
    var mainTree: Inflater.Code?
    var lengthTree: Inflater.Code?
    var alignedTree: Inflater.Code?
    var r0 = 1, r1 = 1, r2 = 1

    /// The bitstream over the folder's concatenated data blocks.
    var bits: MSBWordReader

    init(windowBits: Int, input: ByteView) {
        self.windowBits = windowBits
        bits = MSBWordReader(input)
        positionSlots = windowBits == 21 ? 50 : (windowBits == 20 ? 42 : windowBits * 2)
        window = [UInt8](repeating: 0, count: 1 << windowBits)
        mainLengths = [Int](repeating: 0, count: 256 + positionSlots * 8)
    }

    /// Decodes the next frame, of `size` bytes, and appends it to `output`.
    mutating func decodeFrame(size uncompressedSize: Int, into output: inout [UInt8]) throws(Inflater.Failure) {
        var bits = self.bits
        defer { self.bits = bits }
        if !started {
            started = true
            if try bits.take(1) == 1 {
                let high = try bits.take(16)
                let low = try bits.take(16)
                translationSize = high << 16 | low
            }
        }
        let target = emitted + uncompressedSize
        while decoded < target {
            if blockRemaining == 0 {
                if blockType == Self.blockUncompressed && blockIsOdd {
                    try bits.skipBytes(1)
                }
                try readBlockHeader(&bits)
            }
            if blockType == Self.blockUncompressed {
                let run = min(blockRemaining, target - decoded)
                for _ in 0..<run { put(UInt8(try bits.readByte())) }
                blockRemaining -= run
            } else {
                while blockRemaining > 0 && decoded < target {
                    blockRemaining -= try decodeElement(&bits)
                    guard blockRemaining >= 0 else { throw .invalid("a match runs past the end of its block") }
                }
            }
        }
        // Hand out exactly this frame; bytes of a match that ran past it stay for the next frame.
        var frame = [UInt8](repeating: 0, count: uncompressedSize)
        let mask = window.count - 1
        for index in 0..<uncompressedSize { frame[index] = window[(emitted + index) & mask] }
        if translationSize != 0, uncompressedSize > 10, emitted < 32768 * 32768 {
            translateCalls(&frame, framePosition: emitted)
        }
        emitted = target
        output += frame
        bits.alignToWord()
    }

    mutating func put(_ byte: UInt8) {
        window[decoded & (window.count - 1)] = byte
        decoded += 1
    }

    mutating func readBlockHeader(_ bits: inout MSBWordReader) throws(Inflater.Failure) {
        blockType = try bits.take(3)
        let high = try bits.take(16)
        let low = try bits.take(8)
        blockRemaining = high << 8 | low
        guard blockRemaining > 0 else { throw .invalid("empty LZX block") }
        switch blockType {
        case Self.blockAligned, Self.blockVerbatim:
            if blockType == Self.blockAligned {
                var aligned = [Int]()
                for _ in 0..<8 { aligned.append(try bits.take(3)) }
                alignedTree = try Inflater.Code(lengths: aligned)
            }
            try readLengths(&bits, into: &mainLengths, from: 0, to: 256)
            try readLengths(&bits, into: &mainLengths, from: 256, to: mainLengths.count)
            mainTree = try Inflater.Code(lengths: mainLengths)
            try readLengths(&bits, into: &lengthLengths, from: 0, to: Self.lengthTreeSize)
            lengthTree = try Inflater.Code(lengths: lengthLengths)
        case Self.blockUncompressed:
            blockIsOdd = blockRemaining & 1 == 1
            try bits.alignForUncompressed()
            r0 = try bits.readUInt32()
            r1 = try bits.readUInt32()
            r2 = try bits.readUInt32()
        default:
            throw .invalid("LZX block type \(blockType)")
        }
    }

    /// Reads code lengths `from..<to` as deltas from the previous block's, through a pretree.
    func readLengths(_ bits: inout MSBWordReader, into lengths: inout [Int], from first: Int, to last: Int) throws(Inflater
        .Failure)
    {
        var pretreeLengths = [Int]()
        for _ in 0..<Self.pretreeSize { pretreeLengths.append(try bits.take(4)) }
        let pretree = try Inflater.Code(lengths: pretreeLengths)
        var index = first
        while index < last {
            let symbol = try pretree.decode(&bits)
            var run = 1
            var value = 0
            switch symbol {
            case 17:
                run = 4 + (try bits.take(4))
            case 18:
                run = 20 + (try bits.take(5))
            case 19:
                run = 4 + (try bits.take(1))
                let next = try pretree.decode(&bits)
                guard next <= 16 else { throw .invalid("pretree run of a run") }
                value = (lengths[index] - next + 17) % 17
            default:
                value = (lengths[index] - symbol + 17) % 17
            }
            guard index + run <= last else { throw .invalid("pretree run past the end of the tree") }
            for offset in 0..<run { lengths[index + offset] = value }
            index += run
        }
    }

    /// Decodes a literal or a match into the window; returns the number of bytes produced.
    mutating func decodeElement(_ bits: inout MSBWordReader) throws(Inflater.Failure) -> Int {
        guard let mainTree, let lengthTree else { throw .invalid("no trees") }
        let element = try mainTree.decode(&bits)
        if element < 256 {
            put(UInt8(element))
            return 1
        }
        let lengthHeader = (element - 256) & 7
        let slot = (element - 256) >> 3
        var length = lengthHeader + Self.minimumMatch
        if lengthHeader == 7 { length += try lengthTree.decode(&bits) }
        let offset: Int
        switch slot {
        case 0:
            offset = r0
        case 1:
            offset = r1
            r1 = r0
            r0 = offset
        case 2:
            offset = r2
            r2 = r0
            r0 = offset
        default:
            let extra = Self.extraBits[slot]
            var formatted = Self.positionBase[slot]
            if blockType == Self.blockAligned && extra >= 3 {
                guard let alignedTree else { throw .invalid("no aligned tree") }
                formatted += (try bits.take(extra - 3)) << 3
                formatted += try alignedTree.decode(&bits)
            } else if extra > 0 {
                formatted += try bits.take(extra)
            }
            offset = formatted - 2
            r2 = r1
            r1 = r0
            r0 = offset
        }
        guard offset > 0, offset <= decoded, offset <= window.count else {
            throw .invalid("match offset \(offset) reaches before the start of the data")
        }
        let mask = window.count - 1
        var from = decoded - offset
        for _ in 0..<length {
            put(window[from & mask])
            from += 1
        }
        return length
    }

    /// Undoes the E8 (x86 CALL) translation of the encoder: absolute targets back to relative.
    func translateCalls(_ frame: inout [UInt8], framePosition: Int) {
        var index = 0
        while index < frame.count - 10 {
            guard frame[index] == 0xE8 else {
                index += 1
                continue
            }
            let current = framePosition + index
            let absolute = Int(
                Int32(
                    bitPattern: UInt32(frame[index + 1]) | UInt32(frame[index + 2]) << 8 | UInt32(frame[index + 3]) << 16
                        | UInt32(frame[index + 4]) << 24))
            if absolute >= -current && absolute < translationSize {
                let relative = absolute >= 0 ? absolute - current : absolute + translationSize
                let bits = UInt32(truncatingIfNeeded: relative)
                for byte in 0..<4 { frame[index + 1 + byte] = UInt8(truncatingIfNeeded: bits >> UInt32(8 * byte)) }
            }
            index += 5
        }
    }
}

/// Reads LZX's bitstream: 16-bit little-endian words, bits taken most significant first.
struct MSBWordReader: HuffmanBitSource {
    let bytes: ByteView
    var position = 0
    /// Unread bits, aligned to the top.
    var buffer: UInt32 = 0
    var available = 0

    init(_ bytes: ByteView) { self.bytes = bytes }

    /// Reads `count` (0...17) bits.
    mutating func take(_ count: Int) throws(Inflater.Failure) -> Int {
        guard count > 0 else { return 0 }
        while available < count {
            guard position + 1 < bytes.count else { throw .truncated }
            let word = UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8
            position += 2
            buffer |= word << UInt32(16 - available)
            available += 16
        }
        let value = Int(buffer >> UInt32(32 - count))
        buffer = count == 32 ? 0 : buffer << UInt32(count)
        available -= count
        return value
    }

    /// Drops the bits left in the current 16-bit word (the padding at the end of a frame).
    mutating func alignToWord() {
        let drop = available % 16
        buffer <<= UInt32(drop)
        available -= drop
    }

    /// The 1 to 16 bits of padding before an uncompressed block's R0–R2.
    mutating func alignForUncompressed() throws(Inflater.Failure) {
        if available >= 16 {
            position -= 2
            available -= 16
        }
        if available == 0 {
            guard position + 1 < bytes.count else { throw .truncated }
            position += 2
        }
        buffer = 0
        available = 0
    }

    /// A raw byte (only inside uncompressed blocks, where the bit buffer is empty).
    mutating func readByte() throws(Inflater.Failure) -> Int {
        guard position < bytes.count else { throw .truncated }
        defer { position += 1 }
        return Int(bytes[position])
    }

    mutating func readUInt32() throws(Inflater.Failure) -> Int {
        var value = 0
        for shift in 0..<4 { value |= try readByte() << (8 * shift) }
        return value
    }

    mutating func skipBytes(_ count: Int) throws(Inflater.Failure) {
        guard position + count <= bytes.count else { throw .truncated }
        position += count
    }
}
