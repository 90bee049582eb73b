import BinaryReading
import Foundation
import TestSupport
import Testing

@testable import SymbolStore

/// Builds cabinets byte by byte from MS-CAB's field list, independently of `Cabinet`.
struct CabinetBuilder {
    var typeCompress: UInt16
    var fileName = "test.bin"
    /// (payload, uncompressed size) per CFDATA; checksums are left 0 (not checked).
    var blocks: [([UInt8], Int)]

    var bytes: [UInt8] {
        var out = [UInt8]()
        func u8(_ v: Int) { out.append(UInt8(truncatingIfNeeded: v)) }
        func u16(_ v: Int) { u8(v); u8(v >> 8) }
        func u32(_ v: Int) { u16(v); u16(v >> 16) }
        let name = Array(fileName.utf8) + [0]
        let dataStart = 36 + 8 + 16 + name.count
        let total = dataStart + blocks.reduce(0) { $0 + 8 + $1.0.count }
        let fileSize = blocks.reduce(0) { $0 + $1.1 }
        out += [0x4D, 0x53, 0x43, 0x46]
        u32(0); u32(total); u32(0); u32(44); u32(0)
        u8(3); u8(1); u16(1); u16(1); u16(0); u16(0); u16(0)
        u32(dataStart); u16(blocks.count); u16(Int(typeCompress))
        u32(fileSize); u32(0); u16(0); u16(0); u16(0); u16(0x20)
        out += name
        for (payload, size) in blocks {
            u32(0); u16(payload.count); u16(size)
            out += payload
        }
        return out
    }
}

/// Writes LZX's bitstream: bits most significant first into 16-bit little-endian words.
struct LZXBitWriter {
    var bytes = [UInt8]()
    var word = 0
    var used = 0

    mutating func bits(_ value: Int, _ count: Int) {
        for index in stride(from: count - 1, through: 0, by: -1) {
            word = word << 1 | (value >> index) & 1
            used += 1
            if used == 16 {
                bytes += [UInt8(word & 0xFF), UInt8(word >> 8)]
                word = 0
                used = 0
            }
        }
    }

    /// The 1–16 bits of padding before an uncompressed block's R0–R2.
    mutating func padForUncompressed() {
        bits(0, used == 0 ? 16 : 16 - used)
    }

    mutating func flush() {
        if used > 0 { bits(0, 16 - used) }
    }

    mutating func raw(_ data: [UInt8]) {
        precondition(used == 0)
        bytes += data
    }
}

@Suite(.ownThread) struct CabinetTests {
    static func open(_ bytes: [UInt8]) throws -> Cabinet {
        try Cabinet(bytes: MappedFile(bytes: bytes).bytes)
    }

    @Test(arguments: [0, 1, 100, 32768, 32769, 100_000])
    func mszipRoundTrip(size: Int) throws {
        var generator = SystemRandomNumberGenerator()
        // Half text-like (compressible), half random.
        let text = Array("the quick brown fox jumps over the lazy dog ".utf8)
        let contents = (0..<size).map { index in
            index % 1000 < 500 ? text[index % text.count] : UInt8.random(in: 0...255, using: &generator)
        }
        let cabinet = CabinetWriter.mszipCabinet(name: "a.pdb", contents: contents)
        let (name, bytes) = try Self.open(cabinet).extractSingleFile(limit: 1 << 20)
        #expect(name == "a.pdb")
        #expect(bytes == contents)
    }

