import BinaryReading
import Minidump

/// One loaded module as `postmortem modules` shows it.
///
/// Field names follow the minidump-stackwalk JSON schema where the concept is the same
/// (`filename`, `base_addr`, `end_addr`, `code_id`, `debug_file`, `debug_id`, `version`).
public struct ModuleRow: Sendable, Codable, Equatable {
    /// File name without its folder.
    public var filename: String
    /// The full path the writer recorded.
    public var codeFile: String
    /// Load address, `0x` hex padded to the pointer width.
    public var baseAddr: String
    /// End address (exclusive).
    public var endAddr: String
    /// `SizeOfImage` in `0x` hex.
    public var size: String
    /// `CheckSum` in `0x` hex (8 digits).
    public var checksum: String
    /// `TimeDateStamp` in `0x` hex (8 digits).
    public var timestamp: String
    /// `TimeDateStamp` as an ISO 8601 UTC date.
    public var timestampUTC: String
    /// File version `a.b.c.d` from VS_FIXEDFILEINFO, if present.
    public var version: String?
    /// Product version `a.b.c.d` from VS_FIXEDFILEINFO, if present.
    public var productVersion: String?
    /// Kind of CodeView record: `RSDS`, `NB10`, `ELF` (Breakpad build id), `unknown`, or nil when absent.
    public var codeview: String?
    /// Debug file name without its folder (the PDB, or the ELF module itself).
    public var debugFile: String?
    /// The debug file's full path as the CodeView record gives it.
    public var debugFilePath: String?
    /// PDB GUID (registry form), for RSDS records.
    public var pdbGuid: String?
    /// PDB signature for NB10 records (a timestamp), `0x` hex.
    public var pdbSignature: String?
    /// PDB age.
    public var pdbAge: UInt32?
    /// GUID + age as symbol servers spell them.
    public var debugId: String?
    /// `TimeDateStamp %08X` + `SizeOfImage %x` (or an ELF build id).
    public var codeId: String
    /// Whether the module has a Misc (IMAGE_DEBUG_MISC) record.
    public var hasMiscRecord: Bool
    /// Problems found in the record that did not stop it from being listed.
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case filename, codeFile = "code_file", baseAddr = "base_addr", endAddr = "end_addr", size, checksum,
            timestamp, timestampUTC = "timestamp_utc", version, productVersion = "product_version", codeview,
            debugFile = "debug_file", debugFilePath = "debug_file_path", pdbGuid = "pdb_guid",
            pdbSignature = "pdb_signature", pdbAge = "pdb_age", debugId = "debug_id", codeId = "code_id",
            hasMiscRecord = "has_misc_record", warnings
    }

    /// Builds the row for `module`, with addresses padded to `pointerWidth` hex digits.
    public init(_ module: Module, pointerWidth: Int, platform: PlatformID? = nil) {
        filename = module.fileName
        codeFile = module.name
        baseAddr = hex0x(module.baseOfImage, width: pointerWidth)
        endAddr = hex0x(module.endAddress, width: pointerWidth)
        size = hex0x(module.sizeOfImage)
        checksum = hex0x(module.checkSum, width: 8)
        timestamp = hex0x(module.timeDateStamp, width: 8)
        timestampUTC = isoDate(secondsSince1970: Int64(module.timeDateStamp))
        version = module.versionInfo.fileVersion
        productVersion = module.versionInfo.productVersion
        // One decoding of the CodeView record for every field derived from it.
        let identifiers = module.identifiers(platform: platform)
        debugFilePath = identifiers.debugFile
        debugFile = identifiers.debugFile.map(Module.baseName)
        debugId = identifiers.debugID
        codeId = identifiers.codeID
        hasMiscRecord = module.hasMiscRecord
        warnings = module.warnings
        switch identifiers.codeView {
        case .pdb70(let guid, let age, _):
            codeview = "RSDS"
            pdbGuid = guid.description
            pdbAge = age
        case .pdb20(_, let signature, let age, _):
            codeview = "NB10"
            pdbSignature = hex0x(signature, width: 8)
            pdbAge = age
        case .elf:
            codeview = "ELF"
        case .unknown:
            codeview = "unknown"
        case nil:
            codeview = nil
        }
    }
}

/// One unloaded module as `postmortem modules` shows it.
public struct UnloadedModuleRow: Sendable, Codable, Equatable {
    public var filename: String
    public var codeFile: String
    public var baseAddr: String
    public var endAddr: String
    public var size: String
    public var checksum: String
    public var timestamp: String
    public var timestampUTC: String
    public var codeId: String

