#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Byte order of the integers in a file.
public enum Endianness: Sendable, Equatable {
    case little
    case big
}

/// A bounds-checked window onto bytes owned by a `MappedFile`.
///
/// Offsets given to a view are relative to its start; errors report absolute file
/// offsets (`fileOffset` + relative offset) so a user can find the bad bytes in a hex editor.
public struct ByteView: @unchecked Sendable {
    // Sendable: the bytes are immutable and owned by `owner`, which the view keeps alive.
    @usableFromInline let owner: MappedFile?
    @usableFromInline let base: UnsafeRawPointer?
    /// Number of bytes in the view.
    public let count: Int
    /// Absolute offset of the view's first byte in its file.
    public let fileOffset: Int64

    @usableFromInline
    init(owner: MappedFile?, base: UnsafeRawPointer?, count: Int, fileOffset: Int64) {
        self.owner = owner
        self.base = base
        self.count = count
        self.fileOffset = fileOffset
    }

    /// An empty view.
    public static let empty = ByteView(owner: nil, base: nil, count: 0, fileOffset: 0)

    /// Whether `offset..<offset+size` (relative, untrusted) lies inside the view.
    @inlinable
    public func contains<O: BinaryInteger, S: BinaryInteger>(offset: O, size: S) -> Bool {
        guard offset >= 0, size >= 0,
            let start = Int(exactly: offset), let length = Int(exactly: size)
        else { return false }
        let (end, overflow) = start.addingReportingOverflow(length)
        return !overflow && end <= count
    }

    /// The sub-view at `offset` of `size` bytes, both untrusted; throws when it leaves the view.
    @inlinable
    public func slice<O: BinaryInteger, S: BinaryInteger>(
        offset: O, size: S, field: @autoclosure () -> String
    ) throws(ParseError) -> ByteView {
        guard contains(offset: offset, size: size) else {
            throw ParseError(
                offset: fileOffset &+ (Int64(exactly: offset) ?? Int64.max),
                field: field(),
                kind: .outOfBounds(
                    offset: fileOffset &+ (Int64(exactly: offset) ?? Int64.max),
                    size: Int64(exactly: size) ?? Int64.max,
                    fileSize: fileOffset &+ Int64(count)))
        }
        let start = Int(offset)
        return ByteView(owner: owner, base: base.map { $0 + start }, count: Int(size), fileOffset: fileOffset + Int64(start))
    }

    /// The view from `offset` to the end (clamped: an offset past the end gives an empty view).
    public func suffix(from offset: Int) -> ByteView {
        let start = min(max(offset, 0), count)
        return ByteView(owner: owner, base: base.map { $0 + start }, count: count - start, fileOffset: fileOffset + Int64(start))
    }

    /// The first `length` bytes, or fewer when the view is shorter.
    public func prefix(_ length: Int) -> ByteView {
        ByteView(owner: owner, base: base, count: min(max(length, 0), count), fileOffset: fileOffset)
    }

    /// A reader positioned at relative `offset`.
    public func reader(at offset: Int = 0, endianness: Endianness = .little) -> ByteReader {
        ByteReader(view: self, position: offset, endianness: endianness)
    }

    /// Loads an integer at a relative offset; the caller has checked bounds.
    @inlinable @inline(__always)
    func unsafeLoad<T: FixedWidthInteger>(at offset: Int, as type: T.Type, endianness: Endianness) -> T {
        let raw = base!.loadUnaligned(fromByteOffset: offset, as: T.self)
        return endianness == .little ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    /// Reads an integer at relative `offset`; throws when it does not fit.
    @inlinable @inline(__always)
    public func load<T: FixedWidthInteger>(
        _ type: T.Type, at offset: Int, endianness: Endianness = .little, field: @autoclosure () -> String
    ) throws(ParseError) -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - size else {
            throw ParseError(
                offset: fileOffset &+ Int64(offset), field: field(),
                kind: .truncated(needed: Int64(size), available: Int64(max(0, count - max(offset, 0)))))
        }
        return unsafeLoad(at: offset, as: T.self, endianness: endianness)
    }

