import BinaryReading

/// `VS_FIXEDFILEINFO` (52 bytes), from verrsrc.h: the fixed part of a version resource.
public struct FixedFileInfo: Sendable, Equatable, Codable {
    /// `dwSignature`: 0xFEEF04BD when the structure is filled in.
    public var signature: UInt32
    /// `dwStrucVersion`.
    public var structVersion: UInt32
    /// `dwFileVersionMS`.
    public var fileVersionMS: UInt32
    /// `dwFileVersionLS`.
    public var fileVersionLS: UInt32
    /// `dwProductVersionMS`.
    public var productVersionMS: UInt32
    /// `dwProductVersionLS`.
    public var productVersionLS: UInt32
    /// `dwFileFlagsMask`.
    public var fileFlagsMask: UInt32
    /// `dwFileFlags`.
    public var fileFlags: UInt32
    /// `dwFileOS`.
    public var fileOS: UInt32
    /// `dwFileType`.
    public var fileType: UInt32
    /// `dwFileSubtype`.
    public var fileSubtype: UInt32
    /// `dwFileDateMS`.
    public var fileDateMS: UInt32
    /// `dwFileDateLS`.
    public var fileDateLS: UInt32

    /// `VS_FFI_SIGNATURE`.
    public static let signatureValue: UInt32 = 0xFEEF_04BD
    /// Size on disk.
    public static let size = 52

    /// Reads the structure in the reader's byte order.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "VS_FIXEDFILEINFO"
        signature = try reader.read(UInt32.self, field + ".dwSignature")
        structVersion = try reader.read(UInt32.self, field + ".dwStrucVersion")
        fileVersionMS = try reader.read(UInt32.self, field + ".dwFileVersionMS")
        fileVersionLS = try reader.read(UInt32.self, field + ".dwFileVersionLS")
        productVersionMS = try reader.read(UInt32.self, field + ".dwProductVersionMS")
        productVersionLS = try reader.read(UInt32.self, field + ".dwProductVersionLS")
        fileFlagsMask = try reader.read(UInt32.self, field + ".dwFileFlagsMask")
        fileFlags = try reader.read(UInt32.self, field + ".dwFileFlags")
        fileOS = try reader.read(UInt32.self, field + ".dwFileOS")
        fileType = try reader.read(UInt32.self, field + ".dwFileType")
        fileSubtype = try reader.read(UInt32.self, field + ".dwFileSubtype")
        fileDateMS = try reader.read(UInt32.self, field + ".dwFileDateMS")
        fileDateLS = try reader.read(UInt32.self, field + ".dwFileDateLS")
    }

    /// An empty structure, for modules whose record carries no version.
    public static let absent: FixedFileInfo = {
        var reader = MappedFile(bytes: [UInt8](repeating: 0, count: size)).bytes.reader()
        // 52 zero bytes always decode.
        return try! FixedFileInfo(parsing: &reader)
    }()

    /// Whether the writer filled the structure in (the signature is present).
    public var isPresent: Bool { signature == Self.signatureValue }

    /// The file version as `a.b.c.d`, or nil when the structure is empty.
    public var fileVersion: String? {
        isPresent ? Self.dotted(fileVersionMS, fileVersionLS) : nil
    }

    /// The product version as `a.b.c.d`, or nil when the structure is empty.
    public var productVersion: String? {
        isPresent ? Self.dotted(productVersionMS, productVersionLS) : nil
    }

    static func dotted(_ high: UInt32, _ low: UInt32) -> String {
        "\(high >> 16).\(high & 0xFFFF).\(low >> 16).\(low & 0xFFFF)"
    }
}

/// A decoded CodeView record (`MINIDUMP_MODULE.CvRecord`), naming a module's debug file.
public enum CodeViewRecord: Sendable, Equatable, Codable {
    /// `CV_INFO_PDB70` (`RSDS`): PDB GUID, age and path.
    case pdb70(guid: GUID, age: UInt32, pdbName: String)
    /// `CV_INFO_PDB20` (`NB10`): PDB signature (a timestamp), age and path.
    case pdb20(offset: UInt32, signature: UInt32, age: UInt32, pdbName: String)
    /// Breakpad's `MDCVInfoELF` (`BpEL`): the GNU build id of an ELF module.
    case elf(buildID: [UInt8])
    /// A record with an unknown signature, kept as bytes.
    case unknown(signature: UInt32, bytes: [UInt8])

