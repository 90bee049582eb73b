import Analysis
import BinaryReading
import BreakpadSymbols
import Minidump
import StackWalk
import Symbolication

/// The fixed symbols every module gets while fuzzing `analyze`: the sample's test_app.sym when the
/// fuzzer runs from the repository root (its CFI and STACK WIN programs then run against arbitrary
/// registers and memory), else none.
private let fuzzSymbols: SymbolFile? = try? SymbolFile(
    path: "Tests/Fixtures/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym")

/// Analyzes the bytes as a minidump: every thread walked and symbolized with the fixed symbols.
@Sendable public func fuzzAnalyze(_ bytes: ByteView) {
    guard let dump = try? MinidumpFile(bytes: bytes) else { return }
    let contents = DumpContents(minidump: dump)
    let modules = contents.modules.prefix(256)
    let resolved = modules.map { module in
        ResolvedModule(
            module: module, symbolizer: fuzzSymbols.map { BreakpadSymbolProvider(file: $0) }, symbolFile: nil, binaryFile: nil,
            corruptSymbols: false,
            walkModule: WalkModule(
                base: module.baseOfImage, size: UInt64(module.sizeOfImage), name: module.fileName, rules: fuzzSymbols,
                image: CapturedImage(memory: contents.memory, base: module.baseOfImage)),
            warnings: [])
    }
    _ = CrashAnalyzer.process(
        contents: contents, resolved: Array(resolved),
        options: AnalysisOptions(limits: WalkLimits(maximumFrames: 256, maximumScanWords: 40, maximumInitialScanWords: 80)))
}
