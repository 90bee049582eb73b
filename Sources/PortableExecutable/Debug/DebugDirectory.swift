import BinaryReading

/// `IMAGE_DEBUG_DIRECTORY.Type`: the kind of debug information an entry points to.
public struct DebugType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `IMAGE_DEBUG_TYPE_UNKNOWN`.
    public static let unknown = DebugType(rawValue: 0)
    /// `IMAGE_DEBUG_TYPE_COFF`.
    public static let coff = DebugType(rawValue: 1)
    /// `IMAGE_DEBUG_TYPE_CODEVIEW`: a PDB reference (`RSDS` or `NB10`).
    public static let codeView = DebugType(rawValue: 2)
    /// `IMAGE_DEBUG_TYPE_FPO`: frame-pointer-omission records (x86).
    public static let fpo = DebugType(rawValue: 3)
    /// `IMAGE_DEBUG_TYPE_MISC`: the name of a .dbg file.
    public static let misc = DebugType(rawValue: 4)
    /// `IMAGE_DEBUG_TYPE_EXCEPTION`.
    public static let exception = DebugType(rawValue: 5)
    /// `IMAGE_DEBUG_TYPE_FIXUP`.
    public static let fixup = DebugType(rawValue: 6)
    /// `IMAGE_DEBUG_TYPE_OMAP_TO_SRC`.
    public static let omapToSource = DebugType(rawValue: 7)
    /// `IMAGE_DEBUG_TYPE_OMAP_FROM_SRC`.
    public static let omapFromSource = DebugType(rawValue: 8)
    /// `IMAGE_DEBUG_TYPE_BORLAND`.
    public static let borland = DebugType(rawValue: 9)
    /// `IMAGE_DEBUG_TYPE_RESERVED10`.
    public static let reserved10 = DebugType(rawValue: 10)
    /// `IMAGE_DEBUG_TYPE_CLSID`.
    public static let clsid = DebugType(rawValue: 11)
    /// `IMAGE_DEBUG_TYPE_VC_FEATURE`: counts of compiler features used.
    public static let vcFeature = DebugType(rawValue: 12)
    /// `IMAGE_DEBUG_TYPE_POGO`: profile-guided optimization section map.
    public static let pogo = DebugType(rawValue: 13)
    /// `IMAGE_DEBUG_TYPE_ILTCG`.
    public static let iltcg = DebugType(rawValue: 14)
    /// `IMAGE_DEBUG_TYPE_MPX`.
    public static let mpx = DebugType(rawValue: 15)
    /// `IMAGE_DEBUG_TYPE_REPRO`: the image was linked reproducibly; the data holds its hash.
    public static let repro = DebugType(rawValue: 16)
    /// `IMAGE_DEBUG_TYPE_EMBEDDED_PORTABLE_PDB`.
    public static let embeddedPortablePDB = DebugType(rawValue: 17)
    /// `IMAGE_DEBUG_TYPE_SPGO`.
    public static let spgo = DebugType(rawValue: 18)
    /// `IMAGE_DEBUG_TYPE_PDBCHECKSUM` (PDB hash, .NET).
    public static let pdbChecksum = DebugType(rawValue: 19)
    /// `IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS`: extended DLL characteristics (CET compatibility).
    public static let exDLLCharacteristics = DebugType(rawValue: 20)

    private static let names: [UInt32: String] = [
        0: "UNKNOWN", 1: "COFF", 2: "CODEVIEW", 3: "FPO", 4: "MISC", 5: "EXCEPTION", 6: "FIXUP",
        7: "OMAP_TO_SRC", 8: "OMAP_FROM_SRC", 9: "BORLAND", 10: "RESERVED10", 11: "CLSID",
        12: "VC_FEATURE", 13: "POGO", 14: "ILTCG", 15: "MPX", 16: "REPRO", 17: "EMBEDDED_PORTABLE_PDB",
        18: "SPGO", 19: "PDBCHECKSUM", 20: "EX_DLLCHARACTERISTICS",
    ]

    /// The winnt.h name without `IMAGE_DEBUG_TYPE_`, e.g. `CODEVIEW`, or the number for unknown types.
    public var description: String { Self.names[rawValue] ?? String(rawValue) }
}

/// `IMAGE_DEBUG_DIRECTORY` (28 bytes), from winnt.h: one entry of the debug directory.
public struct DebugDirectoryEntry: Sendable, Equatable {
    /// `Characteristics`.
    public var characteristics: UInt32
    /// `TimeDateStamp`.
    public var timeDateStamp: UInt32
    /// `MajorVersion`.
    public var majorVersion: UInt16
    /// `MinorVersion`.
    public var minorVersion: UInt16
    /// `Type`.
    public var type: DebugType
    /// `SizeOfData`.
    public var sizeOfData: UInt32
    /// `AddressOfRawData` (RVA, 0 when the data is not mapped).
    public var addressOfRawData: UInt32
    /// `PointerToRawData` (file offset).
    public var pointerToRawData: UInt32
    /// Absolute file offset of this entry.
    public var fileOffset: Int64

    /// Size on disk.
    public static let size = 28

