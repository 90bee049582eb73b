import BinaryReading
import BreakpadSymbols

/// Parses the bytes as a Breakpad .sym file and looks up a few addresses.
@Sendable public func fuzzBreakpadSymbols(_ bytes: ByteView) {
}