    /// Bytes of a CodeView record used at most (a GUID, an age and a path fit many times over).
    public static let maximumSize = 65_536

    /// `RSDS` read as a little-endian integer.
    public static let pdb70Signature: UInt32 = 0x5344_5352
    /// `NB10` read as a little-endian integer.
    public static let pdb20Signature: UInt32 = 0x3031_424E
    /// Breakpad's `MD_CVINFOELF_SIGNATURE` (0x4270454C, the bytes `LEpB` on disk).
    public static let elfSignature: UInt32 = 0x4270_454C

    /// Decodes a CodeView record from its bytes.
    ///
    /// CodeView records are little-endian whatever the dump's byte order (they are copied
    /// verbatim from the PE debug directory).
    public init(parsing bytes: ByteView) throws(ParseError) {
        switch try Self.readFixedPart(bytes) {
        case .pdb70(let guid, let age, let pathOffset):
            self = .pdb70(guid: guid, age: age, pdbName: bytes.suffix(from: pathOffset).cString)
        case .pdb20(let offset, let signature, let age, let pathOffset):
            self = .pdb20(offset: offset, signature: signature, age: age, pdbName: bytes.suffix(from: pathOffset).cString)
        case .elf:
            self = .elf(buildID: bytes.suffix(from: 4).array)
        case .unknown(let signature):
            self = .unknown(signature: signature, bytes: bytes.array)
        }
    }

    /// Throws the error `init(parsing:)` would throw for `bytes`, without decoding the path.
    ///
    /// Only the fixed fields can fail; a module list checks them as it reads each module and
    /// decodes the rest when the record is asked for.
    static func check(_ bytes: ByteView) throws(ParseError) {
        _ = try readFixedPart(bytes)
    }

    /// The fields before the variable part, and where that part starts.
    private enum FixedPart {
        case pdb70(GUID, age: UInt32, pathOffset: Int)
        case pdb20(offset: UInt32, signature: UInt32, age: UInt32, pathOffset: Int)
        case elf
        case unknown(UInt32)
    }

    private static func readFixedPart(_ bytes: ByteView) throws(ParseError) -> FixedPart {
        var reader = bytes.reader()
        let signature = try reader.read(UInt32.self, "CodeView.Signature")
        switch signature {
        case Self.pdb70Signature:
            let guid = try reader.readGUID("CV_INFO_PDB70.Signature")
            let age = try reader.read(UInt32.self, "CV_INFO_PDB70.Age")
            return .pdb70(guid, age: age, pathOffset: reader.position)
        case Self.pdb20Signature:
            let offset = try reader.read(UInt32.self, "CV_INFO_PDB20.Offset")
            let pdbSignature = try reader.read(UInt32.self, "CV_INFO_PDB20.Signature")
            let age = try reader.read(UInt32.self, "CV_INFO_PDB20.Age")
            return .pdb20(offset: offset, signature: pdbSignature, age: age, pathOffset: reader.position)
        case Self.elfSignature:
            return .elf
        default:
            return .unknown(signature)
        }
    }

    /// The debug file name the record gives (the PDB path), if any.
    public var pdbName: String? {
        switch self {
        case .pdb70(_, _, let name), .pdb20(_, _, _, let name): return name
        case .elf, .unknown: return nil
        }
    }

    /// The debug id as symbol servers spell it: GUID (or NB10 signature) in uppercase hex, then the age in `%X`.
    ///
    /// For ELF build ids this is Breakpad's convention: the first 16 bytes read as a
    /// little-endian GUID (zero-padded when shorter), age 0.
    public var debugID: String? {
        switch self {
        case .pdb70(let guid, let age, _):
            return guid.compactHex + hex(age)
        case .pdb20(_, let signature, let age, _):
            return hex(signature, width: 8) + hex(age)
        case .elf(let buildID):
            return Self.elfGUID(buildID).compactHex + "0"
        case .unknown:
            return nil
        }
    }