    /// Reads one entry.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        fileOffset = reader.fileOffset
        characteristics = try reader.read(UInt32.self, "IMAGE_DEBUG_DIRECTORY.Characteristics")
        timeDateStamp = try reader.read(UInt32.self, "IMAGE_DEBUG_DIRECTORY.TimeDateStamp")
        majorVersion = try reader.read(UInt16.self, "IMAGE_DEBUG_DIRECTORY.MajorVersion")
        minorVersion = try reader.read(UInt16.self, "IMAGE_DEBUG_DIRECTORY.MinorVersion")
        type = DebugType(rawValue: try reader.read(UInt32.self, "IMAGE_DEBUG_DIRECTORY.Type"))
        sizeOfData = try reader.read(UInt32.self, "IMAGE_DEBUG_DIRECTORY.SizeOfData")
        addressOfRawData = try reader.read(UInt32.self, "IMAGE_DEBUG_DIRECTORY.AddressOfRawData")
        pointerToRawData = try reader.read(UInt32.self, "IMAGE_DEBUG_DIRECTORY.PointerToRawData")
    }
}

/// The decoded data an `IMAGE_DEBUG_DIRECTORY` entry points to.
public enum DebugData: Sendable, Equatable {
    /// `IMAGE_DEBUG_TYPE_CODEVIEW`.
    case codeView(CodeViewInfo)
    /// `IMAGE_DEBUG_TYPE_MISC`.
    case misc(ImageDebugMisc)
    /// `IMAGE_DEBUG_TYPE_FPO`: the `FPO_DATA` records.
    case fpo([FPOData])
    /// `IMAGE_DEBUG_TYPE_POGO`.
    case pogo(POGOInfo)
    /// `IMAGE_DEBUG_TYPE_VC_FEATURE`.
    case vcFeature(VCFeatureInfo)
    /// `IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS`: the flags word.
    case exDLLCharacteristics(UInt32)
    /// `IMAGE_DEBUG_TYPE_REPRO`: the hash bytes (empty for the old, data-less form).
    case repro([UInt8])
    /// Any other type, or an entry without data: the raw bytes.
    case raw([UInt8])
}

extension PEImage {
    /// The entries of the debug directory (`IMAGE_DIRECTORY_ENTRY_DEBUG`), empty when it has none.
    public func debugDirectory() throws(ParseError) -> [DebugDirectoryEntry] {
        guard let data = try directoryBytes(.debug, field: "IMAGE_DIRECTORY_ENTRY_DEBUG") else { return [] }
        let count = data.count / DebugDirectoryEntry.size
        var reader = data.reader()
        var entries = [DebugDirectoryEntry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            entries.append(try DebugDirectoryEntry(parsing: &reader))
        }
        return entries
    }

    /// The bytes of a debug entry's data: at `AddressOfRawData` when mapped, else at `PointerToRawData`.
    public func debugDataBytes(_ entry: DebugDirectoryEntry) throws(ParseError) -> ByteView {
        if entry.sizeOfData == 0 { return .empty }
        if entry.addressOfRawData != 0, fileRange(ofRVA: entry.addressOfRawData) != nil {
            return try bytes(
                atRVA: entry.addressOfRawData, size: entry.sizeOfData, field: "IMAGE_DEBUG_DIRECTORY.AddressOfRawData",
                referencedAt: entry.fileOffset + 20)
        }
        return try bytes.slice(
            offset: entry.pointerToRawData, size: entry.sizeOfData, field: "IMAGE_DEBUG_DIRECTORY.PointerToRawData")
    }

    /// Decodes the data of one debug entry according to its type.
    public func debugData(_ entry: DebugDirectoryEntry) throws(ParseError) -> DebugData {
        let data = try debugDataBytes(entry)
        switch entry.type {
        case .codeView: return .codeView(try CodeViewInfo(parsing: data))
        case .misc: return .misc(try ImageDebugMisc(parsing: data))
        case .fpo:
            var reader = data.reader()
            let count = data.count / FPOData.size
            var records = [FPOData]()
            records.reserveCapacity(count)
            for _ in 0..<count { records.append(try FPOData(parsing: &reader)) }
            return .fpo(records)
        case .pogo: return .pogo(try POGOInfo(parsing: data))
        case .vcFeature: return .vcFeature(try VCFeatureInfo(parsing: data))
        case .exDLLCharacteristics:
            return .exDLLCharacteristics(try data.load(UInt32.self, at: 0, field: "IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS"))
        case .repro:
            // The REPRO data is a 4-byte length followed by the hash (lld and MSVC link /Brepro).
            guard data.count >= 4 else { return .repro([]) }
            let length = try data.load(UInt32.self, at: 0, field: "IMAGE_DEBUG_TYPE_REPRO.Length")
            return .repro(try data.slice(offset: 4, size: length, field: "IMAGE_DEBUG_TYPE_REPRO.Hash").array)
        default: return .raw(data.array)
        }
    }

    /// The first CodeView record of the debug directory, if any.
    public func codeView() throws(ParseError) -> CodeViewInfo? {
        for entry in try debugDirectory() where entry.type == .codeView {
            if case .codeView(let record) = try debugData(entry) { return record }
        }
        return nil
    }
}
