import Analysis
import ArgumentParser
import Foundation
import Minidump
import PortableExecutable
import SymbolClient
import SymbolHTTP
import SymbolStore

/// `postmortem fetch DUMP`: fetch every module's binary and symbols along the symbol path.
struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch each module's binary and symbols (PDB, Breakpad .sym) from folders, stores and symbol servers.",
        discussion: """
            Binaries are looked up along --exe-path (or _NT_EXECUTABLE_IMAGE_PATH), then the symbol path; symbols \
            along --symbol-path (or _NT_ALT_SYMBOL_PATH and _NT_SYMBOL_PATH). Local folders and stores are searched \
            first, in path order, then servers; downloads land in the downstream stores of each srv* entry. A \
            binary found is checked against the dump with the windbg policy (name, SizeOfImage, TimeDateStamp, \
            CheckSum). Progress goes to stderr when it is a terminal.
            Exit status: 0 every module's binary and symbols were found, 3 some were not, 1 malformed input, \
            2 usage error.
            """
    )

    @Argument(help: "The minidump file.")
    var dump: String

    @Option(
        name: .customLong("symbol-path"),
        help: "Where symbols are, as in WinDbg: 'srv*CACHE*https://server;FOLDER' (also _NT_SYMBOL_PATH).")
    var symbolPath: String?

    @Option(
        name: .customLong("exe-path"),
        help: "Where binaries are, same syntax (also _NT_EXECUTABLE_IMAGE_PATH); the symbol path is searched after it.")
    var exePath: String?

    @Option(help: "Seconds to wait for a server before retrying.")
    var timeout: Int = 30

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        do {
            _ = try paths()
        } catch let error as SymbolPath.Malformed {
            throw ValidationError(error.description)
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    /// The symbol path and the image path (image entries, then the symbol path).
    func paths() throws -> (symbols: SymbolPath, images: SymbolPath) {
        let environment = ProcessInfo.processInfo.environment
        let symbols = try symbolPath.map { try SymbolPath(parsing: $0) } ?? SymbolPath.symbolPath(environment: environment)
        let images = try exePath.map { try SymbolPath(parsing: $0) } ?? SymbolPath.executableImagePath(environment: environment)
        return (symbols, SymbolPath(entries: images.entries + symbols.entries))
    }

    func run() throws {
        let minidump = try openMinidump(dump)
        let modules: [Module]
        do {
            modules = try minidump.stream(ModuleList.self)?.modules ?? []
        } catch {
            printError("postmortem: \(dump): ModuleListStream: \(error)")
            throw ExitStatus.malformedInput
        }
        let (symbols, images) = try paths()
        var configuration = FetchConfiguration().withHTTP()
        configuration.readTimeout = .seconds(timeout)
        let settings = configuration
        let report = blockingWait {
            await FetchReport.fetch(modules: modules, dump: dump, symbols: symbols, images: images, configuration: settings)
        }
        write(json ? try jsonText(report) : report.text)
        if !report.allFound { throw ExitStatus.someModulesUnmatched }
    }
}

/// The result of `postmortem fetch`: per module, where its binary and symbols are.
struct FetchReport: Codable, Sendable {
    /// One file of a module.
    struct FileResult: Codable, Sendable {
        /// `found`, `missing`, `mismatched`, `message` (a `file.ptr` message), `failed` (server errors), `no key`.
        var status: String
        /// The store key asked for.
        var key: String?
        /// The local file (in a cache or a searched folder).
        var path: String?
        /// Where it came from, the pointer's message, the errors, or the mismatching fields.
        var detail: [String]
    }

    struct ModuleResult: Codable, Sendable {
        var filename: String
        var codeID: String
        var debugFile: String?
        var debugID: String?
        var binary: FileResult
        var pdb: FileResult
        var breakpad: FileResult

        enum CodingKeys: String, CodingKey {
            case filename, binary, pdb, breakpad
            case codeID = "code_id"
            case debugFile = "debug_file"
            case debugID = "debug_id"
        }

        /// A binary that matches, and a PDB or a .sym.
        var complete: Bool {
            binary.status == "found" && (pdb.status == "found" || breakpad.status == "found")
        }
    }

