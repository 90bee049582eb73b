import BinaryReading
import TestSupport
import Testing

/// The helpers writers of binary formats use: word tables as little-endian bytes, byte search, skipping.
@Suite("byte writing and searching", .ownThread)
struct ByteWritingTests {
    @Test("words become their little-endian bytes, in order")
    func littleEndianWords() {
        #expect([UInt32]().littleEndianBytes.isEmpty)
        #expect(([0x0403_0201, 0xFFEE_DDCC] as [UInt32]).littleEndianBytes == [1, 2, 3, 4, 0xCC, 0xDD, 0xEE, 0xFF])
    }

    @Test("firstIndex(of:) finds the first match, or nil")
    func firstIndex() {
        let file = MappedFile(bytes: [7, 0, 5, 0, 9])
        let bytes = file.bytes
        #expect(bytes.firstIndex(of: 0) == 1)
        #expect(bytes.firstIndex(of: 9) == 4)
        #expect(bytes.firstIndex(of: 1) == nil)
        #expect(bytes.suffix(from: 2).firstIndex(of: 0) == 1)
        #expect(ByteView.empty.firstIndex(of: 0) == nil)
        withExtendedLifetime(file) {}
    }

    @Test("skip moves past bytes that are there and throws, without moving, past the end")
    func skip() throws {
        let file = MappedFile(bytes: [1, 2, 3, 4])
        var reader = file.bytes.reader()
        try reader.skip(3, "three")
        #expect(reader.position == 3)
        #expect(throws: ParseError.self) { try reader.skip(2, "two") }
        #expect(throws: ParseError.self) { try reader.skip(-1, "negative") }
        #expect(reader.position == 3)
        try reader.skip(1, "last")
        #expect(reader.isAtEnd)
        withExtendedLifetime(file) {}
    }
}
