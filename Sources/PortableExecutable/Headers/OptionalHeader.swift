import BinaryReading

/// `IMAGE_OPTIONAL_HEADER.Subsystem`.
public struct Subsystem: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `IMAGE_SUBSYSTEM_NATIVE` (drivers, ntdll).
    public static let native = Subsystem(rawValue: 1)
    /// `IMAGE_SUBSYSTEM_WINDOWS_GUI`.
    public static let windowsGUI = Subsystem(rawValue: 2)
    /// `IMAGE_SUBSYSTEM_WINDOWS_CUI`.
    public static let windowsCUI = Subsystem(rawValue: 3)
    /// `IMAGE_SUBSYSTEM_EFI_APPLICATION`.
    public static let efiApplication = Subsystem(rawValue: 10)
}

/// `IMAGE_OPTIONAL_HEADER.DllCharacteristics` flags.
public struct DLLCharacteristics: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA`.
    public static let highEntropyVA = DLLCharacteristics(rawValue: 0x0020)
    /// `IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE`.
    public static let dynamicBase = DLLCharacteristics(rawValue: 0x0040)
    /// `IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY`.
    public static let forceIntegrity = DLLCharacteristics(rawValue: 0x0080)
    /// `IMAGE_DLLCHARACTERISTICS_NX_COMPAT`.
    public static let nxCompat = DLLCharacteristics(rawValue: 0x0100)
    /// `IMAGE_DLLCHARACTERISTICS_NO_ISOLATION`.
    public static let noIsolation = DLLCharacteristics(rawValue: 0x0200)
    /// `IMAGE_DLLCHARACTERISTICS_NO_SEH`.
    public static let noSEH = DLLCharacteristics(rawValue: 0x0400)
    /// `IMAGE_DLLCHARACTERISTICS_NO_BIND`.
    public static let noBind = DLLCharacteristics(rawValue: 0x0800)
    /// `IMAGE_DLLCHARACTERISTICS_APPCONTAINER`.
    public static let appContainer = DLLCharacteristics(rawValue: 0x1000)
    /// `IMAGE_DLLCHARACTERISTICS_WDM_DRIVER`.
    public static let wdmDriver = DLLCharacteristics(rawValue: 0x2000)
    /// `IMAGE_DLLCHARACTERISTICS_GUARD_CF`.
    public static let guardCF = DLLCharacteristics(rawValue: 0x4000)
    /// `IMAGE_DLLCHARACTERISTICS_TERMINAL_SERVER_AWARE`.
    public static let terminalServerAware = DLLCharacteristics(rawValue: 0x8000)
}

/// `IMAGE_DATA_DIRECTORY` (8 bytes): an RVA and size of one of the image's tables.
public struct DataDirectory: Sendable, Equatable {
    /// `VirtualAddress` (for the certificate table, a file offset).
    public var virtualAddress: UInt32
    /// `Size`.
    public var size: UInt32

    /// Size on disk.
    public static let byteSize = 8

    public init(virtualAddress: UInt32, size: UInt32) {
        self.virtualAddress = virtualAddress
        self.size = size
    }

    /// Whether the directory is absent (zero RVA or size).
    public var isEmpty: Bool { virtualAddress == 0 || size == 0 }
}

/// The index of a data directory in `IMAGE_OPTIONAL_HEADER.DataDirectory`.
public struct DataDirectoryIndex: RawRepresentable, Sendable, Hashable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `IMAGE_DIRECTORY_ENTRY_EXPORT`.
    public static let export = DataDirectoryIndex(rawValue: 0)
    /// `IMAGE_DIRECTORY_ENTRY_IMPORT`.
    public static let `import` = DataDirectoryIndex(rawValue: 1)
    /// `IMAGE_DIRECTORY_ENTRY_RESOURCE`.
    public static let resource = DataDirectoryIndex(rawValue: 2)
    /// `IMAGE_DIRECTORY_ENTRY_EXCEPTION` (`.pdata`).
    public static let exception = DataDirectoryIndex(rawValue: 3)
    /// `IMAGE_DIRECTORY_ENTRY_SECURITY` (file offset, not RVA).
    public static let security = DataDirectoryIndex(rawValue: 4)
    /// `IMAGE_DIRECTORY_ENTRY_BASERELOC`.
    public static let baseRelocation = DataDirectoryIndex(rawValue: 5)
    /// `IMAGE_DIRECTORY_ENTRY_DEBUG`.
    public static let debug = DataDirectoryIndex(rawValue: 6)
    /// `IMAGE_DIRECTORY_ENTRY_ARCHITECTURE`.
    public static let architecture = DataDirectoryIndex(rawValue: 7)
    /// `IMAGE_DIRECTORY_ENTRY_GLOBALPTR`.
    public static let globalPointer = DataDirectoryIndex(rawValue: 8)
    /// `IMAGE_DIRECTORY_ENTRY_TLS`.
    public static let tls = DataDirectoryIndex(rawValue: 9)
    /// `IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG`.
    public static let loadConfig = DataDirectoryIndex(rawValue: 10)
    /// `IMAGE_DIRECTORY_ENTRY_BOUND_IMPORT`.
    public static let boundImport = DataDirectoryIndex(rawValue: 11)
    /// `IMAGE_DIRECTORY_ENTRY_IAT`.
    public static let importAddressTable = DataDirectoryIndex(rawValue: 12)
    /// `IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT`.
    public static let delayImport = DataDirectoryIndex(rawValue: 13)
    /// `IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR` (CLR header).
    public static let clrRuntime = DataDirectoryIndex(rawValue: 14)
}

/// `IMAGE_OPTIONAL_HEADER32` (96 bytes + directories) or `IMAGE_OPTIONAL_HEADER64` (112 bytes + directories).
///
/// One type for both: the 64-bit form widens `ImageBase` and the stack/heap sizes and drops
/// `BaseOfData`; both are held here in their widest type.
public struct OptionalHeader: Sendable, Equatable {
    /// `Magic`: 0x10B (PE32) or 0x20B (PE32+).
    public var magic: UInt16
    /// `MajorLinkerVersion`.
    public var majorLinkerVersion: UInt8
    /// `MinorLinkerVersion`.
    public var minorLinkerVersion: UInt8
    /// `SizeOfCode`.
    public var sizeOfCode: UInt32
    /// `SizeOfInitializedData`.
    public var sizeOfInitializedData: UInt32
    /// `SizeOfUninitializedData`.
    public var sizeOfUninitializedData: UInt32
    /// `AddressOfEntryPoint` (RVA, 0 when none).
    public var addressOfEntryPoint: UInt32
    /// `BaseOfCode`.
    public var baseOfCode: UInt32
    /// `BaseOfData` (PE32 only; nil in PE32+).
    public var baseOfData: UInt32?
    /// `ImageBase`.
    public var imageBase: UInt64
    /// `SectionAlignment`.
    public var sectionAlignment: UInt32
    /// `FileAlignment`.
    public var fileAlignment: UInt32
    /// `MajorOperatingSystemVersion`.
    public var majorOperatingSystemVersion: UInt16
    /// `MinorOperatingSystemVersion`.
    public var minorOperatingSystemVersion: UInt16
    /// `MajorImageVersion`.
    public var majorImageVersion: UInt16
    /// `MinorImageVersion`.
    public var minorImageVersion: UInt16
    /// `MajorSubsystemVersion`.
    public var majorSubsystemVersion: UInt16
    /// `MinorSubsystemVersion`.
    public var minorSubsystemVersion: UInt16
    /// `Win32VersionValue`.
    public var win32VersionValue: UInt32
    /// `SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `SizeOfHeaders`.
    public var sizeOfHeaders: UInt32
    /// `CheckSum`.
    public var checkSum: UInt32
    /// `Subsystem`.
    public var subsystem: Subsystem
    /// `DllCharacteristics`.
    public var dllCharacteristics: DLLCharacteristics
    /// `SizeOfStackReserve`.
    public var sizeOfStackReserve: UInt64
    /// `SizeOfStackCommit`.
    public var sizeOfStackCommit: UInt64
    /// `SizeOfHeapReserve`.
    public var sizeOfHeapReserve: UInt64
    /// `SizeOfHeapCommit`.
    public var sizeOfHeapCommit: UInt64
    /// `LoaderFlags`.
    public var loaderFlags: UInt32
    /// `NumberOfRvaAndSizes`, as written (may exceed the 16 directories defined).
    public var numberOfRvaAndSizes: UInt32
    /// `DataDirectory[]`: the entries present, at most 16.
    public var dataDirectories: [DataDirectory]

    /// `IMAGE_NT_OPTIONAL_HDR32_MAGIC`.
    public static let pe32Magic: UInt16 = 0x10B
    /// `IMAGE_NT_OPTIONAL_HDR64_MAGIC`.
    public static let pe32PlusMagic: UInt16 = 0x20B
    /// `IMAGE_NUMBEROF_DIRECTORY_ENTRIES`.
    public static let maximumDirectories = 16
    /// Offset of `CheckSum` from the start of the optional header (same in both forms).
    public static let checkSumOffset = 64

    /// Whether this is the PE32+ (64-bit) form.
    public var isPE32Plus: Bool { magic == Self.pe32PlusMagic }

    /// Reads the header from a view of exactly `SizeOfOptionalHeader` bytes.
    ///
    /// Directories past the end of the view are treated as absent, as the Windows loader does.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        let p = "IMAGE_OPTIONAL_HEADER"
        let magicOffset = reader.fileOffset
        magic = try reader.read(UInt16.self, p + ".Magic")
        guard magic == Self.pe32Magic || magic == Self.pe32PlusMagic else {
            throw ParseError(
                offset: magicOffset, field: p + ".Magic",
                kind: .badSignature(expected: "0x10B or 0x20B", found: "0x" + hex(magic)))
        }
        let wide = magic == Self.pe32PlusMagic
        majorLinkerVersion = try reader.read(UInt8.self, p + ".MajorLinkerVersion")
        minorLinkerVersion = try reader.read(UInt8.self, p + ".MinorLinkerVersion")
        sizeOfCode = try reader.read(UInt32.self, p + ".SizeOfCode")
        sizeOfInitializedData = try reader.read(UInt32.self, p + ".SizeOfInitializedData")
        sizeOfUninitializedData = try reader.read(UInt32.self, p + ".SizeOfUninitializedData")
        addressOfEntryPoint = try reader.read(UInt32.self, p + ".AddressOfEntryPoint")
        baseOfCode = try reader.read(UInt32.self, p + ".BaseOfCode")
        if wide {
            baseOfData = nil
            imageBase = try reader.read(UInt64.self, p + ".ImageBase")
        } else {
            baseOfData = try reader.read(UInt32.self, p + ".BaseOfData")
            imageBase = UInt64(try reader.read(UInt32.self, p + ".ImageBase"))
        }
        sectionAlignment = try reader.read(UInt32.self, p + ".SectionAlignment")
        fileAlignment = try reader.read(UInt32.self, p + ".FileAlignment")
        majorOperatingSystemVersion = try reader.read(UInt16.self, p + ".MajorOperatingSystemVersion")
        minorOperatingSystemVersion = try reader.read(UInt16.self, p + ".MinorOperatingSystemVersion")
        majorImageVersion = try reader.read(UInt16.self, p + ".MajorImageVersion")
        minorImageVersion = try reader.read(UInt16.self, p + ".MinorImageVersion")
        majorSubsystemVersion = try reader.read(UInt16.self, p + ".MajorSubsystemVersion")
        minorSubsystemVersion = try reader.read(UInt16.self, p + ".MinorSubsystemVersion")
        win32VersionValue = try reader.read(UInt32.self, p + ".Win32VersionValue")
        sizeOfImage = try reader.read(UInt32.self, p + ".SizeOfImage")
        sizeOfHeaders = try reader.read(UInt32.self, p + ".SizeOfHeaders")
        checkSum = try reader.read(UInt32.self, p + ".CheckSum")
        subsystem = Subsystem(rawValue: try reader.read(UInt16.self, p + ".Subsystem"))
        dllCharacteristics = DLLCharacteristics(rawValue: try reader.read(UInt16.self, p + ".DllCharacteristics"))
        if wide {
            sizeOfStackReserve = try reader.read(UInt64.self, p + ".SizeOfStackReserve")
            sizeOfStackCommit = try reader.read(UInt64.self, p + ".SizeOfStackCommit")
            sizeOfHeapReserve = try reader.read(UInt64.self, p + ".SizeOfHeapReserve")
            sizeOfHeapCommit = try reader.read(UInt64.self, p + ".SizeOfHeapCommit")
        } else {
            sizeOfStackReserve = UInt64(try reader.read(UInt32.self, p + ".SizeOfStackReserve"))
            sizeOfStackCommit = UInt64(try reader.read(UInt32.self, p + ".SizeOfStackCommit"))
            sizeOfHeapReserve = UInt64(try reader.read(UInt32.self, p + ".SizeOfHeapReserve"))
            sizeOfHeapCommit = UInt64(try reader.read(UInt32.self, p + ".SizeOfHeapCommit"))
        }
        loaderFlags = try reader.read(UInt32.self, p + ".LoaderFlags")
        numberOfRvaAndSizes = try reader.read(UInt32.self, p + ".NumberOfRvaAndSizes")
        // The loader reads at most 16 directories and only those the header has room for.
        let present = min(
            Int(min(numberOfRvaAndSizes, UInt32(Self.maximumDirectories))), reader.remaining / DataDirectory.byteSize)
        var directories = [DataDirectory]()
        directories.reserveCapacity(present)
        for _ in 0..<present {
            let rva = try reader.read(UInt32.self, p + ".DataDirectory.VirtualAddress")
            let size = try reader.read(UInt32.self, p + ".DataDirectory.Size")
            directories.append(DataDirectory(virtualAddress: rva, size: size))
        }
        dataDirectories = directories
    }

    /// The directory at `index`, or nil when the header does not have it or it is empty.
    public func directory(_ index: DataDirectoryIndex) -> DataDirectory? {
        guard index.rawValue >= 0, index.rawValue < dataDirectories.count else { return nil }
        let entry = dataDirectories[index.rawValue]
        return entry.isEmpty ? nil : entry
    }
}