    /// The GUID Breakpad derives from an ELF build id.
    public static func elfGUID(_ buildID: [UInt8]) -> GUID {
        let padded = buildID + [UInt8](repeating: 0, count: max(0, 16 - buildID.count))
        func le32(_ at: Int) -> UInt32 {
            UInt32(padded[at]) | UInt32(padded[at + 1]) << 8 | UInt32(padded[at + 2]) << 16 | UInt32(padded[at + 3]) << 24
        }
        return GUID(
            data1: le32(0),
            data2: UInt16(padded[4]) | UInt16(padded[5]) << 8,
            data3: UInt16(padded[6]) | UInt16(padded[7]) << 8,
            data4: Array(padded[8..<16]))
    }
}

/// `IMAGE_DEBUG_MISC` (at least 12 bytes), the old Misc debug record naming a .dbg file.
public struct MiscDebugRecord: Sendable, Equatable, Codable {
    /// `DataType`: 1 is `IMAGE_DEBUG_MISC_EXENAME`.
    public var dataType: UInt32
    /// `Length`: total size of the record.
    public var length: UInt32
    /// `Unicode`: whether `Data` is UTF-16.
    public var unicode: Bool
    /// `Data` decoded as text up to the first NUL.
    public var data: String

    /// Decodes the record from its bytes (little-endian, copied from the PE).
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        try self.init(header: &reader)
        // The data is a file name: bounded by the record's own Length and by a path's size, so a
        // location that claims the whole file cannot make every module decode megabytes (a fuzzer
        // found a dump whose 354 Misc records each pointed at 200 KB).
        let declared = Int(length) >= 12 ? Int(length) - 12 : 0
        let rest = bytes.suffix(from: reader.position).prefix(min(declared, Self.maximumDataSize))
        if unicode {
            let text = rest.utf16String()
            data = String(text.prefix { $0 != "\0" })
        } else {
            data = rest.cString
        }
    }

    /// Reads the 12-byte header; `data` is left empty.
    private init(header reader: inout ByteReader) throws(ParseError) {
        dataType = try reader.read(UInt32.self, "IMAGE_DEBUG_MISC.DataType")
        length = try reader.read(UInt32.self, "IMAGE_DEBUG_MISC.Length")
        unicode = try reader.read(UInt8.self, "IMAGE_DEBUG_MISC.Unicode") != 0
        try reader.skip(3, "IMAGE_DEBUG_MISC.Reserved")
        data = ""
    }

    /// Throws the error `init(parsing:)` would throw for `bytes`, without decoding the data.
    ///
    /// Only the header can fail; a module list checks it as it reads each module and decodes the
    /// name when the record is asked for.
    static func check(_ bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        _ = try MiscDebugRecord(header: &reader)
    }

    /// Bytes of `Data` decoded at most.
    public static let maximumDataSize = 4096
}

/// `MINIDUMP_MODULE` (108 bytes): one loaded module.
///
/// The name is decoded when the record is read; the CodeView and Misc records are checked then
/// (so their problems are among `warnings` at once) but decoded only when asked for: most readers
/// of a module list need the names and addresses, and copying and decoding every debug record
/// was most of the cost of reading one. A module read from a dump keeps the dump's bytes alive,
/// as the views of a `MemoryIndex` do.
public struct Module: Sendable, Equatable, Codable, CustomReflectable {
    /// `BaseOfImage`.
    public var baseOfImage: UInt64
    /// `SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `CheckSum`: the PE header's CheckSum.
    public var checkSum: UInt32
    /// `TimeDateStamp`: the PE header's TimeDateStamp.
    public var timeDateStamp: UInt32
    /// `ModuleNameRva`.
    public var moduleNameRva: UInt32
    /// `VersionInfo`.
    public var versionInfo: FixedFileInfo
    /// `CvRecord`.
    public var cvRecordLocation: LocationDescriptor
    /// `MiscRecord`.
    public var miscRecordLocation: LocationDescriptor
    /// `Reserved0`.
    public var reserved0: UInt64
    /// `Reserved1`.
    public var reserved1: UInt64

    /// The module's full path as the writer recorded it.
    public var name: String
    /// Problems found in this record that did not stop it from being read (a bad name RVA, say).
    public var warnings: [String]
    private var debugRecords: DebugRecords

