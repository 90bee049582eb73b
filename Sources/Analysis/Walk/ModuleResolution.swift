import BinaryReading
import BreakpadSymbols
import Foundation
import Minidump
import PortableExecutable
import ProgramDatabase
import StackWalk
import SymbolClient
import SymbolStore
import Symbolication

/// Where analysis looks for a module's binary and symbols.
public struct SymbolLocations: Sendable {
    /// Symbol path entries (folders, stores, servers) searched for PDBs, Breakpad .sym files and binaries.
    public var symbolPath: SymbolPath
    /// Where binaries are searched by their recorded path and name (`--exe-path`, `_NT_EXECUTABLE_IMAGE_PATH`).
    public var executablePath: ExecutableSearchPath
    /// Timeouts, retries and the default downstream store for servers.
    public var fetch: FetchConfiguration

    public init(
        symbolPath: SymbolPath = SymbolPath(entries: []), executablePath: ExecutableSearchPath = ExecutableSearchPath(),
        fetch: FetchConfiguration = FetchConfiguration()
    ) {
        self.symbolPath = symbolPath
        self.executablePath = executablePath
        self.fetch = fetch
    }
}

/// The resources found for one module: symbols for names and lines, rules and an image for unwinding.
public struct ResolvedModule: Sendable {
    public var module: Module
    /// Names, lines and inlines: the PDB when found, else the .sym file, else the binary's exports.
    public var symbolizer: (any SymbolProvider)?
    /// The symbol file the symbolizer reads (a path), nil for exports or nothing.
    public var symbolFile: String?
    /// The binary used for unwind data and exports.
    public var binaryFile: String?
    /// Whether a symbol file was found but could not be read.
    public var corruptSymbols: Bool
    /// What the walker gets for this module.
    public var walkModule: WalkModule
    /// Problems met while looking (a symbol file that failed to parse, a server that failed).
    public var warnings: [String]

    public init(
        module: Module, symbolizer: (any SymbolProvider)?, symbolFile: String?, binaryFile: String?, corruptSymbols: Bool,
        walkModule: WalkModule, warnings: [String]
    ) {
        self.module = module
        self.symbolizer = symbolizer
        self.symbolFile = symbolFile
        self.binaryFile = binaryFile
        self.corruptSymbols = corruptSymbols
        self.walkModule = walkModule
        self.warnings = warnings
    }

    /// Whether the names come from real symbols (not exports).
    public var hasSymbols: Bool { symbolFile != nil }
}

/// Finds and loads the binaries and symbols of a dump's modules.
public enum ModuleResolver {
    /// Resolves every module, fetching keys along the symbol path in parallel and parsing files
    /// concurrently. `memory` supplies images for modules whose binary is not found.
    public static func resolve(
        modules: [Module], dumpPath: String, memory: any StackMemory, locations: SymbolLocations
    ) async -> [ResolvedModule] {
        let keys = modules.map { module in
            ModuleKeys(
                fileName: module.name, codeID: ModuleIdentity(module: module).codeID, debugFile: module.debugFile,
                debugID: module.codeView?.debugID)
        }
        var outcomes = [StoreKey: FetchOutcome]()
        if !locations.symbolPath.entries.isEmpty {
            let fetcher = SymbolFetcher(path: locations.symbolPath, configuration: locations.fetch)
            outcomes = await fetcher.fetchAll(keys.flatMap { [$0.pdb, $0.breakpad, $0.binary].compactMap { $0 } })
            await fetcher.shutdown()
        }
        return await withTaskGroup(of: (Int, ResolvedModule).self) { group in
            for (index, module) in modules.enumerated() {
                let moduleKeys = keys[index]
                let found = outcomes
                group.addTask {
                    (
                        index,
                        load(
                            module: module, keys: moduleKeys, outcomes: found, dumpPath: dumpPath, memory: memory,
                            locations: locations)
                    )
                }
            }
            var resolved = [ResolvedModule?](repeating: nil, count: modules.count)
            for await (index, module) in group { resolved[index] = module }
            return resolved.compactMap { $0 }
        }
    }

