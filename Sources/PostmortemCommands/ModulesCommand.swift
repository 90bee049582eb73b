import Analysis
import ArgumentParser
import KernelDump
import Minidump

/// `postmortem modules DUMP`: the module table of a dump.
struct ModulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modules",
        abstract: "List a dump's loaded and unloaded modules with their identities.",
        discussion: """
            For each module: base and end address, size, checksum, timestamp (hex and UTC date), \
            file and product version, CodeView record (PDB name, GUID, age), the debug id and code id \
            as symbol servers spell them, and whether a Misc record exists.
            Exit status: 0 ok, 1 malformed input (the message says what and at which offset), 2 usage error.
            """
    )

    // The help text still says "minidump" so the pinned help snapshot holds; kernel dumps and
    // full user-mode dumps are detected by signature in run().
    @Argument(
        help: "The dump: a minidump, a Windows kernel dump (PAGEDUMP/PAGEDU64) or a full user-mode dump (USERDUMP/USERDU64).")
    var dump: String

    @Flag(help: "Print JSON (documented in docs/json-schema.md) instead of text.")
    var json = false

    func run() throws {
        switch DumpFileKind.detect(path: dump) {
        case .kernel, .user: return try runOther()
        default: break
        }
        let table = ModuleTable(minidump: try openMinidump(dump), path: dump)
        write(json ? try jsonText(table) : renderModuleTable(table))
        for error in table.errors { printError("postmortem: \(dump): \(error)") }
        if !table.errors.isEmpty { throw ExitStatus.malformedInput }
    }

    /// Kernel dumps and full user-mode dumps.
    private func runOther() throws {
        let modules: DumpModules
        do {
            if DumpFileKind.detect(path: dump) == .kernel {
                modules = DumpModules(kernelDump: try KernelDumpFile(path: dump), path: dump)
            } else {
                modules = DumpModules(userDump: try UserDumpFile(path: dump), path: dump)
            }
        } catch {
            printError("postmortem: \(dump): \(error)")
            throw ExitStatus.malformedInput
        }
        write(json ? try jsonText(modules) : renderDumpModules(modules))
        for error in modules.errors { printError("postmortem: \(dump): \(error)") }
        if !modules.errors.isEmpty { throw ExitStatus.malformedInput }
    }
}

/// The text form of a kernel or user dump's module list.
func renderDumpModules(_ modules: DumpModules) -> String {
    var out = "Modules of \(modules.dump)"
    let about = [modules.kind == "kernel" ? "kernel dump" : "full user-mode dump", modules.dumpType, modules.cpuArch]
        .compactMap { $0 }
    out += " (\(about.joined(separator: ", "))): \(modules.modules.count) loaded"
    out += ", \(modules.unloadedModules.count) unloaded\n\n"
    for note in modules.notes { out += "\(note)\n\n" }
    if !modules.modules.isEmpty {
        out += textTable(
            header: ["base", "end", "size", "timestamp", "date (UTC)", "checksum", "code id", "debug id", "name"],
            rows: modules.modules.map {
                [
                    $0.baseAddr, $0.endAddr, $0.size, $0.timestamp ?? "-", $0.timestampUTC ?? "-", $0.checksum ?? "-",
                    $0.codeId ?? "-", $0.debugId ?? "-", $0.codeFile,
                ]
            })
    }
    let warned = modules.modules.filter { !$0.warnings.isEmpty }
    if !warned.isEmpty {
        out += "\nWarnings\n"
        for row in warned {
            for warning in row.warnings { out += "  \(row.filename): \(warning)\n" }
        }
    }
    if !modules.unloadedModules.isEmpty {
        out += "\nUnloaded modules\n"
        out += textTable(
            header: ["base", "end", "name"], rows: modules.unloadedModules.map { [$0.baseAddr, $0.endAddr, $0.codeFile] })
    }
    return out
}

/// The text form of a module table.
func renderModuleTable(_ table: ModuleTable) -> String {
    var out = "Modules of \(table.dump)" + (table.cpuArch.map { " (\($0))" } ?? "") + ": \(table.modules.count) loaded"
    out += ", \(table.unloadedModules.count) unloaded\n\n"
    if !table.modules.isEmpty {
        out += textTable(
            header: [
                "base", "end", "size", "timestamp", "date (UTC)", "checksum", "file version", "product version", "misc", "name",
            ],
            rows: table.modules.map {
                [
                    $0.baseAddr, $0.endAddr, $0.size, $0.timestamp, $0.timestampUTC, $0.checksum, $0.version ?? "-",
                    $0.productVersion ?? "-", $0.hasMiscRecord ? "yes" : "no", $0.codeFile,
                ]
            })
        out += "\n"
        out += textTable(
            header: ["name", "code id", "debug id", "cv", "pdb guid / signature", "age", "pdb"],
            rows: table.modules.map {
                [
                    $0.filename, $0.codeId, $0.debugId ?? "-", $0.codeview ?? "-", $0.pdbGuid ?? $0.pdbSignature ?? "-",
                    $0.pdbAge.map(String.init) ?? "-", $0.debugFilePath ?? "-",
                ]
            })
    }
    let warned = table.modules.filter { !$0.warnings.isEmpty }
    if !warned.isEmpty {
        out += "\nWarnings\n"
        for row in warned {
            for warning in row.warnings { out += "  \(row.filename): \(warning)\n" }
        }
    }
    if !table.unloadedModules.isEmpty {
        out += "\nUnloaded modules\n"
        out += textTable(
            header: ["base", "end", "size", "timestamp", "date (UTC)", "checksum", "code id", "name"],
            rows: table.unloadedModules.map {
                [$0.baseAddr, $0.endAddr, $0.size, $0.timestamp, $0.timestampUTC, $0.checksum, $0.codeId, $0.codeFile]
            })
    }
    return out
}
