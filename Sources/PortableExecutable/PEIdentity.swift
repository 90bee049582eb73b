import BinaryReading

/// The identity of a PE module as debuggers and symbol stores match it.
public struct PEIdentity: Sendable, Equatable, Hashable {
    /// `IMAGE_FILE_HEADER.Machine`.
    public var machine: Machine
    /// `IMAGE_FILE_HEADER.TimeDateStamp`.
    public var timeDateStamp: UInt32
    /// `IMAGE_OPTIONAL_HEADER.SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `IMAGE_OPTIONAL_HEADER.CheckSum` as stored.
    public var checkSum: UInt32
    /// The PDB path of the CodeView record, if any.
    public var pdbName: String?
    /// The debug id (GUID or NB10 signature, then age as `%X`), if the image has a CodeView record.
    public var debugID: String?

    public init(
        machine: Machine, timeDateStamp: UInt32, sizeOfImage: UInt32, checkSum: UInt32, pdbName: String?, debugID: String?
    ) {
        self.machine = machine
        self.timeDateStamp = timeDateStamp
        self.sizeOfImage = sizeOfImage
        self.checkSum = checkSum
        self.pdbName = pdbName
        self.debugID = debugID
    }

    /// The code id as symbol stores spell it: `TimeDateStamp` as `%08X`, then `SizeOfImage` as `%x`.
    public var codeID: String { hex(timeDateStamp, width: 8) + String(sizeOfImage, radix: 16) }

    /// The PDB file name without its folder (either separator).
    public var pdbFileName: String? {
        guard let pdbName else { return nil }
        guard let cut = pdbName.lastIndex(where: { $0 == "\\" || $0 == "/" }) else { return pdbName }
        return String(pdbName[pdbName.index(after: cut)...])
    }
}

extension PEImage {
    /// The module identity; a damaged debug directory leaves the PDB fields nil rather than failing.
    public var identity: PEIdentity {
        let codeView = (try? codeView()) ?? nil
        return PEIdentity(
            machine: machine, timeDateStamp: fileHeader.timeDateStamp, sizeOfImage: optionalHeader.sizeOfImage,
            checkSum: optionalHeader.checkSum, pdbName: codeView?.pdbName, debugID: codeView?.debugID)
    }
}
