import SymbolStore

/// The store keys of a module's files, from the identity a dump records.
public struct ModuleKeys: Sendable, Hashable {
    /// The binary: `name/TIMESTAMPSizeOfImage/name`.
    public var binary: StoreKey?
    /// The PDB: `name.pdb/GUIDAge/name.pdb`.
    public var pdb: StoreKey?
    /// The Breakpad symbol file: `name.pdb/GUIDAge/name.sym`.
    public var breakpad: StoreKey?

    /// Keys from a module's file name and code id, and its debug file (a full path is
    /// cut to its last component, either separator) and debug id, when it has them.
    public init(fileName: String, codeID: String?, debugFile: String?, debugID: String?) {
        let name = Self.baseName(fileName)
        binary = codeID.flatMap { $0.isEmpty || name.isEmpty ? nil : StoreKey(fileName: name, index: $0, storedName: name) }
        if let debugFile, let debugID, !debugID.isEmpty, !Self.baseName(debugFile).isEmpty {
            let debugName = Self.baseName(debugFile)
            pdb = StoreKey(fileName: debugName, index: debugID, storedName: debugName)
            breakpad = StoreKey(FileIdentity(fileName: debugName, identifier: .breakpad(debugID: debugID)))
        }
    }

    /// The last component of a Windows or POSIX path.
    public static func baseName(_ path: String) -> String {
        guard let cut = path.lastIndex(where: { $0 == "/" || $0 == "\\" }) else { return path }
        return String(path[path.index(after: cut)...])
    }
}
