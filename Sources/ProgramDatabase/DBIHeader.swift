import BinaryReading

/// `DbiStreamHeader` (64 bytes), the start of the DBI stream (LLVM's `DbiStream.html`).
public struct DBIStreamHeader: Sendable, Equatable {
    /// `VersionSignature`: -1.
    public var versionSignature: Int32
    /// `VersionHeader`: 19990903 (`DbiStreamVersion::V70`) in current files.
    public var versionHeader: UInt32
    /// `Age`: the age debuggers match against the image's CodeView record.
    public var age: UInt32
    /// `GlobalStreamIndex`: the globals hash stream.
    public var globalStreamIndex: UInt16
    /// `BuildNumber`: toolchain major/minor and the new-format flag.
    public var buildNumber: UInt16
    /// `PublicStreamIndex`: the publics hash stream.
    public var publicStreamIndex: UInt16
    /// `PdbDllVersion`.
    public var pdbDllVersion: UInt16
    /// `SymRecordStream`: the stream holding public and global symbol records.
    public var symRecordStream: UInt16
    /// `PdbDllRbld`.
    public var pdbDllRbld: UInt16
    /// `ModInfoSize`.
    public var modInfoSize: Int32
    /// `SectionContributionSize`.
    public var sectionContributionSize: Int32
    /// `SectionMapSize`.
    public var sectionMapSize: Int32
    /// `SourceInfoSize`.
    public var sourceInfoSize: Int32
    /// `TypeServerMapSize`.
    public var typeServerMapSize: Int32
    /// `MFCTypeServerIndex`.
    public var mfcTypeServerIndex: UInt32
    /// `OptionalDbgHeaderSize`.
    public var optionalDbgHeaderSize: Int32
    /// `ECSubstreamSize`.
    public var ecSubstreamSize: Int32
    /// `Flags`: bit 0 incrementally linked, bit 1 private symbols stripped, bit 2 conflicting types.
    public var flags: UInt16
    /// `Machine`: an `IMAGE_FILE_MACHINE_*` value.
    public var machine: UInt16
    /// `Padding`.
    public var padding: UInt32

    /// Size on disk.
    public static let size = 64
    /// A stream index field meaning "no stream".
    public static let noStream: UInt16 = 0xFFFF

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        versionSignature = try reader.read(Int32.self, "DbiStreamHeader.VersionSignature")
        versionHeader = try reader.read(UInt32.self, "DbiStreamHeader.VersionHeader")
        age = try reader.read(UInt32.self, "DbiStreamHeader.Age")
        globalStreamIndex = try reader.read(UInt16.self, "DbiStreamHeader.GlobalStreamIndex")
        buildNumber = try reader.read(UInt16.self, "DbiStreamHeader.BuildNumber")
        publicStreamIndex = try reader.read(UInt16.self, "DbiStreamHeader.PublicStreamIndex")
        pdbDllVersion = try reader.read(UInt16.self, "DbiStreamHeader.PdbDllVersion")
        symRecordStream = try reader.read(UInt16.self, "DbiStreamHeader.SymRecordStream")
        pdbDllRbld = try reader.read(UInt16.self, "DbiStreamHeader.PdbDllRbld")
        modInfoSize = try reader.read(Int32.self, "DbiStreamHeader.ModInfoSize")
        sectionContributionSize = try reader.read(Int32.self, "DbiStreamHeader.SectionContributionSize")
        sectionMapSize = try reader.read(Int32.self, "DbiStreamHeader.SectionMapSize")
        sourceInfoSize = try reader.read(Int32.self, "DbiStreamHeader.SourceInfoSize")
        typeServerMapSize = try reader.read(Int32.self, "DbiStreamHeader.TypeServerMapSize")
        mfcTypeServerIndex = try reader.read(UInt32.self, "DbiStreamHeader.MFCTypeServerIndex")
        optionalDbgHeaderSize = try reader.read(Int32.self, "DbiStreamHeader.OptionalDbgHeaderSize")
        ecSubstreamSize = try reader.read(Int32.self, "DbiStreamHeader.ECSubstreamSize")
        flags = try reader.read(UInt16.self, "DbiStreamHeader.Flags")
        machine = try reader.read(UInt16.self, "DbiStreamHeader.Machine")
        padding = try reader.read(UInt32.self, "DbiStreamHeader.Padding")
    }
}