    /// The CodeView and Misc records: still in the dump's bytes, or given as values.
    private enum DebugRecords: Sendable {
        /// Views of the records, checked when the module was read: the CodeView bytes as found (a
        /// damaged record decodes to nil, its error among the warnings), the Misc bytes only when
        /// their header was readable. Empty when absent.
        case inDump(codeView: ByteView, misc: ByteView)
        case values(codeView: CodeViewRecord?, codeViewBytes: [UInt8], misc: MiscDebugRecord?)
    }

    /// The decoded CodeView record, nil when the record is empty (Wine writes none) or damaged.
    public var codeView: CodeViewRecord? {
        get {
            switch debugRecords {
            case .inDump(let bytes, _): return bytes.count == 0 ? nil : try? CodeViewRecord(parsing: bytes)
            case .values(let record, _, _): return record
            }
        }
        set {
            let values = debugValues
            debugRecords = .values(codeView: newValue, codeViewBytes: values.codeViewBytes, misc: values.misc)
        }
    }

    /// The raw CodeView bytes, kept so a rescued image can carry them byte for byte.
    public var codeViewBytes: [UInt8] {
        get {
            switch debugRecords {
            case .inDump(let bytes, _): return bytes.array
            case .values(_, let bytes, _): return bytes
            }
        }
        set {
            let values = debugValues
            debugRecords = .values(codeView: values.codeView, codeViewBytes: newValue, misc: values.misc)
        }
    }

    /// The decoded Misc record, if any.
    public var misc: MiscDebugRecord? {
        get {
            switch debugRecords {
            case .inDump(_, let bytes): return bytes.count == 0 ? nil : try? MiscDebugRecord(parsing: bytes)
            case .values(_, _, let record): return record
            }
        }
        set {
            let values = debugValues
            debugRecords = .values(codeView: values.codeView, codeViewBytes: values.codeViewBytes, misc: newValue)
        }
    }

    /// Whether the module has a readable Misc record, without decoding it.
    public var hasMiscRecord: Bool {
        switch debugRecords {
        case .inDump(_, let bytes): return bytes.count > 0
        case .values(_, _, let record): return record != nil
        }
    }

    private var debugValues: (codeView: CodeViewRecord?, codeViewBytes: [UInt8], misc: MiscDebugRecord?) {
        (codeView, codeViewBytes, misc)
    }

    /// Size on disk.
    public static let size = 108

    /// Reads one record; the name is resolved through `dump`, the debug records are checked there.
    public init(parsing reader: inout ByteReader, in dump: MinidumpFile) throws(ParseError) {
        let field = "MINIDUMP_MODULE"
        baseOfImage = try reader.read(UInt64.self, field + ".BaseOfImage")
        sizeOfImage = try reader.read(UInt32.self, field + ".SizeOfImage")
        checkSum = try reader.read(UInt32.self, field + ".CheckSum")
        timeDateStamp = try reader.read(UInt32.self, field + ".TimeDateStamp")
        moduleNameRva = try reader.read(UInt32.self, field + ".ModuleNameRva")
        versionInfo = try FixedFileInfo(parsing: &reader)
        cvRecordLocation = try LocationDescriptor(parsing: &reader, field + ".CvRecord")
        miscRecordLocation = try LocationDescriptor(parsing: &reader, field + ".MiscRecord")
        reserved0 = try reader.read(UInt64.self, field + ".Reserved0")
        reserved1 = try reader.read(UInt64.self, field + ".Reserved1")

        var warnings = [String]()
        do {
            name = try dump.string(at: moduleNameRva, field: field + ".ModuleNameRva")
        } catch {
            name = ""
            warnings.append(error.description)
        }
        var codeViewView = ByteView.empty
        if cvRecordLocation.dataSize > 0 {
            do {
                var bytes = try dump.bytes(at: cvRecordLocation, field: field + ".CvRecord")
                // CodeView records hold a GUID and a path; a larger location is damage, and decoding it
                // for every module would let one bad dump cost gigabytes.
                if bytes.count > CodeViewRecord.maximumSize {
                    warnings.append("CvRecord claims \(bytes.count) bytes; the first \(CodeViewRecord.maximumSize) are used")
                    bytes = bytes.prefix(CodeViewRecord.maximumSize)
                }
                // A record whose fixed fields are cut short keeps its bytes (a rescued image carries
                // them as they were) and decodes to nil; the problem is among the warnings.
                codeViewView = bytes
                try CodeViewRecord.check(bytes)
            } catch {
                warnings.append(error.description)
            }
        }
        var miscView = ByteView.empty
        if miscRecordLocation.dataSize > 0 {
            do {
                let bytes = try dump.bytes(at: miscRecordLocation, field: field + ".MiscRecord")
                try MiscDebugRecord.check(bytes)
                miscView = bytes
            } catch {
                warnings.append(error.description)
            }
        }
        debugRecords = .inDump(codeView: codeViewView, misc: miscView)
        self.warnings = warnings
    }

