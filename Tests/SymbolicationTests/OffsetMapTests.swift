import TestSupport
import Testing

@testable import Symbolication

/// The offset map answers as a dictionary does, whatever the keys.
@Suite("offset map", .ownThread)
struct OffsetMapTests {
    @Test("lookups, overwrites and growth agree with Dictionary", arguments: [0, 1, 7, 100, 5000])
    func agreesWithDictionary(count: Int) {
        var map = OffsetMap(capacity: 4)
        var expected = [UInt32: Int32]()
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(count)
        for index in 0..<count {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Few distinct keys, many repeats, and keys that differ only in high bits.
            let key = index % 3 == 0 ? UInt32(index % 50) << 24 : UInt32(truncatingIfNeeded: random >> 40)
            let value = Int32(truncatingIfNeeded: random >> 8)
            map.set(key, value)
            expected[key] = value
        }
        #expect(map.count == expected.count)
        for (key, value) in expected { #expect(map[key] == value) }
        for key: UInt32 in [0xFFFF_FFFF, 12345, 1 << 31] where expected[key] == nil { #expect(map[key] == nil) }
    }
}
