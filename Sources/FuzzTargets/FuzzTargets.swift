import BinaryReading

/// Entry points that feed arbitrary bytes to a parser; used by libFuzzer and by corpus replays.
///
/// Each target must return normally for every input: errors are expected, traps are bugs.
public enum FuzzTargets {
    /// The targets by name, as `postmortem-fuzz` and `POSTMORTEM_FUZZ_TARGET` spell them.
    public static let all: [String: @Sendable (ByteView) -> Void] = [
        "minidump": fuzzMinidump,
        "pe": fuzzPortableExecutable,
        "kerneldump": fuzzKernelDump,
        "pdb": fuzzProgramDatabase,
        "sym": fuzzBreakpadSymbols,
        "cab": fuzzCabinet,
        "symbol-path": fuzzSymbolPath,
        "analyze": fuzzAnalyze,
        "microdump": fuzzMicrodump,
    ]
}