    /// The code id as symbol servers spell it: `TimeDateStamp` as `%08X`, then `SizeOfImage` as `%x`;
    /// for ELF modules (Breakpad's `BpEL` record) the whole build id in lowercase hex.
    public var codeID: String { codeID(platform: nil) }

    /// The code id for a module of a dump from `platform`.
    ///
    /// Mach-O images have no timestamp; their identity is the LC_UUID, which Crashpad and
    /// Breakpad store as an RSDS GUID. On macOS and iOS the code id is that UUID in lowercase
    /// hex (as rust-minidump and the SSQP `mach-uuid-` keys spell it; seen in
    /// `pipeline-inlines-macos-segv.dmp`).
    public func codeID(platform: PlatformID?) -> String { codeID(platform: platform, codeView: codeView) }

    /// The debug id (GUID + age) as symbol servers spell it, if the module has a CodeView record.
    public var debugID: String? { codeView?.debugID }

    /// The debug file: the PDB path from the CodeView record, or for ELF modules the module path.
    public var debugFile: String? { debugFile(codeView: codeView) }

    /// The CodeView record with the code id, debug id and debug file derived from it, decoding the
    /// record once for callers that need them all.
    public func identifiers(platform: PlatformID?) -> ModuleIdentifiers {
        let record = codeView
        return ModuleIdentifiers(
            codeView: record, codeID: codeID(platform: platform, codeView: record), debugID: record?.debugID,
            debugFile: debugFile(codeView: record))
    }

    private func codeID(platform: PlatformID?, codeView: CodeViewRecord?) -> String {
        switch codeView {
        case .elf(let buildID):
            return buildID.map { hex($0, width: 2) }.joined().lowercased()
        case .pdb70(let guid, _, _) where platform == .macOS || platform == .iOS:
            return guid.compactHex.lowercased()
        default:
            return hex(timeDateStamp, width: 8) + String(sizeOfImage, radix: 16)
        }
    }

    private func debugFile(codeView: CodeViewRecord?) -> String? {
        if case .elf = codeView { return name }
        return codeView?.pdbName
    }

    /// A module record built from something other than a minidump's module list (a full user-mode
    /// dump's module table and the PE headers in its memory, a kernel dump's driver list).
    public init(
        baseOfImage: UInt64, sizeOfImage: UInt32, checkSum: UInt32, timeDateStamp: UInt32, name: String,
        versionInfo: FixedFileInfo = .absent, codeView: CodeViewRecord? = nil, codeViewBytes: [UInt8] = []
    ) {
        self.baseOfImage = baseOfImage
        self.sizeOfImage = sizeOfImage
        self.checkSum = checkSum
        self.timeDateStamp = timeDateStamp
        moduleNameRva = 0
        self.versionInfo = versionInfo
        cvRecordLocation = LocationDescriptor(dataSize: 0, rva: 0)
        miscRecordLocation = LocationDescriptor(dataSize: 0, rva: 0)
        reserved0 = 0
        reserved1 = 0
        self.name = name
        warnings = []
        debugRecords = .values(codeView: codeView, codeViewBytes: codeViewBytes, misc: nil)
    }

