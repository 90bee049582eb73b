import BinaryReading

/// What a file is, as far as a symbol store cares: its kind, its name and the fields its key is made of.
///
/// The format targets will produce these once they exist; until then
/// `IdentityReading.swift` reads the few fields publishing needs.
public struct FileIdentity: Sendable, Hashable {
    /// The identifying fields of each kind of file.
    public enum Identifier: Sendable, Hashable {
        /// A PE image: `IMAGE_FILE_HEADER.TimeDateStamp` and `IMAGE_OPTIONAL_HEADER.SizeOfImage`.
        case pe(timeDateStamp: UInt32, sizeOfImage: UInt32)
        /// An MSF PDB: the PDB info stream's GUID and the age (DBI age when the DBI stream exists).
        /// `age` is nil for PDBs without a DBI stream (`vc140.pdb`), whose key has no age.
        case pdb(guid: GUID, age: UInt32?)
        /// A portable (.NET) PDB: its GUID; the key's age is always `FFFFFFFF`.
        case portablePDB(guid: GUID)
        /// An ELF file with a GNU build id; `isDebugInfo` for a separate debug file (`.debug`).
        case elf(buildID: [UInt8], isDebugInfo: Bool)
        /// A Mach-O file's `LC_UUID`; `isDebugInfo` for a dSYM's DWARF file.
        case machO(uuid: [UInt8], isDebugInfo: Bool)
        /// A Breakpad text symbol file: the debug id of its `MODULE` line (`GUID`+age, uppercase hex).
        case breakpad(debugID: String)
    }

    /// The file's name without folders, as it is published (`ntdll.dll`, `ntdll.pdb`).
    public var fileName: String
    /// The fields its key is made of.
    public var identifier: Identifier

    /// Creates an identity from its parts.
    public init(fileName: String, identifier: Identifier) {
        self.fileName = fileName
        self.identifier = identifier
    }
}
