import BinaryReading
import TestSupport
import Testing

/// Strings decoded from dump bytes agree with the standard library's own transcoders.
@Suite("ByteView strings", .ownThread)
struct ByteViewStringTests {
    static func view(_ bytes: [UInt8]) -> (MappedFile, ByteView) {
        let file = MappedFile(bytes: bytes)
        return (file, file.bytes)
    }

    static func units(_ units: [UInt16], bigEndian: Bool) -> [UInt8] {
        units.flatMap { unit in
            let pair = [UInt8(unit & 0xFF), UInt8(unit >> 8)]
            return bigEndian ? pair.reversed() : pair
        }
    }

    @Test(
        "UTF-16 in both byte orders, ASCII or not",
        arguments: [
            "C:\\Windows\\System32\\kernel32.dll", "", "a", "/usr/lib/libc.so.6", "C:\\Programme\\Müller\\app.exe",
            "D:\\符号\\模块.dll", "emoji 😀 in a path", "\u{7F}\u{80}",
        ])
    func utf16(text: String) {
        for bigEndian in [false, true] {
            let (file, bytes) = Self.view(Self.units(Array(text.utf16), bigEndian: bigEndian))
            #expect(bytes.utf16String(endianness: bigEndian ? .big : .little) == text)
            withExtendedLifetime(file) {}
        }
    }

    @Test("one non-ASCII unit anywhere in a longer name takes the general path")
    func nonASCIIAtEveryPosition() {
        // The ASCII test reads four units at a time, then the rest one by one: a unit outside
        // ASCII must be found in either part and in either byte of a unit.
        let base = Array("C:\\Windows\\a.dll".utf16)
        for position in 0..<base.count {
            for replacement: UInt16 in [0x00E9, 0x0080, 0x0100, 0x4E2D] {
                var units = base
                units[position] = replacement
                let text = String(decoding: units, as: UTF16.self)
                for bigEndian in [false, true] {
                    let (file, bytes) = Self.view(Self.units(units, bigEndian: bigEndian))
                    #expect(bytes.utf16String(endianness: bigEndian ? .big : .little) == text)
                    withExtendedLifetime(file) {}
                }
            }
        }
    }

    @Test func unpairedSurrogatesBecomeReplacementCharactersAndAnOddByteIsIgnored() {
        let units: [UInt16] = [0x0041, 0xD800, 0x0042, 0xDC00]
        let expected = String(decoding: units, as: UTF16.self)
        #expect(expected == "A\u{FFFD}B\u{FFFD}")
        let (file, bytes) = Self.view(Self.units(units, bigEndian: false) + [0x43])
        #expect(bytes.utf16String() == expected)
        withExtendedLifetime(file) {}
    }

    @Test func cStringsEndAtTheFirstNulOrTheEnd() {
        let (file, bytes) = Self.view(Array("kernel32.pdb".utf8) + [0] + Array("rest".utf8))
        #expect(bytes.cString == "kernel32.pdb")
        let (unterminated, tail) = Self.view(Array("no terminator".utf8))
        #expect(tail.cString == "no terminator")
        let (empty, nothing) = Self.view([])
        #expect(nothing.cString == "")
        let (invalid, bad) = Self.view([0x61, 0xFF, 0x62, 0])
        #expect(bad.cString == "a\u{FFFD}b")
        withExtendedLifetime((file, unterminated, empty, invalid)) {}
    }
}