    @Test func matchesReachAcrossBlocks() throws {
        // 20,000 random bytes five times over: each repeat matches 20,000 bytes back, often in the
        // previous 32 KiB block, which only an encoder whose table carries across blocks finds.
        var generator = SystemRandomNumberGenerator()
        let unit = (0..<20000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let contents = unit + unit + unit + unit + unit
        let cabinet = CabinetWriter.mszipCabinet(name: "r.pdb", contents: contents)
        // Only the first copy is incompressible; every later one is a match into the window.
        #expect(cabinet.count < unit.count + unit.count / 4)
        #expect(try Self.open(cabinet).extractSingleFile(limit: 1 << 20).1 == contents)
    }

    @Test func ourCabinetsReadByCabarchive() throws {
        let contents = (0..<70000).map { UInt8(truncatingIfNeeded: $0 * 7 / 13) }
        let folder = try makeTemporaryFolder("cab")
        defer { removeFolder(folder) }
        let path = folder + "/x.pd_"
        try Data(CabinetWriter.mszipCabinet(name: "x.pdb", contents: contents)).write(to: URL(fileURLWithPath: path))
        #expect(try cabarchiveExpand(path)["x.pdb"] == contents)
    }

    @Test func storedFolder() throws {
        let data = Array("hello, cabinet".utf8)
        let cabinet = try Self.open(CabinetBuilder(typeCompress: 0, blocks: [(data, data.count)]).bytes)
        #expect(try cabinet.extract(fileAt: 0, limit: 100) == data)
        #expect(throws: ParseError.self) { try cabinet.extract(fileAt: 0, limit: 5) }
    }

    @Test func checksumMismatchIsAnError() throws {
        var cabinet = CabinetWriter.mszipCabinet(name: "a", contents: Array(repeating: 7, count: 1000))
        // The checksum of the first CFDATA is at 36 + 8 + 16 + 2.
        cabinet[62] ^= 0x55
        #expect(throws: ParseError.self) { try Self.open(cabinet).extractSingleFile(limit: 1 << 20) }
    }

    @Test func malformedCabinetsNeverTrap() throws {
        let text = Array("symbol store symbol store symbol store 0123456789".utf8)
        let valid = CabinetWriter.mszipCabinet(name: "a.pdb", contents: (0..<5000).map { text[$0 % text.count] })
        var outcomes = 0
        // Every truncation.
        for length in 0..<valid.count {
            if (try? Self.open(Array(valid.prefix(length))).extractSingleFile(limit: 1 << 20)) == nil { outcomes += 1 }
        }
        #expect(outcomes == valid.count)
        // Byte flips at every position, with the checksums cleared so the decoder sees the damage.
        for position in 0..<valid.count {
            var damaged = valid
            damaged[position] ^= 0xA5
            damaged.replaceSubrange(60..<64, with: [0, 0, 0, 0])
            _ = try? Self.open(damaged).extractSingleFile(limit: 1 << 20)
        }
        // Huge declared sizes are refused before decoding.
        var huge = valid
        huge[44] = 0xFF; huge[45] = 0xFF; huge[46] = 0xFF; huge[47] = 0x7F
        #expect(throws: ParseError.self) { try Self.open(huge).extractSingleFile(limit: 1 << 20) }
        #expect(throws: ParseError.self) { try Self.open(Array("MSCF".utf8)) }
        #expect(throws: ParseError.self) { try Self.open(Array("NOTACAB".utf8)) }
    }

    // MARK: LZX, from blocks built by hand after the format description (no LZX writer exists
    // on Debian or PyPI: gcab, lcab and cabarchive write none; no fixture is LZX).

    static let lzxWindow15: UInt16 = 0x0F03

    @Test func lzxUncompressedBlockWithCallTranslation() throws {
        var bits = LZXBitWriter()
        bits.bits(1, 1)  // E8 translation on
        bits.bits(0x0001, 16)
        bits.bits(0x0000, 16)  // translation size 0x10000
        bits.bits(3, 3)  // uncompressed block
        bits.bits(24, 24)
        bits.padForUncompressed()
        bits.raw([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])  // R0, R1, R2
        var data = [UInt8](repeating: 0x90, count: 24)
        data.replaceSubrange(3..<8, with: [0xE8, 0x00, 0x01, 0x00, 0x00])  // absolute 0x100 at position 3
        data.replaceSubrange(10..<15, with: [0xE8, 0xFE, 0xFF, 0xFF, 0xFF])  // absolute -2 at position 10
        bits.raw(data)
        let cabinet = try Self.open(CabinetBuilder(typeCompress: Self.lzxWindow15, blocks: [(bits.bytes, 24)]).bytes)
        var expected = data
        expected.replaceSubrange(4..<8, with: [0xFD, 0x00, 0x00, 0x00])  // 0x100 - 3
        expected.replaceSubrange(11..<15, with: [0xFE, 0xFF, 0x00, 0x00])  // -2 + 0x10000
        #expect(try cabinet.extract(fileAt: 0, limit: 100) == expected)
    }

    /// Writes a pretree (lengths: 0→2, 14→2, 15→2, 17→3, 18→3) and returns its codes.
    static func writePretree(_ bits: inout LZXBitWriter) -> [Int: (Int, Int)] {
        var lengths = [Int](repeating: 0, count: 20)
        lengths[0] = 2; lengths[14] = 2; lengths[15] = 2; lengths[17] = 3; lengths[18] = 3
        for length in lengths { bits.bits(length, 4) }
        // Canonical codes: 0→00, 14→01, 15→10, 17→110, 18→111.
        return [0: (0b00, 2), 14: (0b01, 2), 15: (0b10, 2), 17: (0b110, 3), 18: (0b111, 3)]
    }

    /// Writes tree lengths (all previous lengths 0) with the pretree above.
    static func writeLengths(_ bits: inout LZXBitWriter, _ lengths: [Int]) {
        let codes = writePretree(&bits)
        func put(_ symbol: Int) { bits.bits(codes[symbol]!.0, codes[symbol]!.1) }
        var index = 0
        while index < lengths.count {
            if lengths[index] == 0 {
                var run = 0
                while index + run < lengths.count && lengths[index + run] == 0 && run < 51 { run += 1 }
                if run >= 20 {
                    put(18); bits.bits(run - 20, 5)
                } else if run >= 4 {
                    put(17); bits.bits(run - 4, 4)
                } else {
                    run = 1
                    put(0)
                }
                index += run
            } else {
                put(17 - lengths[index])  // delta from 0: (0 - symbol + 17) % 17 = length
                index += 1
            }
        }
    }

    @Test func lzxVerbatimBlockWithMatchesAndRepeatedOffset() throws {
        var main = [Int](repeating: 0, count: 256 + 30 * 8)
        main[65] = 2; main[66] = 2; main[67] = 3; main[256] = 3; main[293] = 2
        // Canonical main codes: 65→00, 66→01, 293→10, 67→110, 256→111.
        var bits = LZXBitWriter()
        bits.bits(0, 1)  // no E8 translation
        bits.bits(1, 3)  // verbatim block
        bits.bits(12, 24)
        Self.writeLengths(&bits, Array(main[0..<256]))
        Self.writeLengths(&bits, Array(main[256...]))
        Self.writeLengths(&bits, [Int](repeating: 0, count: 249))
        bits.bits(0b00, 2)  // A
        bits.bits(0b01, 2)  // B
        bits.bits(0b10, 2)  // 293: slot 4, length header 5 → length 7
        bits.bits(0, 1)  // slot 4's one footer bit: offset 4 + 0 - 2 = 2
        bits.bits(0b110, 3)  // C
        bits.bits(0b111, 3)  // 256: slot 0 (R0 = 2), length 2
        bits.flush()
        let cabinet = try Self.open(CabinetBuilder(typeCompress: Self.lzxWindow15, blocks: [(bits.bytes, 12)]).bytes)
        #expect(try cabinet.extract(fileAt: 0, limit: 100) == Array("ABABABABACAC".utf8))
    }

    @Test func lzxAlignedOffsetBlock() throws {
        var main = [Int](repeating: 0, count: 256 + 30 * 8)
        main[65] = 2; main[66] = 2; main[67] = 3; main[256] = 3; main[293] = 3; main[325] = 3
        // Canonical main codes: 65→00, 66→01, 67→100, 256→101, 293→110, 325→111.
        var bits = LZXBitWriter()
        bits.bits(0, 1)
        bits.bits(2, 3)  // aligned offset block
        bits.bits(21, 24)
        for _ in 0..<8 { bits.bits(3, 3) }  // aligned tree: eight 3-bit codes, symbol i → i
        Self.writeLengths(&bits, Array(main[0..<256]))
        Self.writeLengths(&bits, Array(main[256...]))
        Self.writeLengths(&bits, [Int](repeating: 0, count: 249))
        bits.bits(0b00, 2)  // A
        bits.bits(0b01, 2)  // B
        bits.bits(0b110, 3)  // 293: slot 4 (one verbatim footer bit even in aligned blocks), length 7
        bits.bits(0, 1)  // offset 2
        bits.bits(0b100, 3)  // C
        bits.bits(0b101, 3)  // 256: R0, length 2
        bits.bits(0b100, 3)  // C
        bits.bits(0b100, 3)  // C
        bits.bits(0b111, 3)  // 325: slot 8 (3 footer bits, all from the aligned tree), length 7
        bits.bits(0b000, 3)  // aligned symbol 0: offset 16 + 0 - 2 = 14
        bits.flush()
        let cabinet = try Self.open(CabinetBuilder(typeCompress: Self.lzxWindow15, blocks: [(bits.bytes, 21)]).bytes)
        #expect(try cabinet.extract(fileAt: 0, limit: 100) == Array("ABABABABACACCCABABABA".utf8))
    }

    @Test func lzxUncompressedBlockSpanningFrames() throws {
        let data = (0..<40001).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var first = LZXBitWriter()
        first.bits(0, 1)
        first.bits(3, 3)
        first.bits(data.count, 24)
        first.padForUncompressed()
        first.raw([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
        first.raw(Array(data[0..<32768]))
        let second = Array(data[32768...])
        let cabinet = try Self.open(
            CabinetBuilder(typeCompress: Self.lzxWindow15, blocks: [(first.bytes, 32768), (second, data.count - 32768)]).bytes)
        #expect(try cabinet.extract(fileAt: 0, limit: 1 << 20) == data)
    }

    @Test func lzxOddUncompressedBlockIsPadded() throws {
        var bits = LZXBitWriter()
        bits.bits(0, 1)
        bits.bits(3, 3)
        bits.bits(5, 24)
        bits.padForUncompressed()
        bits.raw([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
        bits.raw(Array("odd!!".utf8))
        bits.raw([0])  // the padding byte after an odd-sized uncompressed block
        bits.bits(3, 3)
        bits.bits(3, 24)
        bits.padForUncompressed()
        bits.raw([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
        bits.raw(Array("end".utf8))
        let cabinet = try Self.open(CabinetBuilder(typeCompress: Self.lzxWindow15, blocks: [(bits.bytes, 8)]).bytes)
        #expect(try cabinet.extract(fileAt: 0, limit: 100) == Array("odd!!end".utf8))
    }

    @Test func lzxGarbageNeverTraps() throws {
        var generator = SystemRandomNumberGenerator()
        for windowBits in [15, 16, 21] {
            for _ in 0..<200 {
                let payload = (0..<Int.random(in: 0...300, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                let cabinet = try Self.open(
                    CabinetBuilder(typeCompress: UInt16(windowBits) << 8 | 3, blocks: [(payload, 32768)]).bytes)
                _ = try? cabinet.extract(fileAt: 0, limit: 1 << 20)
            }
        }
        #expect(throws: ParseError.self) {
            try Self.open(CabinetBuilder(typeCompress: 0x0E03, blocks: [([0, 0], 2)]).bytes).extract(fileAt: 0, limit: 10)
        }
    }
}

@Suite(.ownThread) struct PointerTests {
    @Test(arguments: [
        ("\\\\server\\share\\foo.pdb", FilePointer.path("\\\\server\\share\\foo.pdb")),
        ("PATH:\\\\server\\share\\foo.pdb\r\n", .path("\\\\server\\share\\foo.pdb")),
        ("https://symbols.example.com/foo.pdb/ABC1/foo.pdb", .url("https://symbols.example.com/foo.pdb/ABC1/foo.pdb")),
        ("MSG: This file was withdrawn", .message("This file was withdrawn")),
        ("/mnt/syms/foo.pdb\n", .path("/mnt/syms/foo.pdb")),
    ])
    func parses(text: String, expected: FilePointer) throws {
        #expect(try FilePointer(parsing: text) == expected)
    }

    @Test func malformed() {
        #expect(throws: FilePointer.Malformed.self) { try FilePointer(parsing: "") }
        #expect(throws: FilePointer.Malformed.self) { try FilePointer(parsing: "  \n") }
        #expect(throws: FilePointer.Malformed.self) { try FilePointer(parsing: "PATH:") }
        #expect(throws: FilePointer.Malformed.self) { try StoreReference.parse("0000000001,file,\nbad line") }
        #expect(throws: TransactionRecord.Malformed.self) { try TransactionRecord.parseAll("0000000001,add") }
        #expect(throws: TransactionRecord.Malformed.self) { try TransactionEntry.parseAll("no quotes or slash") }
    }

    @Test func referencesParse() throws {
        let references = try StoreReference.parse("0000000001,file,\r\n0000000026,ptr,\\\\server\\path\\x.dbg\r\n")
        #expect(
            references == [
                StoreReference(transactionID: 1, isPointer: false, path: ""),
                StoreReference(transactionID: 26, isPointer: true, path: "\\\\server\\path\\x.dbg"),
            ])
        #expect(references.map(\.line) == ["0000000001,file,", "0000000026,ptr,\\\\server\\path\\x.dbg"])
    }
}
