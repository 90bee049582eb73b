import BinaryReading

/// `IMAGE_FILE_HEADER.Machine`: the CPU an image is built for.
public struct Machine: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `IMAGE_FILE_MACHINE_UNKNOWN`.
    public static let unknown = Machine(rawValue: 0)
    /// `IMAGE_FILE_MACHINE_I386`.
    public static let i386 = Machine(rawValue: 0x014C)
    /// `IMAGE_FILE_MACHINE_AMD64`.
    public static let amd64 = Machine(rawValue: 0x8664)
    /// `IMAGE_FILE_MACHINE_ARM64`.
    public static let arm64 = Machine(rawValue: 0xAA64)
    /// `IMAGE_FILE_MACHINE_ARMNT` (ARM Thumb-2).
    public static let armNT = Machine(rawValue: 0x01C4)
    /// `IMAGE_FILE_MACHINE_ARM`.
    public static let arm = Machine(rawValue: 0x01C0)
    /// `IMAGE_FILE_MACHINE_THUMB`.
    public static let thumb = Machine(rawValue: 0x01C2)
    /// `IMAGE_FILE_MACHINE_ARM64EC`.
    public static let arm64EC = Machine(rawValue: 0xA641)
    /// `IMAGE_FILE_MACHINE_ARM64X`.
    public static let arm64X = Machine(rawValue: 0xA64E)
    /// `IMAGE_FILE_MACHINE_IA64`.
    public static let ia64 = Machine(rawValue: 0x0200)

    /// The winnt.h name without its `IMAGE_FILE_MACHINE_` prefix, or the hex value.
    public var description: String {
        switch self {
        case .unknown: return "UNKNOWN"
        case .i386: return "I386"
        case .amd64: return "AMD64"
        case .arm64: return "ARM64"
        case .armNT: return "ARMNT"
        case .arm: return "ARM"
        case .thumb: return "THUMB"
        case .arm64EC: return "ARM64EC"
        case .arm64X: return "ARM64X"
        case .ia64: return "IA64"
        default: return "0x" + hex(rawValue, width: 4)
        }
    }
}

/// `IMAGE_FILE_HEADER.Characteristics` flags.
public struct FileCharacteristics: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `IMAGE_FILE_RELOCS_STRIPPED`.
    public static let relocsStripped = FileCharacteristics(rawValue: 0x0001)
    /// `IMAGE_FILE_EXECUTABLE_IMAGE`.
    public static let executableImage = FileCharacteristics(rawValue: 0x0002)
    /// `IMAGE_FILE_LARGE_ADDRESS_AWARE`.
    public static let largeAddressAware = FileCharacteristics(rawValue: 0x0020)
    /// `IMAGE_FILE_32BIT_MACHINE`.
    public static let machine32Bit = FileCharacteristics(rawValue: 0x0100)
    /// `IMAGE_FILE_DEBUG_STRIPPED`.
    public static let debugStripped = FileCharacteristics(rawValue: 0x0200)
    /// `IMAGE_FILE_SYSTEM`.
    public static let system = FileCharacteristics(rawValue: 0x1000)
    /// `IMAGE_FILE_DLL`.
    public static let dll = FileCharacteristics(rawValue: 0x2000)
}

/// `IMAGE_FILE_HEADER` (20 bytes), from winnt.h: the COFF header after the `PE\0\0` signature.
public struct FileHeader: Sendable, Equatable {
    /// `Machine`.
    public var machine: Machine
    /// `NumberOfSections`.
    public var numberOfSections: UInt16
    /// `TimeDateStamp`: seconds since 1970 (or a hash, for reproducible builds).
    public var timeDateStamp: UInt32
    /// `PointerToSymbolTable`: file offset of the COFF symbol table (0 in most images).
    public var pointerToSymbolTable: UInt32
    /// `NumberOfSymbols`.
    public var numberOfSymbols: UInt32
    /// `SizeOfOptionalHeader`.
    public var sizeOfOptionalHeader: UInt16
    /// `Characteristics`.
    public var characteristics: FileCharacteristics

    /// Size on disk.
    public static let size = 20

    /// Reads the header.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        machine = Machine(rawValue: try reader.read(UInt16.self, "IMAGE_FILE_HEADER.Machine"))
        numberOfSections = try reader.read(UInt16.self, "IMAGE_FILE_HEADER.NumberOfSections")
        timeDateStamp = try reader.read(UInt32.self, "IMAGE_FILE_HEADER.TimeDateStamp")
        pointerToSymbolTable = try reader.read(UInt32.self, "IMAGE_FILE_HEADER.PointerToSymbolTable")
        numberOfSymbols = try reader.read(UInt32.self, "IMAGE_FILE_HEADER.NumberOfSymbols")
        sizeOfOptionalHeader = try reader.read(UInt16.self, "IMAGE_FILE_HEADER.SizeOfOptionalHeader")
        characteristics = FileCharacteristics(rawValue: try reader.read(UInt16.self, "IMAGE_FILE_HEADER.Characteristics"))
    }
}
