import BinaryReading
import Foundation
import Minidump
import PortableExecutable
import SymbolStore

/// How rescued images are laid out in the output folder.
public enum RescueLayout: String, Sendable, Codable, CaseIterable {
    /// `DIR/<module file name>`.
    case flat
    /// `DIR/<name>/<TIMESTAMP><SIZE>/<name>`, a symbol store debuggers can use as a search path.
    case symstore
}

/// One module's rescue.
public struct RescuedModule: Sendable, Codable, Equatable {
    /// `rescued`, `skipped` (its binary was found and matches), or `failed`.
    public enum Status: String, Sendable, Codable {
        case rescued, skipped, failed
    }

    public var filename: String
    public var codeFile: String
    public var baseAddr: String
    public var status: Status
    /// The written image, or for skipped modules the matching binary.
    public var path: String?
    /// Whether the image's headers are the module's real ones, captured in the dump.
    public var headersFromMemory: Bool
    /// Bytes of the image that came from the dump's memory.
    public var bytesFromMemory: UInt64
    /// What was rebuilt from the dump's module record.
    public var rebuiltFromRecord: [String]
    /// Details of the build (what came from where, what was overwritten).
    public var notes: [String]
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case filename, codeFile = "code_file", baseAddr = "base_addr", status, path,
            headersFromMemory = "headers_from_memory", bytesFromMemory = "bytes_from_memory",
            rebuiltFromRecord = "rebuilt_from_record", notes, error
    }
}

/// `postmortem rescue`: stand-in images for modules whose binaries are lost.
public struct RescueReport: Sendable, Codable, Equatable {
    public var dump: String
    public var outputFolder: String
    public var layout: RescueLayout
    public var modules: [RescuedModule]
    public var errors: [String]

    enum CodingKeys: String, CodingKey {
        case dump, outputFolder = "output_folder", layout, modules, errors
    }

    /// Whether every module was rescued or skipped because it matched.
    public var succeeded: Bool { errors.isEmpty && !modules.contains { $0.status == .failed } }
}

/// Builds rescue images from a minidump's module records and captured memory.
public enum ModuleRescue {
    /// The PE machine for a dump's CPU.
    static func machine(for architecture: ProcessorArchitecture?) -> Machine? {
        switch architecture {
        case .x86?, .x86OnWin64?: return .i386
        case .amd64?: return .amd64
        case .arm64?, .arm64Old?: return .arm64
        case .arm?: return .armNT
        default: return nil
        }
    }

    /// The dump's captured bytes that fall inside a module, by RVA.
    static func capturedMemory(of module: Module, in memory: MemoryIndex) -> [(rva: UInt32, bytes: [UInt8])] {
        let start = module.baseOfImage
        let end = module.endAddress
        var out = [(rva: UInt32, bytes: [UInt8])]()
        guard let first = memory.regionIndex(containing: start) ?? memory.regions.firstIndex(where: { $0.address >= start })
        else { return out }
        for region in memory.regions[first...] {
            if region.address >= end { break }
            let from = max(region.address, start)
            let to = min(region.endAddress, end)
            guard from < to, let bytes = memory.bytes(at: from, count: Int(to - from)) else { continue }
            out.append((UInt32(from - start), bytes.array))
        }
        return out
    }