    var dump: String
    var modules: [ModuleResult]

    var allFound: Bool { modules.allSatisfy(\.complete) }

    static func fetch(
        modules: [Module], dump: String, symbols: SymbolPath, images: SymbolPath, configuration: FetchConfiguration
    ) async -> FetchReport {
        let symbolFetcher = SymbolFetcher(path: symbols, configuration: configuration)
        let imageFetcher = SymbolFetcher(path: images, configuration: configuration)
        let keys = modules.map {
            ModuleKeys(fileName: $0.fileName, codeID: $0.codeID, debugFile: $0.debugFile, debugID: $0.debugID)
        }
        async let binaries = imageFetcher.fetchAll(keys.compactMap(\.binary))
        async let symbolFiles = symbolFetcher.fetchAll(keys.flatMap { [$0.pdb, $0.breakpad].compactMap { $0 } })
        let (binaryOutcomes, symbolOutcomes) = await (binaries, symbolFiles)
        await symbolFetcher.shutdown()
        await imageFetcher.shutdown()
        let results = zip(modules, keys).map { module, key in
            ModuleResult(
                filename: module.fileName, codeID: module.codeID, debugFile: module.debugFile, debugID: module.debugID,
                binary: binaryResult(module, key: key.binary, outcome: key.binary.flatMap { binaryOutcomes[$0] }),
                pdb: result(key.pdb, key.pdb.flatMap { symbolOutcomes[$0] }),
                breakpad: result(key.breakpad, key.breakpad.flatMap { symbolOutcomes[$0] }))
        }
        return FetchReport(dump: dump, modules: results)
    }

    static func result(_ key: StoreKey?, _ outcome: FetchOutcome?) -> FileResult {
        guard let key, let outcome else { return FileResult(status: "no key", key: nil, path: nil, detail: []) }
        switch outcome {
        case .found(let path, let source):
            return FileResult(status: "found", key: key.path, path: path, detail: [source])
        case .message(let text):
            return FileResult(status: "message", key: key.path, path: nil, detail: [text])
        case .missing:
            return FileResult(status: "missing", key: key.path, path: nil, detail: [])
        case .failed(let errors):
            return FileResult(status: "failed", key: key.path, path: nil, detail: errors)
        }
    }

    /// A binary found is judged against the dump's record (windbg policy).
    static func binaryResult(_ module: Module, key: StoreKey?, outcome: FetchOutcome?) -> FileResult {
        var result = result(key, outcome)
        guard let path = result.path else { return result }
        do {
            let found = ModuleIdentity(image: try PEImage(path: path), name: module.fileName)
            let differences = ModuleIdentity(module: module).differences(from: found, policy: .windbg)
            if !differences.isEmpty {
                result.status = "mismatched"
                result.detail = differences.map(\.description)
            }
        } catch {
            result.status = "mismatched"
            result.detail = ["not a readable PE image: \(error)"]
        }
        return result
    }

    /// One row per module, then the details of what was not found.
    var text: String {
        let complete = modules.filter(\.complete).count
        var out = "Modules of \(dump): \(complete) of \(modules.count) have their binary and symbols\n\n"
        func cell(_ file: FileResult) -> String { file.status == "found" ? (file.path ?? "") : file.status }
        out += textTable(
            header: ["module", "binary", "pdb", "sym"],
            rows: modules.map { [$0.filename, cell($0.binary), cell($0.pdb), cell($0.breakpad)] })
        var notes = [String]()
        for module in modules {
            for (kind, file) in [("binary", module.binary), ("pdb", module.pdb), ("sym", module.breakpad)]
            where file.status != "found" && file.status != "missing" && file.status != "no key" {
                notes.append("  \(module.filename) \(kind) \(file.status): " + file.detail.joined(separator: "; "))
            }
        }
        if !notes.isEmpty { out += "\nProblems\n" + notes.joined(separator: "\n") + "\n" }
        return out
    }
}

/// Runs async work from a synchronous command and waits for it (the root command is synchronous).
func blockingWait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = BlockingResult<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

/// The value a detached task hands to a waiting thread (written once, read after the semaphore).
final class BlockingResult<T>: @unchecked Sendable {
    var value: T?
}