/// `SectionContribEntry` (28 bytes; 32 with `ISectCoff` in the V2 format): a range of a
/// section that one module contributed.
public struct SectionContribution: Sendable, Equatable {
    /// `Section` (1-based).
    public var section: UInt16
    /// `Offset` within the section.
    public var offset: Int32
    /// `Size`.
    public var size: Int32
    /// `Characteristics`: the COFF section flags.
    public var characteristics: UInt32
    /// `ModuleIndex`.
    public var moduleIndex: UInt16
    /// `DataCrc`.
    public var dataCrc: UInt32
    /// `RelocCrc`.
    public var relocCrc: UInt32
    /// `ISectCoff` (V2 entries only).
    public var isectCoff: UInt32?

    public init(parsing reader: inout ByteReader, v2: Bool = false) throws(ParseError) {
        section = try reader.read(UInt16.self, "SectionContribEntry.Section")
        try reader.skip(2, "SectionContribEntry.Padding1")
        offset = try reader.read(Int32.self, "SectionContribEntry.Offset")
        size = try reader.read(Int32.self, "SectionContribEntry.Size")
        characteristics = try reader.read(UInt32.self, "SectionContribEntry.Characteristics")
        moduleIndex = try reader.read(UInt16.self, "SectionContribEntry.ModuleIndex")
        try reader.skip(2, "SectionContribEntry.Padding2")
        dataCrc = try reader.read(UInt32.self, "SectionContribEntry.DataCrc")
        relocCrc = try reader.read(UInt32.self, "SectionContribEntry.RelocCrc")
        isectCoff = v2 ? try reader.read(UInt32.self, "SectionContribEntry2.ISectCoff") : nil
    }
}

/// `ModInfo` (64 bytes and two NUL-terminated names, padded to 4): one module (object file) of the link.
public struct ModuleInfo: Sendable, Equatable {
    /// Position in the module list.
    public var index: Int
    /// `SectionContr`: the module's first contribution.
    public var sectionContribution: SectionContribution
    /// `Flags`: bit 0 dirty, bit 1 has EC info, bits 8-15 the TSM index.
    public var flags: UInt16
    /// `ModuleSymStream`: the module's symbol stream, 0xFFFF when none.
    public var moduleSymStream: UInt16
    /// `SymByteSize`: bytes of symbols (including the 4-byte signature).
    public var symByteSize: UInt32
    /// `C11ByteSize`: bytes of old-style line information.
    public var c11ByteSize: UInt32
    /// `C13ByteSize`: bytes of C13 debug subsections.
    public var c13ByteSize: UInt32
    /// `SourceFileCount`.
    public var sourceFileCount: UInt16
    /// `SourceFileNameIndex`.
    public var sourceFileNameIndex: UInt32
    /// `PdbFilePathNameIndex`.
    public var pdbFilePathNameIndex: UInt32
    /// `ModuleName`: the object file or import library member.
    public var moduleName: String
    /// `ObjFileName`: the object or library file.
    public var objFileName: String

    /// Whether the module has a symbol stream.
    public var hasSymbolStream: Bool { moduleSymStream != DBIStreamHeader.noStream }

