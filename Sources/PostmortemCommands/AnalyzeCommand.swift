import Analysis
import ArgumentParser
import CrashService
import Foundation
import KernelDump
import StackWalk
import SymbolClient
import SymbolHTTP
import SymbolStore

extension ThreadSelection: ExpressibleByArgument {}

/// `postmortem analyze DUMP`: the crash explained, with every thread's symbolized stack.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Explain a crash: the crash reason, every thread's stack walked and symbolized, the modules and their symbols.",
        discussion: """
            Binaries and symbols are looked up by the identity the dump records: PDBs and Breakpad .sym files along \
            the symbol path (folders, symbol stores, srv*cache*URL servers), binaries there and along the executable \
            path, whose Windows unwind data is used to walk x64 and ARM64 stacks. Without them the walk falls back to \
            frame pointers and stack scanning, and each frame says how it was found.
            Output reads like minidump_stackwalk's; --json prints the minidump-stackwalk JSON schema plus the \
            signature and WER bucket (docs/json-schema.md).
            Exit status: 0 ok, 1 the dump cannot be read, 2 usage error.
            """
    )

    @Argument(help: "The minidump, full user-mode dump (USERDUMP/USERDU64) or Windows kernel dump (PAGEDUMP/PAGEDU64).")
    var dump: String

    @Option(
        name: .customLong("symbol-path"),
        help: "Where symbols are: folders, stores and srv*CACHE*URL servers, ';'-separated (also _NT_SYMBOL_PATH).")
    var symbolPath: String?

    @OptionGroup var paths: ExecutablePathOptions

    @Option(help: "Walk only the crashing thread, or all threads.")
    var threads: ThreadSelection = .all

    @Flag(help: "Print JSON (the minidump-stackwalk schema; see docs/json-schema.md).")
    var json = false

    @Option(help: "Rescue modules whose binaries are missing into this folder first, and analyze with the rescued images.")
    var rescue: String?

    @Option(help: "Seconds to wait for a symbol server before retrying.")
    var timeout: Int = 30

    func validate() throws {
        do {
            _ = try symbols()
        } catch let error as SymbolPath.Malformed {
            throw ValidationError(error.description)
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func symbols() throws -> SymbolPath {
        try symbolPath.map { try SymbolPath(parsing: $0) }
            ?? SymbolPath.symbolPath(environment: ProcessInfo.processInfo.environment)
    }

    func run() throws {
        var searchPath = paths.searchPath
        if let rescue {
            let report: RescueReport
            if let userDump = try? UserDumpFile(path: dump) {
                report = ModuleRescue.rescue(
                    userDump: userDump, path: dump, outputFolder: rescue, all: false, layout: .flat, searchPath: searchPath)
            } else {
                report = ModuleRescue.rescue(
                    minidump: try openMinidump(dump), path: dump, outputFolder: rescue, all: false, layout: .flat,
                    searchPath: searchPath)
            }
            for error in report.errors { printError("postmortem: \(dump): rescue: \(error)") }
            // Rescued images are searched after the real ones, so a real binary still wins.
            searchPath.entries.append(.folder(rescue))
        }
        // `s3://` stores on the path are read with the environment's credentials (as the service's child
        // analyses do); without credentials they are unreachable servers like any other.
        var fetch = FetchConfiguration().withHTTP().withS3Symbols(environment: ProcessInfo.processInfo.environment)
        fetch.readTimeout = .seconds(timeout)
        fetch.progress = FetchConfiguration.standardErrorIfTerminal
        let options = AnalysisOptions(
            locations: SymbolLocations(symbolPath: try symbols(), executablePath: searchPath, fetch: fetch), threads: threads)
        let path = dump
        let outcome = blockingWait { () -> Result<ProcessedCrash, AnalysisError> in
            do throws(AnalysisError) {
                return .success(try await CrashAnalyzer.analyze(path: path, options: options))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let crash):
            write(json ? try jsonText(crash) : renderCrash(crash))
        case .failure(let error):
            printError("postmortem: \(error)")
            throw ExitStatus.malformedInput
        }
    }
}
