import BinaryReading

/// How the letters of a key are cased.
public enum KeyCasing: Sendable, Hashable {
    /// As symstore and SymSrv write them: the file name as given, ids in uppercase hex
    /// except the PE SizeOfImage (`%x`).
    case asIs
    /// As the SSQP convention writes them: file name and id lowercase, except a PDB's age.
    case ssqp
}

/// The place of one file in a symbol store: `<fileName>/<index>/<storedName>`.
///
/// `index` is the folder symstore calls the file's hash (`5AB380779000`,
/// `GUID`+`age`, `elf-buildid-…`).
public struct StoreKey: Sendable, Hashable, CustomStringConvertible {
    /// First path component: the file's name (or `_.debug`, `_.dwarf` for SSQP debug files).
    public var fileName: String
    /// Second path component.
    public var index: String
    /// Last path component: the stored file's name.
    public var storedName: String

    /// Creates a key from its three components.
    public init(fileName: String, index: String, storedName: String) {
        self.fileName = fileName
        self.index = index
        self.storedName = storedName
    }

    /// `fileName/index/storedName`.
    public var path: String { "\(fileName)/\(index)/\(storedName)" }
    public var description: String { path }

    /// The key of the compressed copy: the stored name's last character replaced by `_` (`foo.pd_`).
    public var compressed: StoreKey {
        StoreKey(fileName: fileName, index: index, storedName: Self.compressedName(storedName))
    }

    /// The key of the pointer file that may stand in for the file (`file.ptr`).
    public var pointer: StoreKey {
        StoreKey(fileName: fileName, index: index, storedName: "file.ptr")
    }

    /// The store-relative path in a flat store, or a two-tier store (`index2.txt` present), where
    /// a first folder holds the file name's first two characters (`fo/foo.exe/…`).
    public func relativePath(twoTier: Bool) -> String {
        twoTier ? "\(Self.tierPrefix(fileName))/\(path)" : path
    }

    /// The two-tier folder of a file name: its first two characters (a one-character name is used whole).
    public static func tierPrefix(_ fileName: String) -> String {
        String(fileName.prefix(2))
    }

    /// A name with its last character replaced by `_`, as compressed files are stored.
    public static func compressedName(_ name: String) -> String {
        guard !name.isEmpty else { return "_" }
        return String(name.dropLast()) + "_"
    }

    /// The symstore key of a file (`name/%08X%x/name` for PE, `name/GUIDAGE/name` for PDB,
    /// SSQP keys for ELF and Mach-O, `name.pdb/DEBUGID/name.sym` for Breakpad).
    public init(_ identity: FileIdentity, casing: KeyCasing = .asIs) {
        let name = casing == .ssqp ? identity.fileName.lowercased() : identity.fileName
        func cased(_ text: String) -> String { casing == .ssqp ? text.lowercased() : text }
        switch identity.identifier {
        case .pe(let timeDateStamp, let sizeOfImage):
            let index = hex(timeDateStamp, width: 8) + hex(sizeOfImage).lowercased()
            self.init(fileName: name, index: cased(index), storedName: name)
        case .pdb(let guid, let age):
            // The age stays uppercase hex in SSQP keys too (SSQP_Key_Conventions.md, "PDB-Signature").
            let index = cased(guid.compactHex) + (age.map { hex($0) } ?? "")
            self.init(fileName: name, index: index, storedName: name)
        case .portablePDB(let guid):
            self.init(fileName: name, index: cased(guid.compactHex) + "FFFFFFFF", storedName: name)
        case .elf(let buildID, let isDebugInfo):
            let id = Self.lowerHex(buildID)
            if isDebugInfo {
                self.init(fileName: "_.debug", index: "elf-buildid-sym-\(id)", storedName: "_.debug")
            } else {
                self.init(fileName: name, index: "elf-buildid-\(id)", storedName: name)
            }
        case .machO(let uuid, let isDebugInfo):
            let id = Self.lowerHex(uuid)
            if isDebugInfo {
                self.init(fileName: "_.dwarf", index: "mach-uuid-sym-\(id)", storedName: "_.dwarf")
            } else {
                self.init(fileName: name, index: "mach-uuid-\(id)", storedName: name)
            }
        case .breakpad(let debugID):
            self.init(fileName: name, index: cased(debugID.uppercased()), storedName: Self.breakpadSymbolName(name))
        }
    }

    /// The `.sym` name Breakpad stores for a debug file: `.pdb` dropped, `.sym` added
    /// (`test_app.pdb` → `test_app.sym`, `libc.so.6` → `libc.so.6.sym`).
    public static func breakpadSymbolName(_ debugFile: String) -> String {
        let base = debugFile.lowercased().hasSuffix(".pdb") ? String(debugFile.dropLast(4)) : debugFile
        return base + ".sym"
    }

    static func lowerHex(_ bytes: [UInt8]) -> String {
        bytes.map { hex($0, width: 2) }.joined().lowercased()
    }
}

/// A debuginfod request path: `buildid/<lowercase build id>/debuginfo` or `/executable`.
public struct DebuginfodKey: Sendable, Hashable {
    /// Which artifact of a build id is asked for.
    public enum Artifact: String, Sendable, Hashable {
        case debuginfo
        case executable
    }

    /// The raw build id.
    public var buildID: [UInt8]
    /// The artifact.
    public var artifact: Artifact

    /// Creates a key for `artifact` of `buildID`.
    public init(buildID: [UInt8], artifact: Artifact) {
        self.buildID = buildID
        self.artifact = artifact
    }

    /// `buildid/<hex>/<artifact>`, relative to a debuginfod server URL.
    public var path: String { "buildid/\(StoreKey.lowerHex(buildID))/\(artifact.rawValue)" }
}
