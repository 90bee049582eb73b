import BinaryReading
import BreakpadSymbols
import PortableExecutable
import ProgramDatabase

/// Conversion of PDBs and PE images to Breakpad symbol files (what `dump_syms` does).
///
/// The record conventions follow Breakpad's and Mozilla's dump_syms: `MODULE windows <arch>
/// <debug id> <pdb name>`, `INFO CODE_ID <TimeDateStamp %08X><SizeOfImage %x> <image name>`, FILE
/// records deduplicated by name, FUNC records for procedures (`m` when folded code has several),
/// PUBLIC records for code publics at addresses no FUNC starts at, STACK WIN from x86 frame data
/// and STACK CFI from x64 unwind data.
public enum BreakpadConversion {
    /// What to write besides the records every .sym has.
    public struct Options: Sendable {
        /// Write INLINE and INLINE_ORIGIN records, and give inlined code the inlinee's lines
        /// (`dump_syms --inlines`). Without them, line records are the procedure's own line table.
        public var inlines: Bool
        /// The PDB's file name for the MODULE record; by default the image's CodeView name.
        public var pdbFileName: String?
        /// The image's file name for `INFO CODE_ID`; by default the export directory's name, else
        /// the PDB's name with `.dll` or `.exe`.
        public var imageFileName: String?

        public init(inlines: Bool = true, pdbFileName: String? = nil, imageFileName: String? = nil) {
            self.inlines = inlines
            self.pdbFileName = pdbFileName
            self.imageFileName = imageFileName
        }
    }

    /// A Breakpad symbol file from a PDB (functions, lines, inlines, publics, STACK WIN from FPO/FrameData),
    /// plus, given the matching PE, INFO CODE_ID and STACK CFI from x64 unwind data.
    public static func symbolFile(pdb: PDBFile, image: PEImage?) throws(ParseError) -> SymbolFile {
        try symbolFile(pdb: pdb, image: image, options: Options())
    }

    /// A Breakpad symbol file from the PDB at `pdbPath` and, when given, the matching image at `imagePath`;
    /// the MODULE and INFO records name the files.
    public static func symbolFile(
        pdbPath: String, imagePath: String? = nil, inlines: Bool = true
    ) throws(ParseError) -> SymbolFile {
        let pdb = try PDBFile(path: pdbPath)
        var image: PEImage?
        if let imagePath { image = try PEImage(path: imagePath) }
        return try symbolFile(
            pdb: pdb, image: image,
            options: Options(
                inlines: inlines, pdbFileName: baseName(pdbPath), imageFileName: imagePath.map(baseName)))
    }

    /// A Breakpad symbol file from a PDB and optionally its image, with `options`.
    ///
    /// Throws when the image's CodeView record names another PDB (GUID or age differ): unwind
    /// data of another build would describe the wrong code.
    public static func symbolFile(pdb: PDBFile, image: PEImage?, options: Options) throws(ParseError) -> SymbolFile {
        let identity = image?.identity
        if let identity, let imageID = identity.debugID, imageID.uppercased() != pdb.debugIdentifier.uppercased() {
            throw ParseError(
                offset: 0, field: "CodeView debug id",
                kind: .invalidValue("image names \(imageID), the PDB is \(pdb.debugIdentifier)"))
        }
        let machine = identity?.machine ?? Machine(rawValue: pdb.dbi.header.machine)
        let pdbName = options.pdbFileName ?? identity?.pdbFileName ?? "unknown.pdb"
        let module = ModuleRecord(os: "windows", arch: architecture(machine), id: pdb.debugIdentifier, name: pdbName)

        let collector = try PDBFunctionCollector(pdb)
        let mapping = try AddressMapping(pdb: pdb)
        var builder = RecordBuilder(files: collector.files, inlines: options.inlines, mapping: mapping)
        let isX86 = machine == .i386
        let publicSymbols = try pdb.publicSymbols()
        if isX86 { builder.noteParameterSizes(publicSymbols, collector: collector) }
        builder.addFunctions(collector.functions, isX86: isX86, owner: collector.contributingModule)
        var codeSections = Set<UInt16>()
        for (index, header) in try pdb.sectionHeaders().enumerated() where header.characteristics & Self.executable != 0 {
            codeSections.insert(UInt16(truncatingIfNeeded: index + 1))
        }
        builder.addPublics(publicSymbols, collector: collector, codeSections: codeSections, isX86: isX86)

        let names = try pdb.stringTable()
        var stackWin = StackWinConversion.frameData(try pdb.frameData(), names: names, mapping: mapping)
        stackWin += StackWinConversion.fpo(try pdb.fpoRecords(), mapping: mapping)

        var cfi = [CFIRecord]()
        var codeID: String?
        var codeFile: String?
        if let image, let identity {
            cfi = try X64CFIConversion.records(image).records
            codeID = codeIdentifier(identity)
            codeFile = options.imageFileName ?? defaultImageName(image, pdbName: pdbName)
        }
        return SymbolFile(
            module: module, codeID: codeID, codeFile: codeFile, files: builder.fileRecords,
            inlineOrigins: builder.originRecords, functions: builder.functions, publics: builder.publics,
            stackWin: stackWin, cfi: cfi)
    }

