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
    public var compactHex: String {
        hex(data1, width: 8) + hex(data2, width: 4) + hex(data3, width: 4) + data4.map { hex($0, width: 2) }.joined()
    }

    /// The registry form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` in uppercase.
    public var description: String {
        let tail = data4.map { hex($0, width: 2) }
        return "\(hex(data1, width: 8))-\(hex(data2, width: 4))-\(hex(data3, width: 4))-"
            + tail[0..<2].joined() + "-" + tail[2..<8].joined()
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
public func hex<T: BinaryInteger>(_ value: T, width: Int = 0) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Formats `value` as `0x` followed by lowercase hex, zero-padded to `width` digits.
public func hex0x<T: BinaryInteger>(_ value: T, width: Int = 0) -> String {
    let digits = String(value, radix: 16, uppercase: false)
    return "0x" + (digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits)
}
