import BinaryReading

/// A DEFLATE decoder (RFC 1951) that appends to an output buffer whose earlier bytes
/// serve as the history window, as MSZIP needs: each CAB data block is a complete deflate
/// stream, but matches may reach back into the blocks before it (up to 32 KiB).
struct Inflater {
    /// The history a match may reach back into (32 KiB).
    static let windowSize = 32768
    /// Why a deflate stream was rejected.
    enum Failure: Error, Equatable {
        case truncated
        case invalid(String)
        case outputLimit
    }

    /// Decodes one complete deflate stream (up to its final block) from `input`,
    /// appending at most `limit` bytes to `output`. Returns the number of input bytes used.
    @discardableResult
    static func inflate(_ input: ByteView, into output: inout [UInt8], limit: Int) throws(Failure) -> Int {
        var bits = LSBBitReader(input)
        let stop = output.count + limit
        while true {
            let final = try bits.take(1)
            let type = try bits.take(2)
            switch type {
            case 0:
                bits.alignToByte()
                let length = try bits.take(16)
                let complement = try bits.take(16)
                guard length == ~complement & 0xFFFF else { throw .invalid("stored block length check") }
                guard output.count + length <= stop else { throw .outputLimit }
                for _ in 0..<length { output.append(UInt8(try bits.take(8))) }
            case 1:
                try decodeBlock(&bits, &output, stop: stop, literals: fixedTables.literals, distances: fixedTables.distances)
            case 2:
                let tables = try readDynamicTables(&bits)
                try decodeBlock(&bits, &output, stop: stop, literals: tables.literals, distances: tables.distances)
            default:
                throw .invalid("block type 3")
            }
            if final == 1 { break }
        }
        bits.alignToByte()
        return bits.bytePosition
    }

    // MARK: Huffman codes

    /// A canonical Huffman code: how many codes of each length, and the symbols in code order.
    struct Code {
        var counts = [Int](repeating: 0, count: 17)
        var symbols: [Int] = []

        /// Builds the code from code lengths; rejects over-subscribed sets
        /// (incomplete sets are allowed, as zlib allows a single distance code).
        init(lengths: [Int]) throws(Failure) {
            for length in lengths { counts[length] += 1 }
            counts[0] = 0
            var left = 1
            for length in 1...16 {
                left <<= 1
                left -= counts[length]
                guard left >= 0 else { throw .invalid("over-subscribed Huffman code") }
            }
            var offsets = [Int](repeating: 0, count: 17)
            for length in 1..<16 { offsets[length + 1] = offsets[length] + counts[length] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
        }

        /// Reads one symbol, a bit at a time (codes are stored most significant bit first).
        func decode<Bits: HuffmanBitSource>(_ bits: inout Bits) throws(Failure) -> Int {
            var code = 0
            var first = 0
            var index = 0
            for length in 1...16 {
                code |= try bits.take(1)
                let count = counts[length]
                if code - first < count { return symbols[index + code - first] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw .invalid("no Huffman code matches")
        }
    }

    static let fixedTables: (literals: Code, distances: Code) = {
        var lengths = [Int](repeating: 8, count: 288)
        for symbol in 144..<256 { lengths[symbol] = 9 }
        for symbol in 256..<280 { lengths[symbol] = 7 }
        // Both are complete codes built from constants: they cannot fail.
        let literals = try! Code(lengths: lengths)
        let distances = try! Code(lengths: [Int](repeating: 5, count: 30))
        return (literals, distances)
    }()

    static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
        8193, 12289, 16385, 24577,
    ]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    /// The order in which code-length code lengths are stored (RFC 1951 3.2.7).
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static func readDynamicTables(_ bits: inout LSBBitReader) throws(Failure) -> (literals: Code, distances: Code) {
        let literalCount = try bits.take(5) + 257
        let distanceCount = try bits.take(5) + 1
        let codeLengthCount = try bits.take(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw .invalid("too many codes") }
        var codeLengthLengths = [Int](repeating: 0, count: 19)
        for index in 0..<codeLengthCount { codeLengthLengths[codeLengthOrder[index]] = try bits.take(3) }
        let codeLengthCode = try Code(lengths: codeLengthLengths)
        var lengths = [Int]()
        let total = literalCount + distanceCount
        while lengths.count < total {
            let symbol = try codeLengthCode.decode(&bits)
            switch symbol {
            case 0..<16:
                lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw .invalid("repeat with no previous length") }
                lengths += repeatElement(previous, count: 3 + (try bits.take(2)))
            case 17:
                lengths += repeatElement(0, count: 3 + (try bits.take(3)))
            default:
                lengths += repeatElement(0, count: 11 + (try bits.take(7)))
            }
        }
        guard lengths.count == total else { throw .invalid("code lengths overrun the table") }
        guard lengths[256] != 0 else { throw .invalid("no end-of-block code") }
        return (try Code(lengths: Array(lengths[0..<literalCount])), try Code(lengths: Array(lengths[literalCount...])))
    }

    static func decodeBlock(_ bits: inout LSBBitReader, _ output: inout [UInt8], stop: Int, literals: Code, distances: Code)
        throws(Failure)
    {
        while true {
            let symbol = try literals.decode(&bits)
            if symbol < 256 {
                guard output.count < stop else { throw .outputLimit }
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let lengthIndex = symbol - 257
                guard lengthIndex < lengthBase.count else { throw .invalid("length symbol \(symbol)") }
                let length = lengthBase[lengthIndex] + (try bits.take(lengthExtra[lengthIndex]))
                let distanceSymbol = try distances.decode(&bits)
                guard distanceSymbol < distanceBase.count else { throw .invalid("distance symbol \(distanceSymbol)") }
                let distance = distanceBase[distanceSymbol] + (try bits.take(distanceExtra[distanceSymbol]))
                guard distance <= output.count else {
                    throw .invalid("distance \(distance) reaches before the start of the data")
                }
                guard output.count + length <= stop else { throw .outputLimit }
                var from = output.count - distance
                for _ in 0..<length {
                    output.append(output[from])
                    from += 1
                }
            }
        }
    }
}

/// A source of single bits for Huffman decoding.
protocol HuffmanBitSource {
    mutating func take(_ count: Int) throws(Inflater.Failure) -> Int
}

/// Reads bits least significant first, as DEFLATE stores them.
struct LSBBitReader: HuffmanBitSource {
    let bytes: ByteView
    var position = 0
    var buffer: UInt64 = 0
    var available = 0

    init(_ bytes: ByteView) { self.bytes = bytes }

    /// Reads `count` (0...16) bits.
    mutating func take(_ count: Int) throws(Inflater.Failure) -> Int {
        while available < count {
            guard position < bytes.count else { throw .truncated }
            buffer |= UInt64(bytes[position]) << UInt64(available)
            position += 1
            available += 8
        }
        let value = Int(buffer & ((1 << UInt64(count)) - 1))
        buffer >>= UInt64(count)
        available -= count
        return value
    }

    /// Drops the bits left in the current byte.
    mutating func alignToByte() {
        let drop = available % 8
        buffer >>= UInt64(drop)
        available -= drop
    }

    /// Input bytes consumed, counting whole bytes still buffered as unread.
    var bytePosition: Int { position - available / 8 }
}
