import Analysis
import ArgumentParser
import Foundation
import KernelDump
import Minidump

/// Options that say where module binaries are, shared by `match`, `rescue` and later `analyze`.
struct ExecutablePathOptions: ParsableArguments {
    @Option(
        name: .customLong("exe-path"),
        help: "Folders to search for module binaries, ';'-separated as in WinDbg (also _NT_EXECUTABLE_IMAGE_PATH).")
    var exePath: String?

    @Option(
        name: .customLong("map-path"),
        help: ArgumentHelp(
            "Map a recorded Windows path prefix to a local folder, e.g. 'Z:\\=/' for Wine dumps (repeatable).",
            valueName: "PREFIX=FOLDER"))
    var mapPath: [String] = []

    func validate() throws {
        for mapping in mapPath where ExecutableSearchPath.PrefixMapping(argument: mapping) == nil {
            throw ValidationError("--map-path takes PREFIX=FOLDER, e.g. 'C:\\=/mnt/c' (got '\(mapping)')")
        }
    }

    var searchPath: ExecutableSearchPath {
        ExecutableSearchPath.from(
            exePath: exePath, environment: ProcessInfo.processInfo.environment,
            mappings: mapPath.compactMap(ExecutableSearchPath.PrefixMapping.init(argument:)))
    }
}

extension MatchPolicy: ExpressibleByArgument {}

/// `postmortem match DUMP`: find each module's binary and say whether it matches.
struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Find each module's binary on the module search path and check that it matches the dump.",
        discussion: """
            Searched in order: the dump's folder, <dump folder>/<module name>/, the module's recorded path mapped \
            with --map-path, the --exe-path folders, then _NT_EXECUTABLE_IMAGE_PATH. Policies: windbg compares \
            name, SizeOfImage, TimeDateStamp and CheckSum; vs compares name, SizeOfImage and TimeDateStamp; \
            strict also compares the CodeView GUID and age. File names compare case-insensitively.
            Exit status: 0 every module matched, 3 some did not, 1 malformed input, 2 usage error.
            """
    )

    @Argument(help: "The minidump file.")
    var dump: String

    @OptionGroup var paths: ExecutablePathOptions

    @Option(help: "Which fields must agree: windbg, vs or strict.")
    var policy: MatchPolicy = .windbg

    @Flag(help: "Print JSON (documented in docs/json-schema.md) instead of text.")
    var json = false

    func run() throws {
        let report =
            if let userDump = try? UserDumpFile(path: dump) {
                MatchReport(userDump: userDump, path: dump, searchPath: paths.searchPath, policy: policy)
            } else {
                MatchReport(minidump: try openMinidump(dump), path: dump, searchPath: paths.searchPath, policy: policy)
            }
        write(json ? try jsonText(report) : renderMatchReport(report))
        for error in report.errors { printError("postmortem: \(dump): \(error)") }
        if !report.errors.isEmpty { throw ExitStatus.malformedInput }
        if !report.allMatched { throw ExitStatus.someModulesUnmatched }
    }
}

/// The text form of a match report: one row per module, then why the others did not match.
func renderMatchReport(_ report: MatchReport) -> String {
    let matched = report.modules.filter { $0.status == .matched }.count
    var out = "Modules of \(report.dump), policy \(report.policy.rawValue): \(matched) of \(report.modules.count) matched\n\n"
    out += textTable(
        header: ["base", "module", "code id", "status", "where"],
        rows: report.modules.map { module in
            let place: String
            switch module.status {
            case .matched: place = module.path ?? ""
            case .mismatched: place = module.rejected.map(\.path).joined(separator: ", ")
            case .missing: place = "not found (\(module.searched.count) places searched)"
            }
            return [module.baseAddr, module.filename, module.identity.codeID, module.status.rawValue, place]
        })
    let mismatched = report.modules.filter { $0.status == .mismatched }
    if !mismatched.isEmpty {
        out += "\nMismatches\n"
        for module in mismatched {
            for rejected in module.rejected {
                out += "  \(module.filename): \(rejected.path)\n"
                if let error = rejected.error { out += "    not a readable PE image: \(error)\n" }
                for difference in rejected.differences { out += "    \(difference)\n" }
            }
        }
    }
    if !report.deferredEntries.isEmpty {
        out += "\nNot searched (symbol-server entries): " + report.deferredEntries.joined(separator: "; ") + "\n"
    }
    return out
}