    /// A Breakpad symbol file from a PE alone: MODULE from its CodeView record, INFO CODE_ID, PUBLIC from exports, STACK CFI from x64 unwind data.
    ///
    /// Without a CodeView record the MODULE line gives an all-zero id and the image's own name,
    /// as Mozilla's dump_syms does for images with DWARF only (basic32-dwarf.sym).
    public static func symbolFile(image: PEImage, fileName: String) throws(ParseError) -> SymbolFile {
        let identity = image.identity
        let module = ModuleRecord(
            os: "windows", arch: architecture(identity.machine),
            id: identity.debugID?.uppercased() ?? String(repeating: "0", count: 33),
            name: identity.pdbFileName ?? fileName)
        var publics = [PublicRecord]()
        if let exports = try image.exports() {
            var seen = Set<UInt32>()
            for function in exports.functions where function.forwarder == nil {
                guard let name = function.names.first, seen.insert(function.rva).inserted else { continue }
                publics.append(PublicRecord(address: UInt64(function.rva), parameterSize: 0, isMultiple: false, name: name))
            }
        }
        let cfi = try X64CFIConversion.records(image).records
        return SymbolFile(
            module: module, codeID: codeIdentifier(identity), codeFile: fileName, publics: publics, cfi: cfi)
    }

    /// `INFO CODE_ID` as dump_syms writes it: `TimeDateStamp` and `SizeOfImage` both in uppercase
    /// hex (`589DFD111A000` in dump_syms_regtest64.sym), where symbol store keys use lowercase
    /// for the size.
    static func codeIdentifier(_ identity: PEIdentity) -> String {
        identity.codeID.uppercased()
    }

    /// `IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE`.
    static let executable: UInt32 = 0x0000_0020 | 0x2000_0000

    /// Breakpad's architecture names.
    static func architecture(_ machine: Machine) -> String {
        switch machine {
        case .i386: "x86"
        case .amd64: "x86_64"
        case .arm64: "arm64"
        case .armNT, .arm, .thumb: "arm"
        default: "unknown"
        }
    }

    static func baseName(_ path: String) -> String {
        guard let cut = path.lastIndex(where: { $0 == "/" || $0 == "\\" }) else { return path }
        return String(path[path.index(after: cut)...])
    }

    static func defaultImageName(_ image: PEImage, pdbName: String) -> String {
        if let exports = try? image.exports(), !exports.dllName.isEmpty { return exports.dllName }
        let stem = pdbName.lowercased().hasSuffix(".pdb") ? String(pdbName.dropLast(4)) : pdbName
        return stem + (image.fileHeader.characteristics.contains(.dll) ? ".dll" : ".exe")
    }
}