    // Reflected as if the debug records were stored properties, in declaration order: `postmortem
    // dump` prints structures through their mirrors.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "baseOfImage": baseOfImage, "sizeOfImage": sizeOfImage, "checkSum": checkSum, "timeDateStamp": timeDateStamp,
                "moduleNameRva": moduleNameRva, "versionInfo": versionInfo, "cvRecordLocation": cvRecordLocation,
                "miscRecordLocation": miscRecordLocation, "reserved0": reserved0, "reserved1": reserved1, "name": name,
                "codeView": codeView as Any, "codeViewBytes": codeViewBytes, "misc": misc as Any, "warnings": warnings,
            ], displayStyle: .struct)
    }

    public static func == (lhs: Module, rhs: Module) -> Bool {
        lhs.baseOfImage == rhs.baseOfImage && lhs.sizeOfImage == rhs.sizeOfImage && lhs.checkSum == rhs.checkSum
            && lhs.timeDateStamp == rhs.timeDateStamp && lhs.moduleNameRva == rhs.moduleNameRva
            && lhs.versionInfo == rhs.versionInfo && lhs.cvRecordLocation == rhs.cvRecordLocation
            && lhs.miscRecordLocation == rhs.miscRecordLocation && lhs.reserved0 == rhs.reserved0
            && lhs.reserved1 == rhs.reserved1 && lhs.name == rhs.name && lhs.warnings == rhs.warnings
            && lhs.codeView == rhs.codeView && lhs.codeViewBytes == rhs.codeViewBytes && lhs.misc == rhs.misc
    }

    // Coded as if the debug records were stored properties, in declaration order (the order
    // `postmortem dump` prints them in).
    enum CodingKeys: String, CodingKey {
        case baseOfImage, sizeOfImage, checkSum, timeDateStamp, moduleNameRva, versionInfo, cvRecordLocation,
            miscRecordLocation, reserved0, reserved1, name, codeView, codeViewBytes, misc, warnings
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        baseOfImage = try container.decode(UInt64.self, forKey: .baseOfImage)
        sizeOfImage = try container.decode(UInt32.self, forKey: .sizeOfImage)
        checkSum = try container.decode(UInt32.self, forKey: .checkSum)
        timeDateStamp = try container.decode(UInt32.self, forKey: .timeDateStamp)
        moduleNameRva = try container.decode(UInt32.self, forKey: .moduleNameRva)
        versionInfo = try container.decode(FixedFileInfo.self, forKey: .versionInfo)
        cvRecordLocation = try container.decode(LocationDescriptor.self, forKey: .cvRecordLocation)
        miscRecordLocation = try container.decode(LocationDescriptor.self, forKey: .miscRecordLocation)
        reserved0 = try container.decode(UInt64.self, forKey: .reserved0)
        reserved1 = try container.decode(UInt64.self, forKey: .reserved1)
        name = try container.decode(String.self, forKey: .name)
        debugRecords = .values(
            codeView: try container.decodeIfPresent(CodeViewRecord.self, forKey: .codeView),
            codeViewBytes: try container.decode([UInt8].self, forKey: .codeViewBytes),
            misc: try container.decodeIfPresent(MiscDebugRecord.self, forKey: .misc))
        warnings = try container.decode([String].self, forKey: .warnings)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(baseOfImage, forKey: .baseOfImage)
        try container.encode(sizeOfImage, forKey: .sizeOfImage)
        try container.encode(checkSum, forKey: .checkSum)
        try container.encode(timeDateStamp, forKey: .timeDateStamp)
        try container.encode(moduleNameRva, forKey: .moduleNameRva)
        try container.encode(versionInfo, forKey: .versionInfo)
        try container.encode(cvRecordLocation, forKey: .cvRecordLocation)
        try container.encode(miscRecordLocation, forKey: .miscRecordLocation)
        try container.encode(reserved0, forKey: .reserved0)
        try container.encode(reserved1, forKey: .reserved1)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(codeView, forKey: .codeView)
        try container.encode(codeViewBytes, forKey: .codeViewBytes)
        try container.encodeIfPresent(misc, forKey: .misc)
        try container.encode(warnings, forKey: .warnings)
    }

    /// End of the module's address range (exclusive), saturating at the top of the address space.
    public var endAddress: UInt64 {
        let (end, overflow) = baseOfImage.addingReportingOverflow(UInt64(sizeOfImage))
        return overflow ? UInt64.max : end
    }

    /// The file name without its folder (either separator).
    public var fileName: String { Module.baseName(name) }

    /// The last path component of a Windows or POSIX path.
    public static func baseName(_ path: String) -> String {
        let utf8 = path.utf8
        guard let cut = utf8.lastIndex(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "/") }) else { return path }
        return String(Substring(utf8[utf8.index(after: cut)...]))
    }
}

