/// A parsed `_NT_SYMBOL_PATH` (or `_NT_EXECUTABLE_IMAGE_PATH`) value: where to look, in order.
///
/// Grammar (Debugging Tools for Windows, "Symbol path for Windows debuggers"):
/// entries separated by `;`, empty ones ignored; `srv*<store>*…*<store>` (same as
/// `symsrv*symsrv.dll*…`) is a cascade of stores, the leftmost a downstream cache and the
/// last one the upstream (an empty store, as in `srv**https://…`, is the default
/// downstream store); `cache*<dir>` (or `cache*` for the default) caches the entries
/// after it; anything else is a folder searched as is.
public struct SymbolPath: Sendable, Hashable {
    /// A store in a cascade.
    public enum Location: Sendable, Hashable {
        /// The default downstream store (empty between two `*`), chosen by the client.
        case defaultDownstream
        /// A local folder or a UNC share.
        case directory(String)
        /// An HTTP(S) symbol server, or an `s3://bucket/prefix` store, which only a transport that
        /// knows object storage can read (the crash service's).
        case url(String)
    }

    /// A symbol server cascade: downstream caches from nearest to farthest, then the upstream.
    public struct Server: Sendable, Hashable {
        /// The SymSrv provider DLL named (`symsrv.dll` for `srv*`).
        public var provider: String
        /// Downstream stores, nearest first; files found upstream are copied into each.
        public var downstream: [Location]
        /// Where files come from when no downstream store has them.
        public var upstream: Location

        public init(provider: String = "symsrv.dll", downstream: [Location], upstream: Location) {
            self.provider = provider
            self.downstream = downstream
            self.upstream = upstream
        }
    }

    /// One `;`-separated entry.
    public enum Entry: Sendable, Hashable {
        /// A plain folder, searched but not cached.
        case folder(String)
        /// A symbol server cascade (`srv*…`, `symsrv*…`).
        case server(Server)
        /// `cache*<dir>`: later entries are cached there (`nil`: the default cache).
        case cache(String?)
    }

