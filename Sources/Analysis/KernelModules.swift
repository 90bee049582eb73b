import BinaryReading
import Foundation
import KernelDump
import PortableExecutable

/// One module of a kernel dump or a full user-mode dump as `postmortem modules` shows it.
///
/// Field names are those of `ModuleRow` where the concept is the same (`filename`, `code_file`,
/// `base_addr`, `end_addr`, `size`, `checksum`, `timestamp`, `timestamp_utc`, `code_id`, `debug_id`).
/// Identity fields are nil when the dump does not record them.
public struct DumpModuleRow: Sendable, Codable, Equatable {
    /// File name without its folder.
    public var filename: String
    /// The full path the dump records.
    public var codeFile: String
    /// Load address, `0x` hex padded to the pointer width.
    public var baseAddr: String
    /// End address (exclusive).
    public var endAddr: String
    /// `SizeOfImage` in `0x` hex.
    public var size: String
    /// `CheckSum` in `0x` hex (8 digits).
    public var checksum: String?
    /// `TimeDateStamp` in `0x` hex (8 digits).
    public var timestamp: String?
    /// `TimeDateStamp` as an ISO 8601 UTC date.
    public var timestampUTC: String?
    /// `TimeDateStamp %08X` + `SizeOfImage %x`.
    public var codeId: String?
    /// CodeView GUID + age as symbol servers spell them, when the debug record was captured.
    public var debugId: String?
    /// The PDB name of the CodeView record, without its folder.
    public var debugFile: String?
    /// Where the identity came from: `driver list` (kernel small dumps), `loaded-module list` and
    /// `header page` (other kernel dumps), or `header page` (user dumps).
    public var identitySource: String?
    /// Why part of the identity is missing.
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case filename, codeFile = "code_file", baseAddr = "base_addr", endAddr = "end_addr", size, checksum,
            timestamp, timestampUTC = "timestamp_utc", codeId = "code_id", debugId = "debug_id",
            debugFile = "debug_file", identitySource = "identity_source", warnings
    }

    init(
        name: String, base: UInt64, size: UInt32, pointerWidth: Int, timeDateStamp: UInt32?, checkSum: UInt32?,
        debugId: String? = nil, debugFile: String? = nil, identitySource: String?, warnings: [String] = []
    ) {
        filename = Self.baseName(name)
        codeFile = name
        baseAddr = hex0x(base, width: pointerWidth)
        let (end, overflow) = base.addingReportingOverflow(UInt64(size))
        endAddr = hex0x(overflow ? UInt64.max : end, width: pointerWidth)
        self.size = hex0x(size)
        checksum = checkSum.map { hex0x($0, width: 8) }
        timestamp = timeDateStamp.map { hex0x($0, width: 8) }
        timestampUTC = timeDateStamp.map { isoDate(secondsSince1970: Int64($0)) }
        codeId = timeDateStamp.map { hex($0, width: 8) + String(size, radix: 16) }
        self.debugId = debugId
        self.debugFile = debugFile
        self.identitySource = identitySource
        self.warnings = warnings
    }

    /// The part after the last `\` or `/`.
    static func baseName(_ path: String) -> String {
        guard let cut = path.lastIndex(where: { $0 == "\\" || $0 == "/" }) else { return path }
        return String(path[path.index(after: cut)...])
    }
}

/// The modules of a kernel dump or a legacy full user-mode dump (`postmortem modules`).
public struct DumpModules: Sendable, Codable, Equatable {
    /// The dump's path as given.
    public var dump: String
    /// `kernel` or `user`.
    public var kind: String
    /// The dump type (`small (triage)`, `bitmap`, ...) for kernel dumps.
    public var dumpType: String?
    /// The CPU (`amd64`, `arm64`, `arm`, `x86`).
    public var cpuArch: String?
    /// Loaded modules (kernel dumps: drivers).
    public var modules: [DumpModuleRow]
    /// Drivers unloaded before the crash (kernel small dumps).
    public var unloadedModules: [DumpModuleRow]
    /// Why the list is empty or partial, in plain words.
    public var notes: [String]
    /// Parts that could not be read.
    public var errors: [String]

    enum CodingKeys: String, CodingKey {
        case dump, kind, dumpType = "dump_type", cpuArch = "cpu_arch", modules, unloadedModules = "unloaded_modules",
            notes, errors
    }

