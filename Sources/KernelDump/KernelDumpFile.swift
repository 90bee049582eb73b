import BinaryReading

/// A Windows kernel dump (`PAGEDUMP` or `PAGEDU64`) of any dump type.
///
/// Opening reads the header only; the page index (`physicalMemory()`) and the small-dump
/// contents (`triage()`) are decoded on request.
public struct KernelDumpFile: Sendable {
    /// The whole file.
    public let bytes: ByteView
    /// The dump header.
    public let header: DumpHeader

    /// Opens the kernel dump held in `bytes`.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        header = try DumpHeader(parsing: bytes)
    }

    /// Maps and opens the kernel dump at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(bytes: MappedFile(path: path).bytes)
    }

    /// The dump type, when filled in.
    public var dumpType: DumpType? { header.dumpType }

    /// The bytes after the header, where the type-specific data starts.
    public var body: ByteView { bytes.suffix(from: header.size) }

    /// The `BITMAP_DUMP` header of a bitmap dump (types 5 and 6).
    public func bitmapHeader() throws(ParseError) -> BitmapDumpHeader {
        try BitmapDumpHeader(parsing: body)
    }

    /// The `SUMMARY_DUMP` header of an older kernel summary dump (type 2).
    public func summaryHeader() throws(ParseError) -> SummaryDumpHeader {
        try SummaryDumpHeader(parsing: body, is64Bit: header.is64Bit)
    }

    /// The `RDMP` header of kernel memory, kernel and user, and complete dumps (types 8, 9, 0xA).
    public func rdmpHeader() throws(ParseError) -> RDMPHeader {
        try RDMPHeader(parsing: body)
    }

    /// Indexes the physical pages the dump holds.
    ///
    /// Full dumps (1): the header's runs, pages from the end of the header. Summary (2) and
    /// bitmap dumps (5, 6): the bitmap. RDMP dumps (8, 9, 0xA): the PFN ranges. Other types hold no page index.
    public func physicalMemory() throws(ParseError) -> PhysicalMemory {
        switch header.dumpType {
        case .full?:
            guard let descriptor = try header.physicalMemoryDescriptor() else {
                throw ParseError(
                    offset: header.physicalMemoryBlock.fileOffset, field: "PhysicalMemoryBlockBuffer",
                    kind: .invalidValue("a full dump without physical memory runs"))
            }
            return PhysicalMemory(
                bytes: bytes, sequentialRanges: descriptor.runs, firstPageOffset: UInt64(header.size),
                field: "PHYSICAL_MEMORY_DESCRIPTOR.Run")
        case .kernel?:
            let summary = try summaryHeader()
            return PhysicalMemory(
                bytes: bytes, bitmap: summary.bitmap, bitCount: UInt64(summary.bitmapSize),
                firstPageOffset: UInt64(summary.headerSize))
        case .bitmap?, .liveKernelBitmap?:
            let bitmap = try bitmapHeader()
            return PhysicalMemory(
                bytes: bytes, bitmap: bitmap.bitmap, bitCount: bitmap.bitmapBits, firstPageOffset: bitmap.firstPageOffset)
        case .kernelMemory?, .kernelAndUserMemory?, .complete?:
            let rdmp = try rdmpHeader()
            return PhysicalMemory(
                bytes: bytes, sequentialRanges: rdmp.ranges, firstPageOffset: rdmp.firstPageOffset, field: "RDMP_HEADER.PfnRange")
        default:
            throw ParseError(
                offset: header.is64Bit ? 0xF98 : 0xF88, field: "DUMP_HEADER.DumpType",
                kind: .invalidValue("\(header.dumpType.map { $0.description } ?? "unset") dumps hold no physical page index"))
        }
    }

    /// The paging mode the dumped machine used, when this reader can walk it.
    public var pagingMode: PagingMode? {
        switch header.machineImageType {
        case .amd64?: .x64
        case .x86?: header.paeEnabled == false ? .x86 : .x86PAE
        default: nil
        }
    }

    /// The kernel address space seen through the header's `DirectoryTableBase`.
    public func virtualMemory(_ physical: PhysicalMemory) throws(ParseError) -> VirtualMemory {
        guard let mode = pagingMode else {
            throw ParseError(
                offset: header.is64Bit ? 0x30 : 0x20, field: "DUMP_HEADER.MachineImageType",
                kind: .invalidValue(
                    "no page-table walker for \(header.machineImageType.map { $0.description } ?? "an unset machine")"))
        }
        guard let base = header.directoryTableBase else {
            throw ParseError(offset: 0x10, field: "DUMP_HEADER.DirectoryTableBase", kind: .invalidValue("never filled in"))
        }
        return VirtualMemory(physical: physical, directoryTableBase: base, mode: mode)
    }

    /// Decodes the `TRIAGE_DUMP` of a small dump (type 4).
    public func triage() throws(ParseError) -> TriageDump {
        guard header.dumpType == .small else {
            throw ParseError(
                offset: header.is64Bit ? 0xF98 : 0xF88, field: "DUMP_HEADER.DumpType",
                kind: .invalidValue("only small dumps hold a TRIAGE_DUMP"))
        }
        return try TriageDump(parsing: bytes, header: header)
    }
}
