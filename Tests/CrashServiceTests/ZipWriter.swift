import CompressNIO
import NIOCore

/// Writes ZIP archives for upload tests, independently of the reader: deflate and CRC-32 come from
/// zlib (a gzip member's body and trailer), the layout from APPNOTE 4.3.7, 4.3.12 and 4.3.16.
struct ZipWriter {
    struct Member {
        var name: String
        var contents: [UInt8]
        var deflate = true
        /// Overrides the uncompressed size written in the headers (for archives that lie about it).
        var declaredSize: UInt32? = nil
    }

    static func archive(_ members: [Member]) -> [UInt8] {
        var output = [UInt8]()
        var central = [UInt8]()
        for member in members {
            var buffer = ByteBuffer(bytes: member.contents)
            let gzip = Array(try! buffer.compress(with: .gzip()).readableBytesView)
            // zlib's gzip member: a 10-byte header (no name), raw deflate, CRC-32 and ISIZE.
            let crc = gzip.suffix(8).prefix(4)
            let data = member.deflate ? Array(gzip[10..<(gzip.count - 8)]) : member.contents
            let size = member.declaredSize ?? UInt32(member.contents.count)
            let name = Array(member.name.utf8)
            let offset = UInt32(output.count)
            var common = [UInt8]()
            common += le16(20) + le16(0) + le16(member.deflate ? 8 : 0) + le16(0) + le16(0x21)
            common += Array(crc) + le32(UInt32(data.count)) + le32(size) + le16(UInt16(name.count)) + le16(0)
            output += le32(0x0403_4B50) + common + name + data
            central += le32(0x0201_4B50) + le16(0x031E) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + name
        }
        let directoryOffset = UInt32(output.count)
        output += central
        output += le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(members.count)) + le16(UInt16(members.count))
        output += le32(UInt32(central.count)) + le32(directoryOffset) + le16(0)
        return output
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
}
