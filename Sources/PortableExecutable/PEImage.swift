import BinaryReading

/// A PE/COFF image (PE32 or PE32+): its headers and section table, read from a file or from bytes.
///
/// Opening reads the DOS header, the NT headers and the section table; everything else (debug
/// directory, exports, resources, unwind data) is decoded when asked for. Every RVA and size
/// comes from the file and is checked before use.
public struct PEImage: Sendable {
    /// The whole file.
    public let bytes: ByteView
    /// `IMAGE_DOS_HEADER`.
    public let dosHeader: DOSHeader
    /// `IMAGE_FILE_HEADER`.
    public let fileHeader: FileHeader
    /// `IMAGE_OPTIONAL_HEADER32` or `IMAGE_OPTIONAL_HEADER64`.
    public let optionalHeader: OptionalHeader
    /// The section table, in file order.
    public let sections: [SectionHeader]

    /// `IMAGE_NT_SIGNATURE` (`PE\0\0` read as a little-endian integer).
    public static let ntSignature: UInt32 = 0x0000_4550
    /// Sections beyond this count are rejected: the loader allows 96, linkers at most 65535.
    public static let maximumSections = 65535

    /// Maps and opens the file at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(bytes: try MappedFile(path: path).bytes)
    }

    /// Opens an image from its bytes.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        var reader = bytes.reader()
        dosHeader = try DOSHeader(parsing: &reader)
        let ntOffset = Int(dosHeader.newHeaderOffset)
        guard bytes.contains(offset: ntOffset, size: 4) else {
            throw ParseError(
                offset: 0x3C, field: "IMAGE_DOS_HEADER.e_lfanew",
                kind: .outOfBounds(offset: Int64(ntOffset), size: 4, fileSize: Int64(bytes.count)))
        }
        reader = bytes.reader(at: ntOffset)
        let signatureOffset = reader.fileOffset
        let signature = try reader.read(UInt32.self, "IMAGE_NT_HEADERS.Signature")
        guard signature == Self.ntSignature else {
            throw ParseError(
                offset: signatureOffset, field: "IMAGE_NT_HEADERS.Signature",
                kind: .badSignature(expected: "PE\\0\\0", found: hex(signature, width: 8)))
        }
        fileHeader = try FileHeader(parsing: &reader)
        let optionalBytes = try reader.readBytes(Int(fileHeader.sizeOfOptionalHeader), "IMAGE_OPTIONAL_HEADER")
        optionalHeader = try OptionalHeader(parsing: optionalBytes)
        let count = Int(fileHeader.numberOfSections)
        try reader.checkCount(count, elementSize: SectionHeader.size, "IMAGE_SECTION_HEADER[NumberOfSections]")
        var sections = [SectionHeader]()
        sections.reserveCapacity(count)
        for _ in 0..<count {
            sections.append(try SectionHeader(parsing: &reader))
        }
        self.sections = sections
    }

    /// `IMAGE_FILE_HEADER.Machine`.
    public var machine: Machine { fileHeader.machine }
    /// Whether the image is PE32+ (64-bit).
    public var isPE32Plus: Bool { optionalHeader.isPE32Plus }
    /// Absolute file offset of the `IMAGE_NT_HEADERS`.
    public var ntHeadersOffset: Int64 { Int64(dosHeader.newHeaderOffset) }
    /// Absolute file offset of `IMAGE_OPTIONAL_HEADER.CheckSum`.
    public var checkSumFieldOffset: Int64 {
        ntHeadersOffset + 4 + Int64(FileHeader.size) + Int64(OptionalHeader.checkSumOffset)
    }

    /// The section whose memory range holds `rva`, if any (the first one, should sections overlap).
    public func section(containing rva: UInt32) -> SectionHeader? {
        sections.first { $0.contains(rva: rva) }
    }

    /// The section's full name: a `/123` name (MinGW and Wine images carry long DWARF section
    /// names this way) is looked up in the COFF string table after the symbol table; other
    /// names, and names the string table cannot resolve, are returned as stored.
    public func fullName(of section: SectionHeader) -> String {
        guard section.name.hasPrefix("/"), let offset = UInt64(section.name.dropFirst()),
            fileHeader.pointerToSymbolTable != 0
        else { return section.name }
        // IMAGE_SYMBOL records are 18 bytes; the string table follows them.
        let table = UInt64(fileHeader.pointerToSymbolTable) + UInt64(fileHeader.numberOfSymbols) * 18
        let (start, overflow) = table.addingReportingOverflow(offset)
        guard !overflow, start < UInt64(bytes.count) else { return section.name }
        return bytes.suffix(from: Int(start)).prefix(4096).cString
    }

    /// The section named `name` (first match).
    public func section(named name: String) -> SectionHeader? {
        sections.first { $0.name == name }
    }

    /// The file offset holding the byte at `rva` and the number of file bytes from there to the end
    /// of its section's raw data; nil when no file byte backs the RVA (not mapped, or zero-filled).
    public func fileRange(ofRVA rva: UInt32) -> (offset: Int, available: Int)? {
        if let section = section(containing: rva) {
            let delta = UInt64(rva - section.virtualAddress)
            // The loader reads raw data from PointerToRawData rounded down to 512 bytes when
            // FileAlignment is at least 512 (pefile and the Windows loader agree on this).
            let start =
                optionalHeader.fileAlignment >= 0x200
                ? UInt64(section.pointerToRawData) & ~0x1FF : UInt64(section.pointerToRawData)
            let rawSize = min(UInt64(section.sizeOfRawData), UInt64(section.memorySize))
            guard delta < rawSize else { return nil }
            let offset = start + delta
            guard offset < UInt64(bytes.count) else { return nil }
            let available = min(rawSize - delta, UInt64(bytes.count) - offset)
            return (Int(offset), Int(available))
        }
        // RVAs below the first section map to the headers, byte for byte.
        let firstSection = sections.map(\.virtualAddress).min() ?? UInt32.max
        let headerEnd = min(UInt64(optionalHeader.sizeOfHeaders), UInt64(firstSection), UInt64(bytes.count))
        guard UInt64(rva) < headerEnd else { return nil }
        return (Int(rva), Int(headerEnd - UInt64(rva)))
    }

    /// The file offset of `rva`, or nil when no file byte backs it.
    public func fileOffset(ofRVA rva: UInt32) -> Int? {
        fileRange(ofRVA: rva)?.offset
    }

    /// The `size` bytes at `rva`; throws unless all of them are backed by the file.
    ///
    /// `field` names what is read; `referencedAt` is the file offset of the RVA's field, reported
    /// when the RVA does not map at all.
    public func bytes(
        atRVA rva: UInt32, size: UInt32, field: @autoclosure () -> String, referencedAt: Int64? = nil
    ) throws(ParseError) -> ByteView {
        guard let range = fileRange(ofRVA: rva) else {
            throw ParseError(
                offset: referencedAt ?? ntHeadersOffset, field: field(),
                kind: .invalidValue("RVA 0x\(hex(rva)) is not backed by file bytes"))
        }
        guard UInt64(size) <= UInt64(range.available) else {
            throw ParseError(
                offset: Int64(range.offset), field: field(),
                kind: .truncated(needed: Int64(size), available: Int64(range.available)))
        }
        return try bytes.slice(offset: range.offset, size: Int(size), field: field())
    }

    /// The file bytes from `rva` to the end of its section's raw data, at most `limit` bytes.
    public func bytes(
        fromRVA rva: UInt32, limit: Int, field: @autoclosure () -> String, referencedAt: Int64? = nil
    ) throws(ParseError) -> ByteView {
        guard let range = fileRange(ofRVA: rva) else {
            throw ParseError(
                offset: referencedAt ?? ntHeadersOffset, field: field(),
                kind: .invalidValue("RVA 0x\(hex(rva)) is not backed by file bytes"))
        }
        return try bytes.slice(offset: range.offset, size: min(range.available, max(0, limit)), field: field())
    }

    /// The NUL-terminated string at `rva` (at most `limit` bytes), decoded as UTF-8.
    public func cString(
        atRVA rva: UInt32, limit: Int = 4096, field: @autoclosure () -> String, referencedAt: Int64? = nil
    ) throws(ParseError) -> String {
        try bytes(fromRVA: rva, limit: limit, field: field(), referencedAt: referencedAt).cString
    }

    /// The bytes of data directory `index`, or nil when the image does not have it.
    public func directoryBytes(_ index: DataDirectoryIndex, field: String) throws(ParseError) -> ByteView? {
        guard let directory = optionalHeader.directory(index) else { return nil }
        let fieldOffset =
            ntHeadersOffset + 4 + Int64(FileHeader.size)
            + (isPE32Plus ? 112 : 96) + Int64(index.rawValue * DataDirectory.byteSize)
        return try bytes(atRVA: directory.virtualAddress, size: directory.size, field: field, referencedAt: fieldOffset)
    }
}
