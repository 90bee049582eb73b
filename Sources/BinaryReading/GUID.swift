/// A Windows `GUID` (16 bytes): three little-endian integers and eight bytes.
public struct GUID: Sendable, Hashable, Codable, CustomStringConvertible {
    public var data1: UInt32
    public var data2: UInt16
    public var data3: UInt16
    /// Always eight bytes.
    public var data4: [UInt8]

    /// Creates a GUID from its fields; `data4` is padded or cut to eight bytes.
    public init(data1: UInt32, data2: UInt16, data3: UInt16, data4: [UInt8]) {
        self.data1 = data1
        self.data2 = data2
        self.data3 = data3
        self.data4 = Array((data4 + [UInt8](repeating: 0, count: 8)).prefix(8))
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
                for (index, byte) in data4.prefix(8).enumerated() {
                    if index == 2 { dash() }
                    put(UInt64(byte), nibbles: 2)
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
        out.append(contentsOf: data4)
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
