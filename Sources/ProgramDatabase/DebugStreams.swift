import BinaryReading

/// `IMAGE_SECTION_HEADER` (40 bytes), as the DBI's section header streams store it (winnt.h).
public struct PDBSectionHeader: Sendable, Equatable {
    /// `Name`: up to 8 bytes, NUL-padded.
    public var name: String
    /// `Misc.VirtualSize`.
    public var virtualSize: UInt32
    /// `VirtualAddress`: the section's RVA.
    public var virtualAddress: UInt32
    /// `SizeOfRawData`.
    public var sizeOfRawData: UInt32
    /// `PointerToRawData`.
    public var pointerToRawData: UInt32
    /// `PointerToRelocations`.
    public var pointerToRelocations: UInt32
    /// `PointerToLinenumbers`.
    public var pointerToLinenumbers: UInt32
    /// `NumberOfRelocations`.
    public var numberOfRelocations: UInt16
    /// `NumberOfLinenumbers`.
    public var numberOfLinenumbers: UInt16
    /// `Characteristics`.
    public var characteristics: UInt32

    /// Size on disk.
    public static let size = 40

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        name = try reader.readBytes(8, "IMAGE_SECTION_HEADER.Name").cString
        virtualSize = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.VirtualSize")
        virtualAddress = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.VirtualAddress")
        sizeOfRawData = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.SizeOfRawData")
        pointerToRawData = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.PointerToRawData")
        pointerToRelocations = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.PointerToRelocations")
        pointerToLinenumbers = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.PointerToLinenumbers")
        numberOfRelocations = try reader.read(UInt16.self, "IMAGE_SECTION_HEADER.NumberOfRelocations")
        numberOfLinenumbers = try reader.read(UInt16.self, "IMAGE_SECTION_HEADER.NumberOfLinenumbers")
        characteristics = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.Characteristics")
    }

    /// Reads a whole section header stream (a multiple of 40 bytes).
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [PDBSectionHeader] {
        try fixedRecords(bytes, size: size, field: "section header stream") { (reader: inout ByteReader) throws(ParseError) in
            try PDBSectionHeader(parsing: &reader)
        }
    }
}

/// `FPO_DATA` (16 bytes), from winnt.h: frame layout of an x86 function without a frame pointer.
public struct FPOData: Sendable, Equatable {
    /// `ulOffStart`: the function's RVA.
    public var offsetStart: UInt32
    /// `cbProcSize`.
    public var procedureSize: UInt32
    /// `cdwLocals`: local variables, in dwords.
    public var localsDwords: UInt32
    /// `cdwParams`: parameters, in dwords.
    public var paramsDwords: UInt16
    /// The packed bits: `cbProlog:8, cbRegs:3, fHasSEH:1, fUseBP:1, reserved:1, cbFrame:2`.
    public var attributes: UInt16

    /// `cbProlog`.
    public var prologSize: UInt8 { UInt8(attributes & 0xFF) }
    /// `cbRegs`: saved registers.
    public var savedRegisters: UInt8 { UInt8((attributes >> 8) & 0x7) }
    /// `fHasSEH`.
    public var hasSEH: Bool { attributes & 0x800 != 0 }
    /// `fUseBP`.
    public var usesBasePointer: Bool { attributes & 0x1000 != 0 }
    /// `cbFrame`: `FRAME_FPO` 0, `FRAME_TRAP` 1, `FRAME_TSS` 2, `FRAME_NONFPO` 3.
    public var frameType: UInt8 { UInt8(attributes >> 14) }

    /// Size on disk.
    public static let size = 16

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        offsetStart = try reader.read(UInt32.self, "FPO_DATA.ulOffStart")
        procedureSize = try reader.read(UInt32.self, "FPO_DATA.cbProcSize")
        localsDwords = try reader.read(UInt32.self, "FPO_DATA.cdwLocals")
        paramsDwords = try reader.read(UInt16.self, "FPO_DATA.cdwParams")
        attributes = try reader.read(UInt16.self, "FPO_DATA attributes")
    }

    /// Reads a whole FPO stream.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [FPOData] {
        try fixedRecords(bytes, size: size, field: "FPO stream") { (reader: inout ByteReader) throws(ParseError) in
            try FPOData(parsing: &reader)
        }
    }
}

