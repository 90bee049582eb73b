import BinaryReading

/// Writes minidumps for tests from the layouts in minidumpapiset.h, spelled out here with
/// their own offsets, so a mistake in the parser's declarations cannot hide itself.
struct DumpWriter {
    var endianness: Endianness
    private(set) var bytes = [UInt8](repeating: 0, count: 32)
    private var streams: [(type: UInt32, offset: Int, size: Int)] = []

    init(endianness: Endianness = .little) {
        self.endianness = endianness
    }

    /// Little- or big-endian bytes of an integer, in the file's order.
    func encode<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        let size = MemoryLayout<T>.size
        return (0..<size).map { index in
            let shift = endianness == .little ? index * 8 : (size - 1 - index) * 8
            return UInt8(truncatingIfNeeded: value >> shift)
        }
    }

    /// Appends raw bytes (8-aligned) and returns their offset.
    mutating func append(_ data: [UInt8]) -> Int {
        while bytes.count % 8 != 0 { bytes.append(0) }
        let offset = bytes.count
        bytes += data
        return offset
    }

    /// Appends a MINIDUMP_STRING (u32 byte length, UTF-16 in the file's order, NUL) and returns its RVA.
    mutating func appendString(_ text: String) -> UInt32 {
        var data = encode(UInt32(text.utf16.count * 2))
        for unit in text.utf16 { data += encode(unit) }
        data += [0, 0]
        return UInt32(append(data))
    }

    /// Appends a stream and records it in the directory.
    mutating func addStream(type: UInt32, _ data: [UInt8]) {
        let offset = append(data)
        streams.append((type, offset, data.count))
    }

    /// A directory entry pointing anywhere (for damaged-location tests).
    mutating func addRawEntry(type: UInt32, rva: UInt32, size: UInt32) {
        streams.append((type, Int(rva), Int(size)))
    }

    /// The finished file: header, then directory at the end.
    func finish() -> [UInt8] {
        var out = bytes
        while out.count % 4 != 0 { out.append(0) }
        let directory = out.count
        for stream in streams {
            out += encode(stream.type) + encode(UInt32(stream.size)) + encode(UInt32(stream.offset))
        }
        var header = encode(UInt32(0x504D_444D)) + encode(UInt32(0x0001_A793)) + encode(UInt32(streams.count))
        header += encode(UInt32(directory)) + encode(UInt32(0)) + encode(UInt32(0x5F5E_1000)) + encode(UInt64(0x21))
        out.replaceSubrange(0..<32, with: header)
        return out
    }

    /// A MINIDUMP_MODULE (108 bytes).
    func module(
        base: UInt64, size: UInt32, checksum: UInt32, timestamp: UInt32, nameRva: UInt32,
        version: (UInt32, UInt32)? = nil, cv: (rva: UInt32, size: UInt32) = (0, 0)
    ) -> [UInt8] {
        var out = encode(base) + encode(size) + encode(checksum) + encode(timestamp) + encode(nameRva)
        var fixed = [UInt32](repeating: 0, count: 13)
        if let version {
            fixed[0] = 0xFEEF_04BD
            fixed[2] = version.0
            fixed[3] = version.1
        }
        for value in fixed { out += encode(value) }
        out += encode(cv.size) + encode(cv.rva) + encode(UInt32(0)) + encode(UInt32(0))
        out += encode(UInt64(0)) + encode(UInt64(0))
        precondition(out.count == 108)
        return out
    }

    /// An RSDS CodeView record: always little-endian, as copied from the PE image.
    static func rsds(guid: [UInt8], age: UInt32, pdb: String) -> [UInt8] {
        Array("RSDS".utf8) + guid + [UInt8(age & 0xFF), UInt8(age >> 8 & 0xFF), UInt8(age >> 16 & 0xFF), UInt8(age >> 24)]
            + Array(pdb.utf8) + [0]
    }
}
