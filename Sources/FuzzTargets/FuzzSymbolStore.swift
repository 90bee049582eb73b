import BinaryReading
import SymbolStore

/// Expands the bytes as a CAB archive and as a ZIP archive (symbol uploads; at most 16 files of at
/// most 16 MiB each), and parses them as a `file.ptr` and a `refs.ptr`.
@Sendable public func fuzzCabinet(_ bytes: ByteView) {
    if let cabinet = try? Cabinet(bytes: bytes) {
        for index in cabinet.files.indices.prefix(16) {
            _ = try? cabinet.extract(fileAt: index, limit: 16 << 20)
        }
    }
    if let archive = try? ZipArchive(bytes: bytes) {
        for entry in archive.entries.prefix(16) where entry.uncompressedSize <= 16 << 20 {
            _ = try? archive.contents(of: entry)
        }
    }
    let text = bytes.prefix(65536).utf8String
    _ = try? FilePointer(parsing: text)
    _ = try? StoreReference.parse(text)
    _ = try? TransactionRecord.parseAll(text)
    _ = try? TransactionEntry.parseAll(text)
}

/// Parses the bytes (as UTF-8) as an `_NT_SYMBOL_PATH` value.
@Sendable public func fuzzSymbolPath(_ bytes: ByteView) {
    let text = bytes.prefix(65536).utf8String
    if let path = try? SymbolPath(parsing: text) {
        // The canonical spelling must parse back to the same entries.
        let again = try? SymbolPath(parsing: path.text)
        precondition(again?.text == path.text, "symbol path does not round-trip: \(path.text)")
    }
    _ = DebuginfodURLs(parsing: text)
}
