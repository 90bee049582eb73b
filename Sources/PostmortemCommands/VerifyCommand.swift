import Analysis
import ArgumentParser

/// `postmortem verify DUMP...`: the checks a crash-dump test lab runs over each dump.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that dumps are complete and analyzable.",
        discussion: """
            For minidumps, kernel dumps of every type and full user-mode dumps: header and signature, \
            dump type, file size against what the header requires, every stream, run, bitmap or data \
            block inside the file without overlaps, the exception or bugcheck and the context, the \
            memory the analysis reads first (the crashing thread's stack), and the module list. With \
            --symbol-path, the key modules' binaries (ntoskrnl or ntdll, the main and the faulting \
            module) are looked for and matched; symbol-server entries are reported as not searched.
            Each check passes, warns or fails; a failed required check fails the dump.
            Exit status: 0 every required check passed for every dump, 1 some dump failed one, 2 usage error.
            """
    )

    @Argument(help: "The dump files.")
    var dumps: [String]

    @Option(help: "Folders to look for module binaries in, separated by ';' (srv* entries are not searched yet).")
    var symbolPath: String?

    @Flag(help: "Print JSON (one report per dump, as an array) instead of text.")
    var json = false

    func validate() throws {
        if dumps.isEmpty { throw ValidationError("Give at least one dump file.") }
    }

    func run() throws {
        let binaries = symbolPath.map { BinarySearch(symbolPath: $0) }
        let reports = dumps.map { DumpVerifier.verify(path: $0, binaries: binaries) }
        write(json ? try jsonText(reports) : reports.map(renderVerificationReport).joined(separator: "\n"))
        if reports.contains(where: { !$0.passed }) { throw ExitStatus.malformedInput }
    }
}

/// The text form of one dump's checklist.
func renderVerificationReport(_ report: VerificationReport) -> String {
    var out = "\(report.dump): \(report.kind)\n"
    for check in report.checks {
        let mark = check.status.rawValue.uppercased().padding(toLength: 4, withPad: " ", startingAt: 0)
        let optional = !check.required && check.status != .warn
        let name = (check.name + (optional ? " (optional)" : "")).padding(toLength: 28, withPad: " ", startingAt: 0)
        out += "  \(mark)  \(name) \(check.detail)\n"
    }
    let failed = report.checks.filter { $0.required && $0.status != .pass }.map(\.name)
    out += failed.isEmpty ? "  verified: every required check passed\n" : "  FAILED: \(failed.joined(separator: ", "))\n"
    return out
}
