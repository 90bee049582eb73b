import BinaryReading

/// A CodeView debug record: the PDB an image was linked with.
public enum CodeViewInfo: Sendable, Equatable {
    /// `CV_INFO_PDB70` (`RSDS`, 24 bytes + name): PDB GUID, age and path.
    case pdb70(guid: GUID, age: UInt32, pdbName: String)
    /// `CV_INFO_PDB20` (`NB10`, 16 bytes + name): PDB signature (a timestamp), age and path.
    case pdb20(offset: UInt32, signature: UInt32, age: UInt32, pdbName: String)
    /// A record with another signature (`NB09`, `NB11`, ...), kept as bytes.
    case unknown(signature: UInt32, bytes: [UInt8])

    /// `RSDS` read as a little-endian integer.
    public static let pdb70Signature: UInt32 = 0x5344_5352
    /// `NB10` read as a little-endian integer.
    public static let pdb20Signature: UInt32 = 0x3031_424E

    /// Decodes a record from its bytes.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        let signature = try reader.read(UInt32.self, "CV_INFO.CvSignature")
        switch signature {
        case Self.pdb70Signature:
            let guid = try reader.readGUID("CV_INFO_PDB70.Signature")
            let age = try reader.read(UInt32.self, "CV_INFO_PDB70.Age")
            self = .pdb70(guid: guid, age: age, pdbName: bytes.suffix(from: reader.position).cString)
        case Self.pdb20Signature:
            let offset = try reader.read(UInt32.self, "CV_INFO_PDB20.Offset")
            let pdbSignature = try reader.read(UInt32.self, "CV_INFO_PDB20.Signature")
            let age = try reader.read(UInt32.self, "CV_INFO_PDB20.Age")
            self = .pdb20(offset: offset, signature: pdbSignature, age: age, pdbName: bytes.suffix(from: reader.position).cString)
        default:
            self = .unknown(signature: signature, bytes: bytes.array)
        }
    }

    /// The PDB path the record names, if any.
    public var pdbName: String? {
        switch self {
        case .pdb70(_, _, let name), .pdb20(_, _, _, let name): return name
        case .unknown: return nil
        }
    }

    /// The age, if any.
    public var age: UInt32? {
        switch self {
        case .pdb70(_, let age, _), .pdb20(_, _, let age, _): return age
        case .unknown: return nil
        }
    }

    /// The debug id as symbol stores spell it: the GUID (or NB10 signature as `%08X`) then the age as `%X`.
    public var debugID: String? {
        switch self {
        case .pdb70(let guid, let age, _): return guid.compactHex + hex(age)
        case .pdb20(_, let signature, let age, _): return hex(signature, width: 8) + hex(age)
        case .unknown: return nil
        }
    }
}

/// `IMAGE_DEBUG_MISC` (12 bytes + data): the old Misc debug record naming a .dbg file.
public struct ImageDebugMisc: Sendable, Equatable {
    /// `DataType`: 1 is `IMAGE_DEBUG_MISC_EXENAME`.
    public var dataType: UInt32
    /// `Length`: total size of the record, a multiple of 4.
    public var length: UInt32
    /// `Unicode`: whether `Data` is UTF-16.
    public var unicode: Bool
    /// `Data`, decoded up to the first NUL.
    public var data: String

    /// Decodes the record.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        dataType = try reader.read(UInt32.self, "IMAGE_DEBUG_MISC.DataType")
        length = try reader.read(UInt32.self, "IMAGE_DEBUG_MISC.Length")
        unicode = try reader.read(UInt8.self, "IMAGE_DEBUG_MISC.Unicode") != 0
        try reader.skip(3, "IMAGE_DEBUG_MISC.Reserved")
        let rest = bytes.suffix(from: reader.position)
        data = unicode ? String(rest.utf16String().prefix { $0 != "\0" }) : rest.cString
    }
}

