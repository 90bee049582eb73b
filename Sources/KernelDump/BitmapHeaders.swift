import BinaryReading

/// `BITMAP_DUMP` (0x38 bytes + bitmap): the header of bitmap dumps (types 5 and 6), right after the dump header.
///
/// Bit *n* of the bitmap set means physical page *n* is in the file; present pages follow one
/// another from `firstPageOffset` in ascending page order.
public struct BitmapDumpHeader: Sendable {
    /// `Signature`: `SDMP` (summary) or `FDMP` (full).
    public var signature: UInt32
    /// `ValidDump`: `DUMP`.
    public var validDump: UInt32
    /// `DumpOptions`.
    public var dumpOptions: UInt32
    /// `HeaderSize`: file offset of the first present page.
    public var firstPageOffset: UInt64
    /// `Pages`: number of pages present (bits set).
    public var presentPages: UInt64
    /// `BitmapSize`: number of bits in the bitmap (pages described).
    public var bitmapBits: UInt64
    /// The bitmap bytes (`ceil(bitmapBits / 8)`, checked against the file).
    public var bitmap: ByteView

    /// `'SDMP'`.
    public static let summarySignature: UInt32 = 0x504D_4453
    /// `'FDMP'`.
    public static let fullSignature: UInt32 = 0x504D_4446
    /// `'DUMP'`.
    public static let validDumpValue: UInt32 = 0x504D_5544

    /// Parses the header at the start of `bytes` (the file from the end of the dump header).
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        let f = "BITMAP_DUMP."
        signature = try reader.read(UInt32.self, f + "Signature")
        guard signature == Self.summarySignature || signature == Self.fullSignature else {
            throw ParseError(
                offset: bytes.fileOffset, field: f + "Signature",
                kind: .badSignature(expected: "SDMP or FDMP", found: KernelDumpFormat.fourCC(signature)))
        }
        validDump = try reader.read(UInt32.self, f + "ValidDump")
        guard validDump == Self.validDumpValue else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: f + "ValidDump",
                kind: .badSignature(expected: "DUMP", found: KernelDumpFormat.fourCC(validDump)))
        }
        dumpOptions = try reader.read(UInt32.self, f + "DumpOptions")
        try reader.skip(20, f + "unused")
        firstPageOffset = try reader.read(UInt64.self, f + "HeaderSize")
        presentPages = try reader.read(UInt64.self, f + "Pages")
        bitmapBits = try reader.read(UInt64.self, f + "BitmapSize")
        let (rounded, overflow) = bitmapBits.addingReportingOverflow(7)
        guard !overflow else {
            throw ParseError(offset: reader.fileOffset - 8, field: f + "BitmapSize", kind: .invalidValue("bitmap size overflows"))
        }
        bitmap = try reader.readBytes(rounded / 8, f + "Bits")
    }
}

/// `RDMP` headers of kernel memory (8), kernel and user memory (9) and complete (0xA) dumps,
/// right after the dump header: 0x20 bytes, then `MetadataSize` bytes of metadata up to the
/// first page (`FirstPageOffset == 0x2020 + MetadataSize`).
///
/// The metadata starts with 16 type-specific bytes, then ranges of
/// `{PageFileNumber: UInt64, NumberOfPages: UInt64}` whose pages follow one another from
/// `firstPageOffset`. The format is undocumented; this is the layout kdmp-parser reads, which
/// checks the offset relation above. Writers pad the range table with zeros to page-align the
/// first page, so an all-zero range ends the list (kdmp-parser stops at any zero PFN).
public struct RDMPHeader: Sendable {
    /// First field (0x40 in dumps seen by kdmp-parser).
    public var marker: UInt32
    /// `'RDMP'`.
    public var signature: UInt32
    /// `'DUMP'`.
    public var validDump: UInt32
    /// `MetadataSize`: bytes of metadata (type-specific part and PFN ranges) after the 0x20-byte header.
    public var metadataSize: UInt64
    /// `FirstPageOffset`: file offset of the first page.
    public var firstPageOffset: UInt64
    /// The 16 type-specific bytes (complete dumps: NumberOfRanges, two 16-bit fields, TotalNumberOfPages).
    public var typeSpecific: ByteView
    /// The PFN ranges.
    public var ranges: [PhysicalMemoryRun]

    /// `'RDMP'`.
    public static let signatureValue: UInt32 = 0x504D_4452
    /// Size of the fixed part before the metadata.
    public static let size = 0x20