/// `FRAMEDATA` (32 bytes), cvinfo.h (LLVM's `FrameData`): the "new FPO" records of x86 code,
/// whose `FrameFunc` is a program in the `/names` string table.
public struct FrameData: Sendable, Equatable {
    /// `ulRvaStart`.
    public var rvaStart: UInt32
    /// `cbBlock`: code size.
    public var codeSize: UInt32
    /// `cbLocals`.
    public var localSize: UInt32
    /// `cbParams`.
    public var paramsSize: UInt32
    /// `cbStkMax`.
    public var maxStackSize: UInt32
    /// `frameFunc`: offset of the frame program in `/names`.
    public var frameFunc: UInt32
    /// `cbProlog`.
    public var prologSize: UInt16
    /// `cbSavedRegs`.
    public var savedRegsSize: UInt16
    /// Flags: bit 0 `fHasSEH`, bit 1 `fHasEH`, bit 2 `fIsFunctionStart`.
    public var flags: UInt32

    /// Size on disk.
    public static let size = 32

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        rvaStart = try reader.read(UInt32.self, "FRAMEDATA.ulRvaStart")
        codeSize = try reader.read(UInt32.self, "FRAMEDATA.cbBlock")
        localSize = try reader.read(UInt32.self, "FRAMEDATA.cbLocals")
        paramsSize = try reader.read(UInt32.self, "FRAMEDATA.cbParams")
        maxStackSize = try reader.read(UInt32.self, "FRAMEDATA.cbStkMax")
        frameFunc = try reader.read(UInt32.self, "FRAMEDATA.frameFunc")
        prologSize = try reader.read(UInt16.self, "FRAMEDATA.cbProlog")
        savedRegsSize = try reader.read(UInt16.self, "FRAMEDATA.cbSavedRegs")
        flags = try reader.read(UInt32.self, "FRAMEDATA.flags")
    }

    /// Reads a whole new-FPO stream.
    ///
    /// Like the `DEBUG_S_FRAMEDATA` subsection, the stream may start with a 4-byte relocation
    /// base before the records (LLVM's `DebugFrameDataSubsectionRef` skips it when the size
    /// is not a multiple of 32): accept exactly 0 or 4 leading bytes.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [FrameData] {
        let body = bytes.count % size == 4 ? bytes.suffix(from: 4) : bytes
        return try fixedRecords(body, size: size, field: "new FPO stream") { (reader: inout ByteReader) throws(ParseError) in
            try FrameData(parsing: &reader)
        }
    }
}

/// `OMAP_DATA` (8 bytes): one entry of an address map between the image and the original
/// (pre-reordering) layout.
public struct OMAPEntry: Sendable, Equatable {
    /// `rva`: the address being mapped.
    public var source: UInt32
    /// `rvaTo`: where it maps to; 0 means "no counterpart".
    public var target: UInt32

    public init(source: UInt32, target: UInt32) {
        self.source = source
        self.target = target
    }

    /// Reads a whole OMAP stream.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [OMAPEntry] {
        try fixedRecords(bytes, size: 8, field: "OMAP stream") { (reader: inout ByteReader) throws(ParseError) in
            OMAPEntry(
                source: try reader.read(UInt32.self, "OMAP_DATA.rva"), target: try reader.read(UInt32.self, "OMAP_DATA.rvaTo"))
        }
    }
}

/// A sorted OMAP table: maps an address through the last entry at or below it.
public struct OMAPTable: Sendable {
    /// Entries sorted by `source`.
    public let entries: [OMAPEntry]

    public init(_ entries: [OMAPEntry]) {
        self.entries = entries.sorted { $0.source < $1.source }
    }

    /// The mapped address, or nil when the address falls before the table or in an unmapped run.
    public func map(_ address: UInt32) -> UInt32? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].source <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let entry = entries[low - 1]
        guard entry.target != 0 else { return nil }
        let (mapped, overflow) = entry.target.addingReportingOverflow(address - entry.source)
        return overflow ? nil : mapped
    }
}

/// Reads a stream made of `size`-byte records, rejecting a partial record at the end.
func fixedRecords<T>(
    _ bytes: ByteView, size: Int, field: String, _ element: (inout ByteReader) throws(ParseError) -> T
) throws(ParseError) -> [T] {
    guard bytes.count % size == 0 else {
        throw ParseError(
            offset: bytes.fileOffset, field: field,
            kind: .invalidValue("\(bytes.count) bytes is not a whole number of \(size)-byte records"))
    }
    var reader = bytes.reader()
    var records = [T]()
    records.reserveCapacity(bytes.count / size)
    for _ in 0..<(bytes.count / size) {
        records.append(try element(&reader))
    }
    return records
}
