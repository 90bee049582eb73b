import Analysis
import ArgumentParser
import Foundation
import KernelDump
import Minidump

extension RescueLayout: ExpressibleByArgument {}

/// `postmortem rescue DUMP -o DIR`: stand-in images for modules whose binaries are lost.
struct RescueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescue",
        abstract: "Write stand-in PE images, rebuilt from the dump, for modules whose binaries cannot be found.",
        discussion: """
            Each image carries the module's file name, TimeDateStamp, SizeOfImage and CheckSum, a section table \
            covering SizeOfImage, a debug directory whose CodeView record is the dump's, byte for byte (so debuggers \
            then ask for the right PDB), the Misc record and a version resource; where the dump captured the module's \
            memory, those bytes are placed at their RVAs (and the real headers are used when they were captured). \
            Debuggers accept the images as matching under every policy of `postmortem match`.
            Module names come from the dump and are never allowed to write outside DIR.
            Exit status: 0 ok, 1 malformed input or a module could not be rescued, 2 usage error.
            """
    )

    @Argument(help: "The minidump, or a full user-mode dump (USERDUMP/USERDU64).")
    var dump: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "The folder to write the images into.")
    var output: String

    @Flag(help: "Rescue every module, even those whose binaries are found and match.")
    var all = false

    @Option(help: "flat: DIR/<name>; symstore: DIR/<name>/<TIMESTAMP><SIZE>/<name>.")
    var layout: RescueLayout = .flat

    @OptionGroup var paths: ExecutablePathOptions

    @Flag(help: "Print JSON (documented in docs/json-schema.md) instead of text.")
    var json = false

    func run() throws {
        let report: RescueReport
        if let userDump = try? UserDumpFile(path: dump) {
            report = ModuleRescue.rescue(
                userDump: userDump, path: dump, outputFolder: output, all: all, layout: layout, searchPath: paths.searchPath)
        } else {
            report = ModuleRescue.rescue(
                minidump: try openMinidump(dump), path: dump, outputFolder: output, all: all, layout: layout,
                searchPath: paths.searchPath)
        }
        write(json ? try jsonText(report) : renderRescueReport(report))
        for error in report.errors { printError("postmortem: \(dump): \(error)") }
        for module in report.modules where module.status == .failed {
            printError("postmortem: \(module.filename): \(module.error ?? "not rescued")")
        }
        if !report.succeeded { throw ExitStatus.malformedInput }
    }
}

/// The text form of a rescue report.
func renderRescueReport(_ report: RescueReport) -> String {
    let rescued = report.modules.filter { $0.status == .rescued }.count
    let skipped = report.modules.filter { $0.status == .skipped }.count
    var out = "Rescued \(rescued) of \(report.modules.count) modules of \(report.dump) into \(report.outputFolder)"
    out += skipped > 0 ? " (\(skipped) skipped: their binaries were found and match)\n\n" : "\n\n"
    out += textTable(
        header: ["base", "module", "status", "headers", "from memory", "path"],
        rows: report.modules.map { module in
            [
                module.baseAddr, module.filename, module.status.rawValue,
                module.status == .rescued ? (module.headersFromMemory ? "captured" : "rebuilt") : "-",
                module.status == .rescued ? "\(module.bytesFromMemory) bytes" : "-", module.path ?? module.error ?? "",
            ]
        })
    let rescuedRows = report.modules.filter { $0.status == .rescued }
    if !rescuedRows.isEmpty {
        out += "\nRebuilt from the module record\n"
        for module in rescuedRows {
            out += "  \(module.filename): " + module.rebuiltFromRecord.joined(separator: ", ") + "\n"
            for note in module.notes { out += "    \(note)\n" }
        }
    }
    return out
}
