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
        /// An HTTP(S) symbol server.
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

    /// A malformed entry, with the offset (in characters) of the entry in the text.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        /// Character offset of the entry's first character in the parsed text.
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
    public init(parsing text: String) throws(Malformed) {
        var entries = [Entry]()
        var position = 0
        for raw in text.split(separator: ";", omittingEmptySubsequences: false) {
            defer { position += raw.count + 1 }
            let leading = raw.prefix { $0 == " " || $0 == "\t" }.count
            let entry = raw.trimmingSpaces
            if entry.isEmpty { continue }
            entries.append(try Self.parseEntry(entry, position: position + leading))
        }
        self.entries = entries
    }

    static func parseEntry(_ entry: String, position: Int) throws(Malformed) -> Entry {
        let lower = entry.lowercased()
        func fail(_ reason: String) -> Malformed { Malformed(position: position, entry: entry, reason: reason) }
        if lower.hasPrefix("srv*") {
            return .server(try parseCascade(Substring(entry.dropFirst(4)), provider: "symsrv.dll", fail: fail))
        }
        if lower.hasPrefix("symsrv*") {
            let rest = entry.dropFirst(7)
            guard let star = rest.firstIndex(of: "*") else { throw fail("symsrv* needs a provider DLL and at least one store") }
            let provider = String(rest[..<star])
            guard !provider.isEmpty else { throw fail("symsrv* names no provider DLL") }
            return .server(try parseCascade(rest[rest.index(after: star)...], provider: provider, fail: fail))
        }
        if lower.hasPrefix("cache*") {
            let directory = String(entry.dropFirst(6))
            guard !directory.contains("*") else { throw fail("cache* takes one folder") }
            return .cache(directory.isEmpty ? nil : directory)
        }
        guard !entry.contains("*") else {
            throw fail("\"*\" outside srv*, symsrv* or cache* (file names cannot contain it)")
        }
        return .folder(entry)
    }

    static func parseCascade(_ text: Substring, provider: String, fail: (String) -> Malformed) throws(Malformed) -> Server {
        let parts = text.split(separator: "*", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard let last = parts.last, !last.isEmpty else {
            throw fail("the last store of a symbol server cascade must not be empty")
        }
        let downstream = parts.dropLast().map { $0.isEmpty ? Location.defaultDownstream : location($0) }
        return Server(provider: provider, downstream: downstream, upstream: location(last))
    }

    static func location(_ text: String) -> Location {
        let lower = text.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://") ? .url(text) : .directory(text)
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

    /// The text of the path, `;`-separated, in the canonical spelling (`srv*` for `symsrv.dll`).
    public var text: String {
        entries.map { entry in
            switch entry {
            case .folder(let folder): return folder
            case .cache(let directory): return "cache*" + (directory ?? "")
            case .server(let server):
                let prefix = server.provider.lowercased() == "symsrv.dll" ? "srv" : "symsrv*\(server.provider)"
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