    /// Rescues the modules of `minidump` that `match` cannot find (every module with `all`) into `outputFolder`.
    public static func rescue(
        minidump: MinidumpFile, path: String, outputFolder: String, all: Bool, layout: RescueLayout,
        searchPath: ExecutableSearchPath, policy: MatchPolicy = .windbg
    ) -> RescueReport {
        var report = RescueReport(dump: path, outputFolder: outputFolder, layout: layout, modules: [], errors: [])
        let modules: [Module]
        do {
            modules = try minidump.stream(ModuleList.self)?.modules ?? []
        } catch {
            report.errors.append("ModuleListStream: \(error)")
            return report
        }
        let system = try? minidump.stream(SystemInfo.self)
        let width = (system?.processorArchitecture.pointerSize ?? 8) * 2
        guard let machine = machine(for: system?.processorArchitecture) else {
            report.errors.append(
                "the dump's CPU (\(system?.processorArchitecture.description ?? "no system info")) has no PE machine type")
            return report
        }
        do {
            try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        } catch {
            report.errors.append("cannot create \(outputFolder): \(error.localizedDescription)")
            return report
        }
        let memory = minidump.memoryIndex()
        for module in modules {
            var row = RescuedModule(
                filename: module.fileName, codeFile: module.name, baseAddr: hex0x(module.baseOfImage, width: width),
                status: .failed, path: nil, headersFromMemory: false, bytesFromMemory: 0, rebuiltFromRecord: [], notes: [],
                error: nil)
            if !all {
                let found = ModuleLocator.locate(module: module, dumpPath: path, searchPath: searchPath, policy: policy)
                if found.status == .matched {
                    row.status = .skipped
                    row.path = found.path
                    report.modules.append(row)
                    continue
                }
            }
            do {
                let spec = RescueImageSpec(
                    machine: machine, imageBase: module.baseOfImage, sizeOfImage: module.sizeOfImage,
                    timeDateStamp: module.timeDateStamp, checkSum: module.checkSum,
                    isDLL: !module.fileName.lowercased().hasSuffix(".exe"), codeViewRecord: module.codeViewBytes,
                    miscRecord: !module.hasMiscRecord
                        ? nil : (try? minidump.bytes(at: module.miscRecordLocation, field: "MiscRecord"))?.array,
                    fixedFileInfo: module.versionInfo.isPresent ? fixedFileInfoWords(module.versionInfo) : nil,
                    capturedMemory: capturedMemory(of: module, in: memory))
                let image = try RescueImageBuilder.build(spec)
                try write(image, spec: spec, fileName: module.fileName, outputFolder: outputFolder, layout: layout, into: &row)
            } catch {
                row.error = "\(error)"
            }
            report.modules.append(row)
        }
        return report
    }

    /// Writes a built image where `layout` puts it and records what went into it.
    static func write(
        _ image: RescuedImage, spec: RescueImageSpec, fileName: String, outputFolder: String, layout: RescueLayout,
        into row: inout RescuedModule
    ) throws {
        let folder: String
        switch layout {
        case .flat:
            folder = outputFolder
        case .symstore:
            // The key as symstore spells it, from the layer that owns key formats.
            let key = StoreKey(
                FileIdentity(
                    fileName: fileName, identifier: .pe(timeDateStamp: spec.timeDateStamp, sizeOfImage: spec.sizeOfImage)))
            folder = outputFolder + "/" + SafeFileName.sanitize(key.fileName) + "/" + SafeFileName.sanitize(key.index)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        row.path = try SafeFileName.writeAtomically(image.bytes, folder: folder, name: fileName)
        row.status = .rescued
        row.headersFromMemory = image.headersFromMemory
        row.bytesFromMemory = image.rangesFromMemory.reduce(0) { $0 + UInt64($1.size) }
        var rebuilt = ["name", "SizeOfImage", "TimeDateStamp", "CheckSum", "machine"]
        if !image.headersFromMemory { rebuilt.append("headers and section table") }
        if !spec.codeViewRecord.isEmpty { rebuilt.append("CodeView record") }
        if spec.miscRecord != nil { rebuilt.append("Misc record") }
        if spec.fixedFileInfo != nil { rebuilt.append("version resource") }
        row.rebuiltFromRecord = rebuilt
        row.notes = image.notes
    }

    static func fixedFileInfoWords(_ info: FixedFileInfo) -> [UInt32] {
        [
            info.signature, info.structVersion, info.fileVersionMS, info.fileVersionLS, info.productVersionMS,
            info.productVersionLS, info.fileFlagsMask, info.fileFlags, info.fileOS, info.fileType, info.fileSubtype,
            info.fileDateMS, info.fileDateLS,
        ]
    }
}