/// `FPO_DATA` (16 bytes), from winnt.h: how an x86 function without a frame pointer uses its stack.
public struct FPOData: Sendable, Equatable {
    /// `ulOffStart`: function start (RVA).
    public var offsetStart: UInt32
    /// `cbProcSize`: function size in bytes.
    public var procedureSize: UInt32
    /// `cdwLocals`: locals, in dwords.
    public var localDwords: UInt32
    /// `cdwParams`: parameters, in dwords.
    public var parameterDwords: UInt16
    /// `cbProlog` (bits 0-7).
    public var prologSize: UInt8
    /// `cbRegs` (bits 8-10): registers saved.
    public var savedRegisters: UInt8
    /// `fHasSEH` (bit 11).
    public var hasSEH: Bool
    /// `fUseBP` (bit 12): EBP is used as a frame pointer.
    public var usesBasePointer: Bool
    /// `cbFrame` (bits 14-15): 0 FPO, 1 trap, 2 TSS, 3 non-FPO.
    public var frameType: UInt8

    /// Size on disk.
    public static let size = 16

    /// Reads one record.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        offsetStart = try reader.read(UInt32.self, "FPO_DATA.ulOffStart")
        procedureSize = try reader.read(UInt32.self, "FPO_DATA.cbProcSize")
        localDwords = try reader.read(UInt32.self, "FPO_DATA.cdwLocals")
        parameterDwords = try reader.read(UInt16.self, "FPO_DATA.cdwParams")
        let bits = try reader.read(UInt16.self, "FPO_DATA.cbProlog")
        prologSize = UInt8(bits & 0xFF)
        savedRegisters = UInt8((bits >> 8) & 0x7)
        hasSEH = bits & 0x800 != 0
        usesBasePointer = bits & 0x1000 != 0
        frameType = UInt8(bits >> 14)
    }
}

/// The `IMAGE_DEBUG_TYPE_POGO` data: a signature then (RVA, size, NUL-terminated name) entries, each 4-byte aligned.
public struct POGOInfo: Sendable, Equatable {
    /// One contribution to the image.
    public struct Entry: Sendable, Equatable {
        /// Start RVA.
        public var rva: UInt32
        /// Size in bytes.
        public var size: UInt32
        /// Section contribution name, e.g. `.text$mn`.
        public var name: String
    }

    /// `PGU\0` or `LTCG` read as a little-endian integer.
    public var signature: UInt32
    /// The entries in order.
    public var entries: [Entry]

    /// Decodes the data; each entry takes at least 12 bytes, so the loop ends with the bytes.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        signature = try reader.read(UInt32.self, "IMAGE_DEBUG_TYPE_POGO.Signature")
        var entries = [Entry]()
        while reader.remaining >= 12 {
            let rva = try reader.read(UInt32.self, "IMAGE_DEBUG_TYPE_POGO.Rva")
            let size = try reader.read(UInt32.self, "IMAGE_DEBUG_TYPE_POGO.Size")
            let rest = bytes.suffix(from: reader.position)
            let name = rest.cString
            let nameLength = rest.withUnsafeBytes { ($0.firstIndex(of: 0) ?? $0.count) + 1 }
            entries.append(Entry(rva: rva, size: size, name: name))
            let padded = (nameLength + 3) & ~3
            guard padded <= reader.remaining else { break }
            try reader.skip(padded, "IMAGE_DEBUG_TYPE_POGO.Name")
        }
        self.entries = entries
    }
}

/// The `IMAGE_DEBUG_TYPE_VC_FEATURE` data (20 bytes): counts of objects built with each feature.
public struct VCFeatureInfo: Sendable, Equatable {
    /// Objects built by compilers older than VC++ 11.
    public var preVCPlusPlus11: UInt32
    /// C/C++ objects.
    public var cAndCPlusPlus: UInt32
    /// Objects built with `/GS`.
    public var gs: UInt32
    /// Objects built with `/sdl`.
    public var sdl: UInt32
    /// Objects built with guard features.
    public var guardN: UInt32

    /// Decodes the data.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        preVCPlusPlus11 = try reader.read(UInt32.self, "VC_FEATURE.PreVCPlusPlus11")
        cAndCPlusPlus = try reader.read(UInt32.self, "VC_FEATURE.CAndCPlusPlus")
        gs = try reader.read(UInt32.self, "VC_FEATURE.GS")
        sdl = try reader.read(UInt32.self, "VC_FEATURE.SDL")
        guardN = try reader.read(UInt32.self, "VC_FEATURE.GuardN")
    }
}