    public init(parsing reader: inout ByteReader, index: Int) throws(ParseError) {
        self.index = index
        try reader.skip(4, "ModInfo.Unused1")
        sectionContribution = try SectionContribution(parsing: &reader)
        flags = try reader.read(UInt16.self, "ModInfo.Flags")
        moduleSymStream = try reader.read(UInt16.self, "ModInfo.ModuleSymStream")
        symByteSize = try reader.read(UInt32.self, "ModInfo.SymByteSize")
        c11ByteSize = try reader.read(UInt32.self, "ModInfo.C11ByteSize")
        c13ByteSize = try reader.read(UInt32.self, "ModInfo.C13ByteSize")
        sourceFileCount = try reader.read(UInt16.self, "ModInfo.SourceFileCount")
        try reader.skip(2, "ModInfo.Padding")
        try reader.skip(4, "ModInfo.Unused2")
        sourceFileNameIndex = try reader.read(UInt32.self, "ModInfo.SourceFileNameIndex")
        pdbFilePathNameIndex = try reader.read(UInt32.self, "ModInfo.PdbFilePathNameIndex")
        moduleName = try reader.readCString("ModInfo.ModuleName")
        objFileName = try reader.readCString("ModInfo.ObjFileName")
        let aligned = (reader.position + 3) & ~3
        try reader.skip(min(aligned - reader.position, reader.remaining), "ModInfo padding")
    }
}

/// `SecMapEntry` (20 bytes): one logical segment of the section map.
public struct SectionMapEntry: Sendable, Equatable {
    /// `Flags`: `OMFSegDescFlags` (read, write, execute, 32-bit, selector, absolute, group).
    public var flags: UInt16
    /// `Ovl`.
    public var ovl: UInt16
    /// `Group`.
    public var group: UInt16
    /// `Frame`: the section number.
    public var frame: UInt16
    /// `SectionName`.
    public var sectionName: UInt16
    /// `ClassName`.
    public var className: UInt16
    /// `Offset`.
    public var offset: UInt32
    /// `SectionLength`.
    public var sectionLength: UInt32

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        flags = try reader.read(UInt16.self, "SecMapEntry.Flags")
        ovl = try reader.read(UInt16.self, "SecMapEntry.Ovl")
        group = try reader.read(UInt16.self, "SecMapEntry.Group")
        frame = try reader.read(UInt16.self, "SecMapEntry.Frame")
        sectionName = try reader.read(UInt16.self, "SecMapEntry.SectionName")
        className = try reader.read(UInt16.self, "SecMapEntry.ClassName")
        offset = try reader.read(UInt32.self, "SecMapEntry.Offset")
        sectionLength = try reader.read(UInt32.self, "SecMapEntry.SectionLength")
    }
}

/// Indexes of the optional debug streams (`DbgHeader`, up to 11 `uint16_t`s after the DBI substreams).
public struct DebugStreamIndexes: Sendable, Equatable {
    /// The indexes in file order; 0xFFFF means absent.
    public var raw: [UInt16]

    func at(_ position: Int) -> Int? {
        guard position < raw.count, raw[position] != DBIStreamHeader.noStream else { return nil }
        return Int(raw[position])
    }
    /// `FPO`: `FPO_DATA` records.
    public var fpo: Int? { at(0) }
    /// `Exception`.
    public var exception: Int? { at(1) }
    /// `Fixup`.
    public var fixup: Int? { at(2) }
    /// `OmapToSrc`: image RVA to original (pre-reordering) RVA.
    public var omapToSource: Int? { at(3) }
    /// `OmapFromSrc`: original RVA to image RVA.
    public var omapFromSource: Int? { at(4) }
    /// `SectionHdr`: the image's `IMAGE_SECTION_HEADER`s.
    public var sectionHeaders: Int? { at(5) }
    /// `TokenRidMap`.
    public var tokenRidMap: Int? { at(6) }
    /// `Xdata`.
    public var xdata: Int? { at(7) }
    /// `Pdata`.
    public var pdata: Int? { at(8) }
    /// `NewFPO`: `FRAMEDATA` records.
    public var newFPO: Int? { at(9) }
    /// `SectionHdrOrig`: section headers before OMAP reordering.
    public var originalSectionHeaders: Int? { at(10) }
}

extension ByteReader {
    /// Reads a NUL-terminated UTF-8 string and moves past its terminator.
    mutating func readCString(_ field: @autoclosure () -> String) throws(ParseError) -> String {
        let rest = view.suffix(from: position)
        let length = rest.firstIndex(of: 0)
        guard let length else {
            throw ParseError(offset: fileOffset, field: field(), kind: .invalidValue("string has no terminating NUL"))
        }
        let text = rest.prefix(length).utf8String
        position += length + 1
        return text
    }
}
