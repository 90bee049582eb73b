/// A map from 32-bit offsets to 32-bit ids: open addressing, linear probing, multiply-shift hashing.
///
/// For the name offsets of every module's file list, which converting a PDB looks up tens of
/// thousands of times: `Dictionary` hashes each key with SipHash, a tenth of the conversion. The
/// multiplier is random per map, so offsets in a crafted file cannot be chosen to collide.
struct OffsetMap {
    private var keys: [UInt32]
    private var values: [Int32]
    private var occupied: [Bool]
    private var shift: UInt64
    private let multiplier = UInt64.random(in: 0...UInt64.max) | 1
    private(set) var count = 0

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: 0, count: size)
        occupied = Array(repeating: false, count: size)
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    @inline(__always)
    private func slot(_ key: UInt32) -> Int {
        let mask = keys.count - 1
        var index = Int(truncatingIfNeeded: (UInt64(key) &* multiplier) >> shift)
        while occupied[index], keys[index] != key { index = (index + 1) & mask }
        return index
    }

    /// The id stored for `key`.
    subscript(key: UInt32) -> Int32? {
        let index = slot(key)
        return occupied[index] ? values[index] : nil
    }

    /// Stores `value` for `key`, replacing an earlier value.
    mutating func set(_ key: UInt32, _ value: Int32) {
        // At most half full, so probes stay short and always end at a free slot.
        if (count + 1) * 2 > keys.count { grow() }
        let index = slot(key)
        if !occupied[index] {
            occupied[index] = true
            keys[index] = key
            count += 1
        }
        values[index] = value
    }

    private mutating func grow() {
        var larger = OffsetMap(capacity: keys.count)
        for index in keys.indices where occupied[index] { larger.set(keys[index], values[index]) }
        self = larger
    }
}