    enum CodingKeys: String, CodingKey {
        case filename, codeFile = "code_file", baseAddr = "base_addr", endAddr = "end_addr", size, checksum,
            timestamp, timestampUTC = "timestamp_utc", codeId = "code_id"
    }

    /// Builds the row for `module`.
    public init(_ module: UnloadedModule, pointerWidth: Int) {
        filename = Module.baseName(module.name)
        codeFile = module.name
        baseAddr = hex0x(module.baseOfImage, width: pointerWidth)
        endAddr = hex0x(module.endAddress, width: pointerWidth)
        size = hex0x(module.sizeOfImage)
        checksum = hex0x(module.checkSum, width: 8)
        timestamp = hex0x(module.timeDateStamp, width: 8)
        timestampUTC = isoDate(secondsSince1970: Int64(module.timeDateStamp))
        codeId = module.codeID
    }
}

/// The module table of a dump: `postmortem modules`' model, shared by its text and JSON output.
public struct ModuleTable: Sendable, Codable, Equatable {
    /// The dump's path as given.
    public var dump: String
    /// CPU architecture from the system info stream, when present.
    public var cpuArch: String?
    /// Loaded modules in stream order.
    public var modules: [ModuleRow]
    /// Unloaded modules in stream order.
    public var unloadedModules: [UnloadedModuleRow]
    /// Streams that could not be read; the table holds whatever could be.
    public var errors: [String]

    enum CodingKeys: String, CodingKey {
        case dump, cpuArch = "cpu_arch", modules, unloadedModules = "unloaded_modules", errors
    }

    /// Reads the module and unloaded-module lists of `minidump`.
    ///
    /// Only the directory, the system info and the two module lists are touched, so the
    /// cost does not grow with the memory the dump holds.
    public init(minidump: MinidumpFile, path: String) {
        dump = path
        var errors = [String]()
        let system: SystemInfo?
        do {
            system = try minidump.stream(SystemInfo.self)
        } catch {
            system = nil
            errors.append("SystemInfoStream: \(error)")
        }
        cpuArch = system?.processorArchitecture.description

        var loaded = [Module]()
        do {
            loaded = try minidump.stream(ModuleList.self)?.modules ?? []
        } catch {
            errors.append("ModuleListStream: \(error)")
        }
        var unloaded = [UnloadedModule]()
        do {
            unloaded = try minidump.stream(UnloadedModuleList.self)?.modules ?? []
        } catch {
            errors.append("UnloadedModuleListStream: \(error)")
        }
        let width = pointerWidth(system: system, addresses: loaded.map(\.endAddress) + unloaded.map(\.endAddress))
        modules = loaded.map { ModuleRow($0, pointerWidth: width, platform: system?.platformId) }
        unloadedModules = unloaded.map { UnloadedModuleRow($0, pointerWidth: width) }
        self.errors = errors
    }
}

/// Hex digits for addresses: 16 on 64-bit systems (or when an address needs them), else 8.
func pointerWidth(system: SystemInfo?, addresses: [UInt64]) -> Int {
    if let size = system?.processorArchitecture.pointerSize { return size * 2 }
    return addresses.contains { $0 > UInt64(UInt32.max) + 1 } ? 16 : 8
}

/// Formats seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` without Foundation's calendar.
public func isoDate(secondsSince1970 seconds: Int64) -> String {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let secondsOfDay = seconds - days * 86_400
    // Civil-from-days (proleptic Gregorian), valid for every Int64 day count we can get from 32/64-bit stamps.
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    // Built byte by byte: a report formats one date per module, and interpolation costs allocations.
    let fields: [(Int64, Int)] = [
        (year, 4), (month, 2), (day, 2), (secondsOfDay / 3600, 2), (secondsOfDay / 60 % 60, 2), (secondsOfDay % 60, 2),
    ]
    let separators: [UInt8] = [
        UInt8(ascii: "-"), UInt8(ascii: "-"), UInt8(ascii: "T"), UInt8(ascii: ":"), UInt8(ascii: ":"), UInt8(ascii: "Z"),
    ]
    guard (0...9999).contains(year) else { return "year \(year)" }
    return String(unsafeUninitializedCapacity: 20) { buffer in
        var at = 0
        for (index, (value, digits)) in fields.enumerated() {
            var remaining = value
            for position in stride(from: digits - 1, through: 0, by: -1) {
                buffer[at + position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            at += digits
            buffer[at] = separators[index]
            at += 1
        }
        return at
    }
}
