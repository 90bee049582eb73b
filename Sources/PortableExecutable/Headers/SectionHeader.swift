import BinaryReading

/// `IMAGE_SECTION_HEADER.Characteristics` flags.
public struct SectionCharacteristics: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `IMAGE_SCN_CNT_CODE`.
    public static let code = SectionCharacteristics(rawValue: 0x0000_0020)
    /// `IMAGE_SCN_CNT_INITIALIZED_DATA`.
    public static let initializedData = SectionCharacteristics(rawValue: 0x0000_0040)
    /// `IMAGE_SCN_CNT_UNINITIALIZED_DATA`.
    public static let uninitializedData = SectionCharacteristics(rawValue: 0x0000_0080)
    /// `IMAGE_SCN_MEM_DISCARDABLE`.
    public static let discardable = SectionCharacteristics(rawValue: 0x0200_0000)
    /// `IMAGE_SCN_MEM_SHARED`.
    public static let shared = SectionCharacteristics(rawValue: 0x1000_0000)
    /// `IMAGE_SCN_MEM_EXECUTE`.
    public static let execute = SectionCharacteristics(rawValue: 0x2000_0000)
    /// `IMAGE_SCN_MEM_READ`.
    public static let read = SectionCharacteristics(rawValue: 0x4000_0000)
    /// `IMAGE_SCN_MEM_WRITE`.
    public static let write = SectionCharacteristics(rawValue: 0x8000_0000)
}

/// `IMAGE_SECTION_HEADER` (40 bytes), from winnt.h: one entry of the section table.
public struct SectionHeader: Sendable, Equatable {
    /// `Name[8]`, up to the first NUL. A `/123` name refers to the COFF string table (object files, MinGW images).
    public var name: String
    /// The eight name bytes as stored.
    public var rawName: [UInt8]
    /// `Misc.VirtualSize`.
    public var virtualSize: UInt32
    /// `VirtualAddress` (RVA).
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
    public var characteristics: SectionCharacteristics

    /// Size on disk.
    public static let size = 40

    /// Reads one section header.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        let nameBytes = try reader.readBytes(8, "IMAGE_SECTION_HEADER.Name")
        rawName = nameBytes.array
        name = nameBytes.cString
        virtualSize = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.VirtualSize")
        virtualAddress = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.VirtualAddress")
        sizeOfRawData = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.SizeOfRawData")
        pointerToRawData = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.PointerToRawData")
        pointerToRelocations = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.PointerToRelocations")
        pointerToLinenumbers = try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.PointerToLinenumbers")
        numberOfRelocations = try reader.read(UInt16.self, "IMAGE_SECTION_HEADER.NumberOfRelocations")
        numberOfLinenumbers = try reader.read(UInt16.self, "IMAGE_SECTION_HEADER.NumberOfLinenumbers")
        characteristics = SectionCharacteristics(rawValue: try reader.read(UInt32.self, "IMAGE_SECTION_HEADER.Characteristics"))
    }

    /// The size the section occupies in memory: `VirtualSize`, or `SizeOfRawData` when a linker left it zero.
    public var memorySize: UInt32 { virtualSize != 0 ? virtualSize : sizeOfRawData }

    /// Whether `rva` falls inside the section's memory range.
    public func contains(rva: UInt32) -> Bool {
        rva >= virtualAddress && UInt64(rva) - UInt64(virtualAddress) < UInt64(memorySize)
    }
}
