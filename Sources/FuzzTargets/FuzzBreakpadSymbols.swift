import BinaryReading
import BreakpadSymbols

/// Parses the bytes as a Breakpad .sym file, looks up a few addresses and writes it back.
@Sendable public func fuzzBreakpadSymbols(_ bytes: ByteView) {
    guard let file = try? SymbolFile(parsing: bytes) else { return }
    for function in file.functions.prefix(32) {
        _ = file.lookup(function.address)
        _ = file.lookup(function.address &+ function.size / 2)
        _ = file.stackWin(at: function.address)
        _ = file.cfi(at: function.address)
    }
    _ = file.lookup(0)
    _ = file.lookup(UInt64.max)
    _ = file.text()
}
