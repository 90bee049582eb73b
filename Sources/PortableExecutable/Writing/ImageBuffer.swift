/// Half-open byte ranges `[start, end)` of an image, kept sorted and merged.
struct ByteRanges: Sendable {
    private(set) var ranges: [(start: UInt64, end: UInt64)] = []

    /// Adds ranges and merges them with the ones present (sort once, then one pass).
    mutating func add(_ more: [(start: UInt64, end: UInt64)]) {
        let all = (ranges + more.filter { $0.start < $0.end }).sorted { $0.start < $1.start }
        var merged = [(start: UInt64, end: UInt64)]()
        merged.reserveCapacity(all.count)
        for range in all {
            if let last = merged.last, range.start <= last.end {
                merged[merged.count - 1].end = max(last.end, range.end)
            } else {
                merged.append(range)
            }
        }
        ranges = merged
    }

    /// Whether every byte of `[start, end)` is inside the ranges (an empty range is covered).
    func covers(_ start: UInt64, _ end: UInt64) -> Bool {
        guard start < end else { return true }
        return ranges.contains { $0.start <= start && end <= $0.end }
    }

    /// Whether any byte of `[start, end)` is inside the ranges.
    func intersects(_ start: UInt64, _ end: UInt64) -> Bool {
        ranges.contains { $0.start < end && start < $0.end }
    }

    /// The parts of `[start, end)` inside the ranges.
    func intersections(_ start: UInt64, _ end: UInt64) -> [(start: UInt64, end: UInt64)] {
        ranges.compactMap { range in
            let low = max(range.start, start)
            let high = min(range.end, end)
            return low < high ? (low, high) : nil
        }
    }

    /// The ranges as RVA and size (every range lies below `SizeOfImage`, so both fit in 32 bits).
    var rvaAndSize: [(rva: UInt32, size: UInt32)] {
        ranges.map { (UInt32(truncatingIfNeeded: $0.start), UInt32(truncatingIfNeeded: $0.end - $0.start)) }
    }
}

/// The image being written, in memory layout (file offset == RVA), with a record of which bytes
/// came from the dump and which of those later writes replaced.
///
/// Every write goes through this type and is bounds-checked: a write that would leave the buffer
/// is clipped, so the builder never traps on values taken from captured memory.
struct ImageBuffer {
    private(set) var bytes: [UInt8]
    private(set) var captured = ByteRanges()
    private(set) var overwritten = ByteRanges()

    init(size: Int) {
        bytes = [UInt8](repeating: 0, count: size)
    }

    var count: Int { bytes.count }

    /// Places captured bytes at `offset` (clipped by the caller); later placements win.
    ///
    /// Call `markCaptured` once with all placed ranges afterwards: merging per placement would be
    /// quadratic in the number of captured pages.
    mutating func place(_ data: ArraySlice<UInt8>, at offset: Int) {
        guard offset >= 0, offset <= bytes.count else { return }
        let length = min(data.count, bytes.count - offset)
        guard length > 0 else { return }
        bytes.replaceSubrange(offset..<(offset + length), with: data.prefix(length))
    }

    /// Records the ranges `place` filled.
    mutating func markCaptured(_ ranges: [(start: UInt64, end: UInt64)]) {
        captured.add(ranges)
    }

    /// Writes `data` at `offset`; when a captured byte changes, the written range (a header field,
    /// a section entry) is recorded as overwritten, so the record names whole fields.
    mutating func write(_ data: some Collection<UInt8>, at offset: Int) {
        guard offset >= 0, offset < bytes.count else { return }
        var position = offset
        var changed = false
        for byte in data {
            guard position < bytes.count else { break }
            if bytes[position] != byte {
                changed = true
                bytes[position] = byte
            }
            position += 1
        }
        if changed { recordOverwrite([(UInt64(offset), UInt64(position))]) }
    }

    /// Zero-fills `[start, end)` for rebuilt content: all captured bytes there count as overwritten.
    mutating func claim(_ start: Int, _ end: Int) {
        let low = max(0, start)
        let high = min(bytes.count, end)
        guard low < high else { return }
        recordOverwrite(captured.intersections(UInt64(low), UInt64(high)))
        for index in low..<high { bytes[index] = 0 }
    }

    mutating func put16(_ value: UInt16, at offset: Int) { write(littleEndian(value), at: offset) }
    mutating func put32(_ value: UInt32, at offset: Int) { write(littleEndian(value), at: offset) }
    mutating func put64(_ value: UInt64, at offset: Int) { write(littleEndian(value), at: offset) }

    /// Reads a little-endian integer; nil when it does not fit in the buffer.
    func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T? {
        guard offset >= 0, offset <= bytes.count - MemoryLayout<T>.size else { return nil }
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size {
            value |= T(truncatingIfNeeded: bytes[offset + index]) << (8 * index)
        }
        return value
    }

    private mutating func recordOverwrite(_ ranges: [(start: UInt64, end: UInt64)]) {
        var inCaptured = [(start: UInt64, end: UInt64)]()
        for range in ranges { inCaptured += captured.intersections(range.start, range.end) }
        if !inCaptured.isEmpty { overwritten.add(inCaptured) }
    }
}

/// The bytes of `value`, least significant first.
func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// `value` rounded up to a multiple of `alignment` (a power of two), in 64 bits so it cannot overflow.
func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    (value + alignment - 1) & ~(alignment - 1)
}

/// `value` rounded down to a multiple of `alignment` (a power of two).
func alignDown(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    value & ~(alignment - 1)
}
