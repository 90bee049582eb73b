/// A Windows `GUID` (16 bytes): three little-endian integers and eight bytes.
public struct GUID: Sendable, Hashable, Codable, CustomStringConvertible {
    public var data1: UInt32
    public var data2: UInt16
    public var data3: UInt16
    /// The eight `Data4` bytes, first byte in the lowest bits (stored inline: module lists hold
    /// thousands of GUIDs, and an array each would cost an allocation).
    var data4Bits: UInt64

    /// Always eight bytes.
    public var data4: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: data4Bits >> (8 * UInt64($0))) }
    }

    /// Creates a GUID from its fields; `data4` is padded or cut to eight bytes.
    public init(data1: UInt32, data2: UInt16, data3: UInt16, data4: [UInt8]) {
        self.data1 = data1
        self.data2 = data2
        self.data3 = data3
        var bits: UInt64 = 0
        for (index, byte) in data4.prefix(8).enumerated() { bits |= UInt64(byte) << (8 * UInt64(index)) }
        data4Bits = bits
    }

    init(data1: UInt32, data2: UInt16, data3: UInt16, data4Bits: UInt64) {
        self.data1 = data1
        self.data2 = data2
        self.data3 = data3
        self.data4Bits = data4Bits
    }

    enum CodingKeys: String, CodingKey {
        case data1, data2, data3, data4
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            data1: try container.decode(UInt32.self, forKey: .data1), data2: try container.decode(UInt16.self, forKey: .data2),
            data3: try container.decode(UInt16.self, forKey: .data3), data4: try container.decode([UInt8].self, forKey: .data4))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data1, forKey: .data1)
        try container.encode(data2, forKey: .data2)
        try container.encode(data3, forKey: .data3)
        try container.encode(data4, forKey: .data4)
    }

    /// The all-zero GUID.
    public static let zero = GUID(data1: 0, data2: 0, data3: 0, data4: [])

    /// 32 uppercase hex digits in printed order, as symbol stores spell it (no dashes).
    public var compactHex: String { formatted(dashes: false) }

    /// The registry form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` in uppercase.
    public var description: String { formatted(dashes: true) }

    private func formatted(dashes: Bool) -> String {
        let digits: StaticString = "0123456789ABCDEF"
        let total = dashes ? 36 : 32
        return String(unsafeUninitializedCapacity: total) { buffer in
            digits.withUTF8Buffer { table in
                var at = 0
                func put(_ value: UInt64, nibbles: Int) {
                    for index in stride(from: nibbles - 1, through: 0, by: -1) {
                        buffer[at] = table[Int((value >> UInt64(4 * index)) & 0xF)]
                        at += 1
                    }
                }
                func dash() {
                    if dashes {
                        buffer[at] = UInt8(ascii: "-")
                        at += 1
                    }
                }
                put(UInt64(data1), nibbles: 8)
                dash()
                put(UInt64(data2), nibbles: 4)
                dash()
                put(UInt64(data3), nibbles: 4)
                dash()
                for index in 0..<8 {
                    if index == 2 { dash() }
                    put((data4Bits >> (8 * UInt64(index))) & 0xFF, nibbles: 2)
                }
            }
            return total
        }
    }

    /// The 16 bytes as they are stored on disk (little-endian fields).
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        withUnsafeBytes(of: data1.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: data2.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: data3.littleEndian) { out.append(contentsOf: $0) }
        for index in 0..<8 { out.append(UInt8(truncatingIfNeeded: data4Bits >> (8 * UInt64(index)))) }
        return out
    }
}

/// Formats `value` as uppercase hex, zero-padded to `width` digits.
@inlinable
public func hex<T: BinaryInteger>(_ value: T, width: Int = 0) -> String {
    formatHex(UInt64(truncatingIfNeeded: value), width: width, uppercase: true, prefix: false)
}

/// Formats `value` as `0x` followed by lowercase hex, zero-padded to `width` digits.
@inlinable
public func hex0x<T: BinaryInteger>(_ value: T, width: Int = 0) -> String {
    formatHex(UInt64(truncatingIfNeeded: value), width: width, uppercase: false, prefix: true)
}

/// Hex digits of `value` into a small stack buffer: ids and addresses are formatted by the
/// thousand in reports, and `String(_:radix:)` costs several allocations each.
@usableFromInline
func formatHex(_ value: UInt64, width: Int, uppercase: Bool, prefix: Bool) -> String {
    let digits: StaticString = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
    var significant = 1
    var probe = value >> 4
    while probe != 0 {
        significant += 1
        probe >>= 4
    }
    let count = max(significant, min(width, 64))
    let total = count + (prefix ? 2 : 0)
    return String(unsafeUninitializedCapacity: total) { buffer in
        var at = 0
        if prefix {
            buffer[0] = UInt8(ascii: "0")
            buffer[1] = UInt8(ascii: "x")
            at = 2
        }
        digits.withUTF8Buffer { table in
            for index in 0..<count {
                let shift = UInt64(4 * (count - 1 - index))
                buffer[at + index] = shift >= 64 ? UInt8(ascii: "0") : table[Int((value >> shift) & 0xF)]
            }
        }
        return total
    }
}