    static func load(
        module: Module, keys: ModuleKeys, outcomes: [StoreKey: FetchOutcome], dumpPath: String, memory: any StackMemory,
        locations: SymbolLocations
    ) -> ResolvedModule {
        var warnings = [String]()
        var corrupt = false
        func path(_ key: StoreKey?) -> String? {
            guard let key, let outcome = outcomes[key] else { return nil }
            if case .failed(let errors) = outcome { warnings += errors.map { "\(key.path): \($0)" } }
            return outcome.path
        }
        // Breakpad symbols carry CFI and STACK WIN; a PDB has better names, lines and inlines. A .sym is
        // read through its memory-mapped cache (built on first use), so a warm run parses no text.
        var breakpad: SymbolCache?
        let breakpadPath = path(keys.breakpad)
        if let breakpadPath {
            do {
                breakpad = try SymbolCache.cached(for: breakpadPath) { try SymbolFile(path: breakpadPath) }
            } catch {
                corrupt = true
                warnings.append("\(breakpadPath): \(error)")
            }
        }
        var symbolizer: (any SymbolProvider)? = breakpad
        var symbolFile = breakpad == nil ? nil : breakpadPath
        var pdbRules: (any ModuleUnwindRules)?
        if let pdbPath = path(keys.pdb) {
            do {
                let pdb = try PDBFile(path: pdbPath)
                let index = try PDBAddressIndex(pdb)
                symbolizer = PDBSymbolProvider(pdb: pdb, index: index)
                symbolFile = pdbPath
                // FPO and FrameData matter to x86 walks only; other PDBs leave unwinding to the image.
                if let rules = try? PDBUnwindRules(pdb: pdb, index: index), !rules.stackWinRecords.isEmpty {
                    pdbRules = rules
                }
            } catch {
                corrupt = true
                warnings.append("\(pdbPath): \(error)")
            }
        }
        // The binary: from the symbol path's stores, else along the executable search path.
        var binaryPath = path(keys.binary)
        if binaryPath == nil, !locations.executablePath.entries.isEmpty || !locations.executablePath.mappings.isEmpty {
            binaryPath =
                ModuleLocator.locate(
                    module: module, dumpPath: dumpPath, searchPath: locations.executablePath, policy: .windbg
                ).path
        }
        var image: (any ModuleImage) = CapturedImage(memory: memory, base: module.baseOfImage)
        var binary: PEImage?
        if let binaryPath {
            do {
                let pe = try PEImage(path: binaryPath)
                binary = pe
                image = MappedPEImage(pe)
            } catch {
                warnings.append("\(binaryPath): \(error)")
            }
        }
        if symbolizer == nil, let binary, let exports = ExportSymbols(image: binary) {
            symbolizer = exports
        }
        let walkModule = WalkModule(
            base: module.baseOfImage, size: UInt64(module.sizeOfImage), name: module.fileName,
            rules: breakpad.map(CachedUnwindRules.init) ?? pdbRules, image: image)
        return ResolvedModule(
            module: module, symbolizer: symbolizer, symbolFile: symbolFile, binaryFile: binary == nil ? nil : binaryPath,
            corruptSymbols: corrupt && symbolFile == nil, walkModule: walkModule, warnings: warnings)
    }
}

/// Names from a binary's export table: the last resort for modules without symbols.
struct ExportSymbols: SymbolProvider {
    let debugID: String? = nil
    /// Exported function starts, sorted by RVA.
    let entries: [(rva: UInt64, name: String)]

    init?(image: PEImage) {
        guard let directory = try? image.exports() else { return nil }
        var entries = [(rva: UInt64, name: String)]()
        for function in directory.functions where function.forwarder == nil {
            guard let name = function.names.first else { continue }
            entries.append((UInt64(function.rva), name))
        }
        guard !entries.isEmpty else { return nil }
        self.entries = entries.sorted { $0.rva < $1.rva }
    }

    func frames(at rva: UInt64) -> [SymbolizedFrame] {
        guard let index = lastIndex(in: entries, atMost: rva, key: \.rva) else { return [] }
        let entry = entries[index]
        return [SymbolizedFrame(function: entry.name, functionOffset: rva - entry.rva, file: nil, line: nil, inlined: false)]
    }
}

/// A symbol cache's CFI and STACK WIN rows as the walker reads them.
struct CachedUnwindRules: ModuleUnwindRules, X86ParameterSizes {
    let cache: SymbolCache

    func cfi(at rva: UInt64) -> CFIRecord? { cache.cfiRecord(at: rva) }
    func stackWin(at rva: UInt64) -> StackWinRecord? { cache.stackWinRecord(at: rva) }
    func hasFunction(at rva: UInt64) -> Bool? { cache.hasSymbol(at: rva) }
    /// The STACK WIN record's parameter size (the cache keeps no FUNC parameter sizes).
    func parameterSize(at rva: UInt64) -> UInt64? { cache.stackWinRecord(at: rva)?.parameterSize }
}