    /// A malformed entry, with the offset (UTF-8 bytes) of the entry in the text.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        /// UTF-8 offset of the entry's first byte in the parsed text.
        public var position: Int
        /// The entry as written.
        public var entry: String
        /// What is wrong.
        public var reason: String
        public var description: String { "symbol path entry \"\(entry)\" at \(position): \(reason)" }
    }

    /// The entries in search order.
    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// Parses a symbol path.
    ///
    /// The text is split on the ASCII bytes `;` and `*` of its UTF-8 form, never on
    /// grapheme clusters: a combining mark after `*` would otherwise glue the two into one
    /// character (found by fuzzing: `srv*\u{7AF}…`). Positions are UTF-8 byte offsets.
    public init(parsing text: String) throws(Malformed) {
        let bytes = Array(text.utf8)
        var entries = [Entry]()
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            let entry = Self.trimmed(bytes[start..<end])
            if !entry.isEmpty {
                entries.append(try Self.parseEntry(entry))
            }
            start = end + 1
        }
        self.entries = entries
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `bytes` start with `prefix` (ASCII, any case).
    static func hasPrefix(_ bytes: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        let wanted = Array(prefix.utf8)
        guard bytes.count >= wanted.count else { return false }
        return zip(bytes, wanted).allSatisfy { lowerASCII($0) == $1 }
    }

    static func lowerASCII(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    static func parseEntry(_ entry: ArraySlice<UInt8>) throws(Malformed) -> Entry {
        let star = UInt8(ascii: "*")
        func fail(_ reason: String) -> Malformed { Malformed(position: entry.startIndex, entry: string(entry), reason: reason) }
        if hasPrefix(entry, "srv*") {
            return .server(try parseCascade(entry.dropFirst(4), provider: "symsrv.dll", fail: fail))
        }
        if hasPrefix(entry, "symsrv*") {
            let rest = entry.dropFirst(7)
            guard let providerEnd = rest.firstIndex(of: star) else {
                throw fail("symsrv* needs a provider DLL and at least one store")
            }
            let provider = trimmed(rest[..<providerEnd])
            guard !provider.isEmpty else { throw fail("symsrv* names no provider DLL") }
            return .server(try parseCascade(rest[(providerEnd + 1)...], provider: string(provider), fail: fail))
        }
        if hasPrefix(entry, "cache*") {
            let directory = trimmed(entry.dropFirst(6))
            guard !directory.contains(star) else { throw fail("cache* takes one folder") }
            return .cache(directory.isEmpty ? nil : string(directory))
        }
        guard !entry.contains(star) else {
            throw fail("\"*\" outside srv*, symsrv* or cache* (file names cannot contain it)")
        }
        return .folder(string(entry))
    }

    static func parseCascade(
        _ text: ArraySlice<UInt8>, provider: String, fail: (String) -> Malformed
    ) throws(Malformed) -> Server {
        let parts = text.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false).map { trimmed($0) }
        guard let last = parts.last, !last.isEmpty else {
            throw fail("the last store of a symbol server cascade must not be empty")
        }
        let downstream = parts.dropLast().map { $0.isEmpty ? Location.defaultDownstream : location($0) }
        return Server(provider: provider, downstream: downstream, upstream: location(last))
    }

    static func location(_ bytes: ArraySlice<UInt8>) -> Location {
        hasPrefix(bytes, "http://") || hasPrefix(bytes, "https://") || hasPrefix(bytes, "s3://")
            ? .url(string(bytes)) : .directory(string(bytes))
    }

    /// The symbol path the debuggers build from the environment: `_NT_ALT_SYMBOL_PATH`
    /// first, then `_NT_SYMBOL_PATH` ("the symbol path is created by appending
    /// _NT_SYMBOL_PATH after _NT_ALT_SYMBOL_PATH", WinDbg's "Setting Symbol and Executable
    /// Image Paths"; dbghelp's `SymInitialize` documentation lists them the other way round,
    /// the debuggers' order is the one users rely on to override with private symbols).
    public static func symbolPath(environment: [String: String]) throws(Malformed) -> SymbolPath {
        var entries = [Entry]()
        for name in ["_NT_ALT_SYMBOL_PATH", "_NT_SYMBOL_PATH"] {
            if let value = environment[name] { entries += try SymbolPath(parsing: value).entries }
        }
        return SymbolPath(entries: entries)
    }

    /// The image path from `_NT_EXECUTABLE_IMAGE_PATH` (same grammar).
    public static func executableImagePath(environment: [String: String]) throws(Malformed) -> SymbolPath {
        try SymbolPath(parsing: environment["_NT_EXECUTABLE_IMAGE_PATH"] ?? "")
    }

    /// The text of the path, `;`-separated, in the canonical spelling (`srv*` for `symsrv.dll`
    /// spelled so; other providers, or other spellings, as `symsrv*<provider>*`).
    public var text: String {
        entries.map { entry in
            switch entry {
            case .folder(let folder): return folder
            case .cache(let directory): return "cache*" + (directory ?? "")
            case .server(let server):
                let prefix = server.provider == "symsrv.dll" ? "srv" : "symsrv*\(server.provider)"
                return ([prefix] + (server.downstream + [server.upstream]).map(\.text)).joined(separator: "*")
            }
        }.joined(separator: ";")
    }
}

extension SymbolPath.Location {
    /// The store as written in a symbol path.
    public var text: String {
        switch self {
        case .defaultDownstream: return ""
        case .directory(let path): return path
        case .url(let url): return url
        }
    }
}

/// The debuginfod servers of `DEBUGINFOD_URLS`: URLs separated by white space.
public struct DebuginfodURLs: Sendable, Hashable {
    /// Server base URLs in order.
    public var urls: [String]

    /// Parses the variable's value.
    public init(parsing text: String) {
        urls = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    /// From `DEBUGINFOD_URLS` in `environment` (empty when unset).
    public init(environment: [String: String]) {
        self.init(parsing: environment["DEBUGINFOD_URLS"] ?? "")
    }
}