    /// The drivers of a kernel dump: a small dump's triage driver list; other types' loaded-module
    /// list, each driver identified from its header page when the dump holds it.
    public init(kernelDump: KernelDumpFile, path: String) {
        dump = path
        kind = "kernel"
        dumpType = kernelDump.dumpType?.description
        cpuArch = kernelDump.header.machineImageType?.description
        modules = []
        unloadedModules = []
        notes = []
        errors = []
        let width = kernelDump.header.is64Bit ? 16 : 8
        guard kernelDump.dumpType == .small else {
            let list = KernelDriverList(dump: kernelDump)
            if let failure = list.failure {
                notes.append(
                    "the loaded-module list (PsLoadedModuleList) of this \(dumpType ?? "unknown type") dump could not be walked: \(failure)"
                )
            }
            errors += list.warnings.map { "PsLoadedModuleList: \($0)" }
            for driver in list.drivers {
                let identity = list.memory.map { memory in
                    CapturedImageIdentity(
                        read: { memory.read($0, count: $1) }, base: driver.baseAddress, size: driver.sizeOfImage)
                }
                modules.append(
                    DumpModuleRow(
                        name: driver.name, base: driver.baseAddress, size: driver.sizeOfImage, pointerWidth: width,
                        timeDateStamp: identity?.timeDateStamp, checkSum: identity?.checkSum, debugId: identity?.debugId,
                        debugFile: identity?.pdbName.map(DumpModuleRow.baseName),
                        identitySource: identity?.timeDateStamp == nil ? "loaded-module list" : "loaded-module list, header page",
                        warnings: identity?.warnings ?? []))
            }
            return
        }
        do {
            let triage = try kernelDump.triage()
            modules = triage.drivers.map {
                DumpModuleRow(
                    name: $0.name, base: $0.baseAddress, size: $0.sizeOfImage, pointerWidth: width,
                    timeDateStamp: $0.timeDateStamp, checkSum: $0.checkSum, identitySource: "driver list")
            }
            unloadedModules = triage.unloadedDrivers.map {
                let size = $0.endAddress >= $0.startAddress ? UInt32(clamping: $0.endAddress - $0.startAddress) : 0
                return DumpModuleRow(
                    name: $0.name, base: $0.startAddress, size: size, pointerWidth: width, timeDateStamp: nil, checkSum: nil,
                    identitySource: nil)
            }
            errors += triage.warnings.map { "\($0)" }
        } catch {
            errors.append("\(error)")
        }
    }

    /// The modules of a `USERDUMP`/`USERDU64`, identified from each module's captured header page.
    public init(userDump: UserDumpFile, path: String) {
        dump = path
        kind = "user"
        dumpType = nil
        cpuArch = userDump.header.machineImageType.description
        modules = []
        unloadedModules = []
        notes = []
        errors = []
        let width = userDump.header.is64Bit ? 16 : 8
        let records: [UserDumpModule]
        do {
            records = try userDump.modules()
        } catch {
            errors.append("\(error)")
            return
        }
        let memory: UserDumpMemory?
        do {
            memory = try userDump.memory()
        } catch {
            errors.append("\(error)")
            memory = nil
        }
        for record in records {
            let captured = memory.map { CapturedImageIdentity(memory: $0, base: record.baseOfImage, size: record.sizeOfImage) }
            modules.append(
                DumpModuleRow(
                    name: record.imageName, base: record.baseOfImage, size: record.sizeOfImage, pointerWidth: width,
                    timeDateStamp: captured?.timeDateStamp, checkSum: captured?.checkSum, debugId: captured?.debugId,
                    debugFile: captured?.pdbName.map(DumpModuleRow.baseName),
                    identitySource: captured?.timeDateStamp == nil ? nil : "header page",
                    warnings: captured?.warnings ?? ["the dump's memory could not be read"]))
        }
    }
}

/// A module's identity read from the dump's copy of its mapped image: the header page, then the
/// debug directory and CodeView record at their RVAs (the image is mapped, so RVAs are addresses
/// relative to the base, not file offsets).
struct CapturedImageIdentity {
    var timeDateStamp: UInt32?
    var checkSum: UInt32?
    var sizeOfImage: UInt32?
    var machine: UInt16?
    var debugId: String?
    var pdbName: String?
    /// The CodeView record as the image holds it, for readers that decode it themselves.
    var codeViewBytes: [UInt8]?
    var warnings: [String] = []

    init(memory: UserDumpMemory, base: UInt64, size: UInt32) {
        self.init(read: { memory.read($0, count: $1) }, base: base, size: size)
    }

    init(read: (UInt64, Int) -> [UInt8]?, base: UInt64, size: UInt32) {
        let pageSize = Int(min(0x1000, size))
        guard pageSize > 0, let page = read(base, pageSize) else {
            warnings.append("the header page at \(hex0x(base)) was not captured")
            return
        }
        let image: PEImage
        do {
            image = try PEImage(bytes: MappedFile(bytes: page, name: "header page").bytes)
        } catch {
            warnings.append("the captured header page is not a PE header: \(error)")
            return
        }
        timeDateStamp = image.fileHeader.timeDateStamp
        checkSum = image.optionalHeader.checkSum
        sizeOfImage = image.optionalHeader.sizeOfImage
        machine = image.machine.rawValue
        guard let debug = image.optionalHeader.directory(.debug), !debug.isEmpty else { return }
        let count = min(Int(debug.size) / DebugDirectoryEntry.size, 32)
        guard let table = read(base &+ UInt64(debug.virtualAddress), count * DebugDirectoryEntry.size) else {
            warnings.append("the debug directory at RVA \(hex0x(debug.virtualAddress)) was not captured")
            return
        }
        var reader = MappedFile(bytes: table, name: "debug directory").bytes.reader()
        for _ in 0..<count {
            guard let entry = try? DebugDirectoryEntry(parsing: &reader) else { break }
            guard entry.type == .codeView, entry.sizeOfData > 0, entry.sizeOfData < 0x1_0000 else { continue }
            guard let data = read(base &+ UInt64(entry.addressOfRawData), Int(entry.sizeOfData)) else {
                warnings.append("the CodeView record at RVA \(hex0x(entry.addressOfRawData)) was not captured")
                return
            }
            codeViewBytes = data
            if let record = try? CodeViewInfo(parsing: MappedFile(bytes: data, name: "CodeView").bytes) {
                debugId = record.debugID
                pdbName = record.pdbName
            }
            return
        }
    }
}