    /// Parses the header at the start of `bytes` (the file from the end of the dump header).
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        let f = "RDMP_HEADER."
        marker = try reader.read(UInt32.self, f + "Marker")
        signature = try reader.read(UInt32.self, f + "Signature")
        guard signature == Self.signatureValue else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: f + "Signature",
                kind: .badSignature(expected: "RDMP", found: KernelDumpFormat.fourCC(signature)))
        }
        validDump = try reader.read(UInt32.self, f + "ValidDump")
        guard validDump == BitmapDumpHeader.validDumpValue else {
            throw ParseError(
                offset: bytes.fileOffset + 8, field: f + "ValidDump",
                kind: .badSignature(expected: "DUMP", found: KernelDumpFormat.fourCC(validDump)))
        }
        try reader.skip(4, f + "__unused")
        metadataSize = try reader.read(UInt64.self, f + "MetadataSize")
        firstPageOffset = try reader.read(UInt64.self, f + "FirstPageOffset")
        guard metadataSize >= 16, metadataSize % 16 == 0, let count = Int(exactly: metadataSize / 16 - 1) else {
            throw ParseError(
                offset: bytes.fileOffset + 0x10, field: f + "MetadataSize",
                kind: .invalidValue("\(metadataSize) is not 16 bytes plus a whole number of 16-byte PFN ranges"))
        }
        typeSpecific = try reader.readBytes(16, f + "TypeSpecific")
        try reader.checkCount(count, elementSize: 16, f + "PfnRange")
        ranges = []
        ranges.reserveCapacity(count)
        for _ in 0..<count {
            let pfn = try reader.read(UInt64.self, f + "PfnRange.PageFileNumber")
            let pages = try reader.read(UInt64.self, f + "PfnRange.NumberOfPages")
            if pfn == 0 && pages == 0 { break }
            ranges.append(PhysicalMemoryRun(basePage: pfn, pageCount: pages))
        }
    }
}

/// `SUMMARY_DUMP32` (0x20 bytes + bitmap) or `SUMMARY_DUMP64` (0x28 bytes + bitmap): the header
/// of older kernel summary dumps (type 2), right after the dump header.
///
/// Like a bitmap dump: bit *n* set means physical page *n* is present, present pages follow one
/// another from `headerSize`. The bits are an on-disk `RTL_BITMAP`, aligned to 8 bytes in the
/// 64-bit layout.
public struct SummaryDumpHeader: Sendable {
    /// `Signature`: `SDMP`.
    public var signature: UInt32
    /// `ValidDump`: `DUMP`.
    public var validDump: UInt32
    /// `DumpOptions`.
    public var dumpOptions: UInt32
    /// `HeaderSize`: file offset of the first present page.
    public var headerSize: UInt32
    /// `BitmapSize`: number of bits in the bitmap.
    public var bitmapSize: UInt32
    /// `Pages`: number of pages present (bits set).
    public var pages: UInt32
    /// `SizeOfBitMap` of the on-disk `RTL_BITMAP`.
    public var sizeOfBitMap: UInt32
    /// The bitmap bytes (`ceil(BitmapSize / 8)`, checked against the file).
    public var bitmap: ByteView

    /// Parses the header at the start of `bytes` (the file from the end of the dump header).
    public init(parsing bytes: ByteView, is64Bit: Bool) throws(ParseError) {
        var reader = bytes.reader()
        let f = is64Bit ? "SUMMARY_DUMP64." : "SUMMARY_DUMP32."
        signature = try reader.read(UInt32.self, f + "Signature")
        guard signature == BitmapDumpHeader.summarySignature else {
            throw ParseError(
                offset: bytes.fileOffset, field: f + "Signature",
                kind: .badSignature(expected: "SDMP", found: KernelDumpFormat.fourCC(signature)))
        }
        validDump = try reader.read(UInt32.self, f + "ValidDump")
        guard validDump == BitmapDumpHeader.validDumpValue else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: f + "ValidDump",
                kind: .badSignature(expected: "DUMP", found: KernelDumpFormat.fourCC(validDump)))
        }
        dumpOptions = try reader.read(UInt32.self, f + "DumpOptions")
        headerSize = try reader.read(UInt32.self, f + "HeaderSize")
        bitmapSize = try reader.read(UInt32.self, f + "BitmapSize")
        pages = try reader.read(UInt32.self, f + "Pages")
        sizeOfBitMap = try reader.read(UInt32.self, f + "SizeOfBitMap")
        try reader.skip(is64Bit ? 12 : 4, f + "_reserved0")
        bitmap = try reader.readBytes((UInt64(bitmapSize) + 7) / 8, f + "Bits")
    }
}