    /// The byte at relative `index`; the index must be inside the view.
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "ByteView index out of range")
        return base!.load(fromByteOffset: index, as: UInt8.self)
    }

    /// A copy of the bytes.
    public var array: [UInt8] {
        guard let base, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Calls `body` with the raw bytes; the buffer must not escape.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: count > 0 ? base : nil, count: count))
    }

    /// Whether every byte is zero.
    public var isAllZero: Bool {
        withUnsafeBytes { buffer in buffer.allSatisfy { $0 == 0 } }
    }

    /// Whether the view's bytes equal `other`'s.
    public func elementsEqual(_ other: some Sequence<UInt8>) -> Bool {
        withUnsafeBytes { buffer in buffer.elementsEqual(other) }
    }

    /// Decodes the bytes as UTF-16 code units in the given order (unpaired surrogates become U+FFFD).
    public func utf16String(endianness: Endianness = .little) -> String {
        let units = count / 2
        guard units > 0, let base else { return "" }
        // Module paths are almost always ASCII: copy those straight into UTF-8 and fall back
        // to the general transcoder only when a unit is outside ASCII.
        if Self.isASCII(utf16: base, units: units, endianness: endianness) {
            let low = endianness == .little ? 0 : 1
            return String(unsafeUninitializedCapacity: units) { buffer in
                for index in 0..<units { buffer[index] = base.load(fromByteOffset: index &* 2 &+ low, as: UInt8.self) }
                return units
            }
        }
        var codeUnits = [UInt16]()
        codeUnits.reserveCapacity(units)
        for index in 0..<units {
            codeUnits.append(unsafeLoad(at: index * 2, as: UInt16.self, endianness: endianness))
        }
        return String(decoding: codeUnits, as: UTF16.self)
    }

    /// Whether all `units` UTF-16 units at `base` are ASCII: high byte zero, low byte below 0x80.
    private static func isASCII(utf16 base: UnsafeRawPointer, units: Int, endianness: Endianness) -> Bool {
        // Four units per 64-bit load (read as little-endian, so the first byte is the lowest):
        // in little-endian units the high byte is the odd one, in big-endian the even one.
        let unitMask: UInt64 = endianness == .little ? 0xFF80 : 0x80FF
        let wordMask = unitMask | unitMask << 16 | unitMask << 32 | unitMask << 48
        var index = 0
        var bits: UInt64 = 0
        while index &+ 4 <= units {
            bits |= UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt64.self))
            index &+= 4
        }
        while index < units {
            bits |= UInt64(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self)))
            index &+= 1
        }
        return bits & wordMask == 0
    }

    /// Relative offset of the first byte equal to `byte`, nil when there is none (memchr, not a byte-by-byte loop).
    public func firstIndex(of byte: UInt8) -> Int? {
        withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress, let found = memchr(base, Int32(byte), buffer.count) else { return nil }
            return UnsafeRawPointer(found) - base
        }
    }

    /// Decodes the bytes up to the first NUL as UTF-8 (invalid sequences become U+FFFD).
    public var cString: String {
        withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return "" }
            // memchr: the generic search went byte by byte through a slice, and names are most of
            // what opening a PDB decodes.
            let end = memchr(base, 0, buffer.count).map { $0 - UnsafeMutableRawPointer(mutating: base) } ?? buffer.count
            return String(decoding: UnsafeRawBufferPointer(start: base, count: end), as: UTF8.self)
        }
    }

    /// Decodes all bytes as UTF-8 (invalid sequences become U+FFFD).
    public var utf8String: String {
        withUnsafeBytes { buffer in String(decoding: buffer, as: UTF8.self) }
    }
}

