import BinaryReading
import SymbolStore

/// Expands the bytes as a CAB archive.
@Sendable public func fuzzCabinet(_ bytes: ByteView) {
}

/// Parses the bytes (as UTF-8) as an `_NT_SYMBOL_PATH` value.
@Sendable public func fuzzSymbolPath(_ bytes: ByteView) {
}
