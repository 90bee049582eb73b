import BinaryReading

/// `IMAGE_DOS_HEADER` (64 bytes), from winnt.h: the MS-DOS stub header at the start of every image.
public struct DOSHeader: Sendable, Equatable {
    /// `e_magic`: `MZ`.
    public var magic: UInt16
    /// `e_cblp`: bytes on the last page.
    public var bytesOnLastPage: UInt16
    /// `e_cp`: pages in the file.
    public var pagesInFile: UInt16
    /// `e_crlc`: relocations.
    public var relocations: UInt16
    /// `e_cparhdr`: size of the header in paragraphs.
    public var headerParagraphs: UInt16
    /// `e_minalloc`.
    public var minimumExtraParagraphs: UInt16
    /// `e_maxalloc`.
    public var maximumExtraParagraphs: UInt16
    /// `e_ss`.
    public var initialSS: UInt16
    /// `e_sp`.
    public var initialSP: UInt16
    /// `e_csum`.
    public var checksum: UInt16
    /// `e_ip`.
    public var initialIP: UInt16
    /// `e_cs`.
    public var initialCS: UInt16
    /// `e_lfarlc`: file offset of the relocation table.
    public var relocationTableOffset: UInt16
    /// `e_ovno`.
    public var overlayNumber: UInt16
    /// `e_res[4]`.
    public var reserved1: [UInt16]
    /// `e_oemid`.
    public var oemID: UInt16
    /// `e_oeminfo`.
    public var oemInfo: UInt16
    /// `e_res2[10]`.
    public var reserved2: [UInt16]
    /// `e_lfanew`: file offset of the `IMAGE_NT_HEADERS`.
    public var newHeaderOffset: UInt32

    /// `IMAGE_DOS_SIGNATURE` (`MZ` read as a little-endian integer).
    public static let signature: UInt16 = 0x5A4D
    /// Size on disk.
    public static let size = 64

    /// Reads the header and checks its signature.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        let start = reader.fileOffset
        magic = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_magic")
        guard magic == Self.signature else {
            throw ParseError(
                offset: start, field: "IMAGE_DOS_HEADER.e_magic",
                kind: .badSignature(expected: "MZ", found: hex(magic, width: 4)))
        }
        bytesOnLastPage = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_cblp")
        pagesInFile = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_cp")
        relocations = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_crlc")
        headerParagraphs = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_cparhdr")
        minimumExtraParagraphs = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_minalloc")
        maximumExtraParagraphs = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_maxalloc")
        initialSS = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_ss")
        initialSP = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_sp")
        checksum = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_csum")
        initialIP = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_ip")
        initialCS = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_cs")
        relocationTableOffset = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_lfarlc")
        overlayNumber = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_ovno")
        reserved1 = try reader.readArray(UInt16.self, count: 4, "IMAGE_DOS_HEADER.e_res")
        oemID = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_oemid")
        oemInfo = try reader.read(UInt16.self, "IMAGE_DOS_HEADER.e_oeminfo")
        reserved2 = try reader.readArray(UInt16.self, count: 10, "IMAGE_DOS_HEADER.e_res2")
        newHeaderOffset = try reader.read(UInt32.self, "IMAGE_DOS_HEADER.e_lfanew")
    }
}