/// A cursor over a `ByteView` that reads integers in a fixed byte order.
public struct ByteReader: Sendable {
    /// The bytes being read.
    public let view: ByteView
    /// Current relative position in `view`.
    public var position: Int
    /// Byte order of the integers read.
    public var endianness: Endianness

    /// Creates a reader over `view` at relative `position`.
    public init(view: ByteView, position: Int = 0, endianness: Endianness = .little) {
        self.view = view
        self.position = position
        self.endianness = endianness
    }

    /// Bytes between the position and the end of the view.
    @inlinable
    public var remaining: Int { max(0, view.count - position) }
    /// Whether the reader is at the end.
    public var isAtEnd: Bool { remaining == 0 }
    /// Absolute file offset of the position.
    @inlinable
    public var fileOffset: Int64 { view.fileOffset + Int64(position) }

    /// Reads one integer of type `T` and advances past it.
    @inlinable @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self, _ field: @autoclosure () -> String)
        throws(ParseError) -> T
    {
        let value = try view.load(T.self, at: position, endianness: endianness, field: field())
        position += MemoryLayout<T>.size
        return value
    }

    /// Reads `count` integers of type `T` (count is untrusted and checked against the bytes left).
    @inlinable
    public mutating func readArray<T: FixedWidthInteger>(
        _ type: T.Type, count: Int, _ field: @autoclosure () -> String
    ) throws(ParseError) -> [T] {
        try checkCount(count, elementSize: MemoryLayout<T>.size, field())
        var values = [T]()
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(view.unsafeLoad(at: position, as: T.self, endianness: endianness))
            position += MemoryLayout<T>.size
        }
        return values
    }

    /// Takes the next `size` bytes as a view and advances past them.
    // Inlinable so callers in other modules get it specialized: unspecialized, its generic integer
    // conversions cost more than decoding a module name or walking a PDB symbol record.
    @inlinable
    public mutating func readBytes<S: BinaryInteger>(_ size: S, _ field: @autoclosure () -> String) throws(ParseError) -> ByteView
    {
        guard let length = Int(exactly: size), length >= 0, length <= remaining else {
            throw ParseError(
                offset: fileOffset, field: field(),
                kind: .truncated(needed: Int64(exactly: size) ?? Int64.max, available: Int64(remaining)))
        }
        let bytes = try view.slice(offset: position, size: length, field: field())
        position += length
        return bytes
    }

    /// Skips `size` bytes.
    @inlinable
    public mutating func skip(_ size: Int, _ field: @autoclosure () -> String) throws(ParseError) {
        guard size >= 0, size <= remaining else {
            throw ParseError(
                offset: fileOffset, field: field(), kind: .truncated(needed: Int64(size), available: Int64(remaining)))
        }
        position += size
    }

    /// Reads a 16-byte GUID as the four fields of its C structure.
    public mutating func readGUID(_ field: @autoclosure () -> String) throws(ParseError) -> GUID {
        let data1 = try read(UInt32.self, field())
        let data2 = try read(UInt16.self, field())
        let data3 = try read(UInt16.self, field())
        // Data4 is a byte array on disk: read it in file order whatever the reader's byte order.
        let data4 = try view.load(UInt64.self, at: position, endianness: .little, field: field())
        position += 8
        return GUID(data1: data1, data2: data2, data3: data3, data4Bits: data4)
    }

    /// Throws unless `count` elements of `elementSize` bytes fit in the bytes left.
    ///
    /// Call before allocating anything sized by a count read from a file.
    @inlinable
    public func checkCount(_ count: Int, elementSize: Int, _ field: @autoclosure () -> String) throws(ParseError) {
        let (total, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard count >= 0, !overflow, total <= remaining else {
            throw ParseError(
                offset: fileOffset, field: field(),
                kind: .countTooLarge(count: Int64(count), limit: elementSize > 0 ? Int64(remaining / elementSize) : 0))
        }
    }
}