/// A module's identifiers for symbol lookups, from one decoding of its CodeView record.
public struct ModuleIdentifiers: Sendable, Equatable {
    /// The decoded CodeView record, if any.
    public var codeView: CodeViewRecord?
    /// As `Module.codeID(platform:)`.
    public var codeID: String
    /// As `Module.debugID`.
    public var debugID: String?
    /// As `Module.debugFile`.
    public var debugFile: String?
}

/// `MINIDUMP_MODULE_LIST`: the loaded modules in the writer's order.
public struct ModuleList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.moduleList
    /// The modules in stream order.
    public var modules: [Module]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let (count, entries) = try dump.listEntries(bytes, entrySize: Module.size, field: "MINIDUMP_MODULE_LIST")
        var reader = dump.reader(entries)
        var modules = [Module]()
        modules.reserveCapacity(count)
        for _ in 0..<count {
            modules.append(try Module(parsing: &reader, in: dump))
        }
        self.modules = modules
    }

    /// The module whose range holds `address`, if any.
    public func module(containing address: UInt64) -> Module? {
        modules.first { address >= $0.baseOfImage && address < $0.endAddress }
    }
}

/// `MINIDUMP_UNLOADED_MODULE` (24 bytes): a module that was loaded and later unloaded.
public struct UnloadedModule: Sendable, Equatable, Codable {
    /// `BaseOfImage`.
    public var baseOfImage: UInt64
    /// `SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `CheckSum`.
    public var checkSum: UInt32
    /// `TimeDateStamp`.
    public var timeDateStamp: UInt32
    /// `ModuleNameRva`.
    public var moduleNameRva: UInt32
    /// The module path, resolved from `ModuleNameRva` (empty when unreadable).
    public var name: String

    /// Size on disk.
    public static let size = 24

    /// The code id, spelled as for loaded modules.
    public var codeID: String { hex(timeDateStamp, width: 8) + String(sizeOfImage, radix: 16) }

    /// A record built from another dump format's list of unloaded modules (a kernel dump's unloaded drivers).
    public init(
        baseOfImage: UInt64, sizeOfImage: UInt32, checkSum: UInt32 = 0, timeDateStamp: UInt32 = 0, moduleNameRva: UInt32 = 0,
        name: String
    ) {
        self.baseOfImage = baseOfImage
        self.sizeOfImage = sizeOfImage
        self.checkSum = checkSum
        self.timeDateStamp = timeDateStamp
        self.moduleNameRva = moduleNameRva
        self.name = name
    }

    /// End of the address range (exclusive), saturating.
    public var endAddress: UInt64 {
        let (end, overflow) = baseOfImage.addingReportingOverflow(UInt64(sizeOfImage))
        return overflow ? UInt64.max : end
    }
}

/// `MINIDUMP_UNLOADED_MODULE_LIST`: header-sized list of unloaded modules.
public struct UnloadedModuleList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.unloadedModuleList
    /// The unloaded modules in stream order.
    public var modules: [UnloadedModule]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MINIDUMP_UNLOADED_MODULE_LIST"
        let entries = try dump.sizedListEntries(bytes, minimumEntrySize: UnloadedModule.size, field: field)
        var modules = [UnloadedModule]()
        modules.reserveCapacity(entries.count)
        for entry in entries {
            var reader = dump.reader(entry)
            let base = try reader.read(UInt64.self, "MINIDUMP_UNLOADED_MODULE.BaseOfImage")
            let size = try reader.read(UInt32.self, "MINIDUMP_UNLOADED_MODULE.SizeOfImage")
            let checkSum = try reader.read(UInt32.self, "MINIDUMP_UNLOADED_MODULE.CheckSum")
            let stamp = try reader.read(UInt32.self, "MINIDUMP_UNLOADED_MODULE.TimeDateStamp")
            let nameRva = try reader.read(UInt32.self, "MINIDUMP_UNLOADED_MODULE.ModuleNameRva")
            let name = (try? dump.string(at: nameRva, field: "MINIDUMP_UNLOADED_MODULE.ModuleNameRva")) ?? ""
            modules.append(
                UnloadedModule(
                    baseOfImage: base, sizeOfImage: size, checkSum: checkSum, timeDateStamp: stamp,
                    moduleNameRva: nameRva, name: name))
        }
        self.modules = modules
    }
}
