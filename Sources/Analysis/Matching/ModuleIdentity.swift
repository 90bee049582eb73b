import BinaryReading
import Minidump
import PortableExecutable

/// What debuggers compare to decide that a file is a dump's module.
public struct ModuleIdentity: Sendable, Equatable, Codable {
    /// File name without its folder.
    public var name: String
    /// `SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `TimeDateStamp`.
    public var timeDateStamp: UInt32
    /// `CheckSum` as stored (not recomputed: debuggers compare the stored values).
    public var checkSum: UInt32
    /// The CodeView debug id (GUID or NB10 signature + age), if any.
    public var debugID: String?
    /// The PDB path of the CodeView record, if any.
    public var pdbName: String?
    /// `IMAGE_FILE_HEADER.Machine`, when known (a dump record does not carry it).
    public var machine: UInt16?

    /// The code id as symbol stores spell it (for ELF modules, the build id).
    public var codeID: String

    /// The identity a dump's module record gives.
    public init(module: Module) {
        name = module.fileName
        sizeOfImage = module.sizeOfImage
        timeDateStamp = module.timeDateStamp
        checkSum = module.checkSum
        debugID = module.debugID
        pdbName = module.codeView?.pdbName
        machine = nil
        codeID = module.codeID
    }

    /// The identity a PE file on disk gives; `name` is the file's name.
    public init(image: PEImage, name: String) {
        let identity = image.identity
        self.name = name
        sizeOfImage = identity.sizeOfImage
        timeDateStamp = identity.timeDateStamp
        checkSum = identity.checkSum
        debugID = identity.debugID
        pdbName = identity.pdbName
        machine = identity.machine.rawValue
        codeID = identity.codeID
    }
}

/// Which fields must agree for a file to be accepted as a dump's module.
public enum MatchPolicy: String, Sendable, Codable, CaseIterable {
    /// WinDbg: name, SizeOfImage, TimeDateStamp and CheckSum.
    case windbg
    /// Visual Studio: name, SizeOfImage and TimeDateStamp.
    case vs
    /// Everything WinDbg compares, and the CodeView GUID and age.
    case strict
}

/// One field that differs between a dump's record and a file.
public struct FieldDifference: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The field's name as debuggers call it (`TimeDateStamp`, `SizeOfImage`, ...).
    public var field: String
    /// The value in the dump's record.
    public var dump: String
    /// The value in the file.
    public var file: String

    public var description: String { "\(field): dump \(dump), file \(file)" }
}

extension ModuleIdentity {
    /// The fields that differ between this record (the dump's) and `file`, under `policy`.
    ///
    /// File names compare case-insensitively, as on Windows.
    public func differences(from file: ModuleIdentity, policy: MatchPolicy) -> [FieldDifference] {
        var out = [FieldDifference]()
        if name.lowercased() != file.name.lowercased() {
            out.append(FieldDifference(field: "name", dump: name, file: file.name))
        }
        if sizeOfImage != file.sizeOfImage {
            out.append(FieldDifference(field: "SizeOfImage", dump: hex0x(sizeOfImage), file: hex0x(file.sizeOfImage)))
        }
        if timeDateStamp != file.timeDateStamp {
            out.append(
                FieldDifference(
                    field: "TimeDateStamp", dump: hex0x(timeDateStamp, width: 8), file: hex0x(file.timeDateStamp, width: 8)))
        }
        if policy != .vs, checkSum != file.checkSum {
            out.append(FieldDifference(field: "CheckSum", dump: hex0x(checkSum, width: 8), file: hex0x(file.checkSum, width: 8)))
        }
        // A record without CodeView (Wine writes none) cannot contradict the file's.
        if policy == .strict, let expected = debugID, expected != file.debugID {
            out.append(FieldDifference(field: "CodeView GUID/age", dump: expected, file: file.debugID ?? "(none)"))
        }
        return out
    }
}
