import Foundation
import SymbolClient
import SymbolHTTP
import SymbolStore

/// Where a caching proxy gets what its stores lack (`serve-symbols --upstream`).
public struct UpstreamConfiguration: Sendable {
    /// The upstream symbol path, e.g. `srv*CACHE*https://host/symbols`, or a folder.
    public var path: SymbolPath
    /// The store that files fetched upstream land in and are served from.
    public var cache: String
    /// Timeouts, retries and limits of the upstream requests, and how long a miss is remembered.
    public var fetch: FetchConfiguration

    /// Why an upstream configuration cannot be used.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// A proxy of `path`, caching in `cache` or else in the path's first downstream store
    /// (`cache*DIR`, or the first folder of a `srv*DIR*…` cascade).
    public init(path: SymbolPath, cache: String? = nil, fetch: FetchConfiguration = FetchConfiguration(progress: nil))
        throws(Invalid)
    {
        guard !path.entries.isEmpty else { throw Invalid(description: "the upstream symbol path is empty") }
        guard let folder = cache ?? Self.firstCache(of: path, defaultDownstream: fetch.defaultDownstream) else {
            throw Invalid(
                description: "the upstream path \"\(path.text)\" has no downstream store: give --cache DIR or use srv*DIR*…")
        }
        self.path = path
        self.cache = folder
        // A proxy exists to download: without a transport given, it uses HTTP.
        var fetch = fetch
        if fetch.transport == nil { fetch.transport = HTTPSymbolTransport.factory }
        self.fetch = fetch
    }

    /// The first store the path writes downloads to, or nil when it only names folders.
    static func firstCache(of path: SymbolPath, defaultDownstream: String) -> String? {
        for entry in path.entries {
            switch entry {
            case .folder:
                continue
            case .cache(let folder):
                return folder ?? defaultDownstream
            case .server(let server):
                switch server.downstream.first {
                case .directory(let folder): return folder
                case .defaultDownstream, .url: return defaultDownstream
                case nil: continue
                }
            }
        }
        return nil
    }

    /// The local folders of the search path: where a hit may come from other than a server.
    var localSources: Set<String> {
        var folders: Set<String> = [cache]
        for entry in path.entries {
            switch entry {
            case .folder(let folder): folders.insert(folder)
            case .cache(let folder): folders.insert(folder ?? fetch.defaultDownstream)
            case .server(let server):
                for location in server.downstream + [server.upstream] {
                    switch location {
                    case .directory(let folder): folders.insert(folder)
                    case .defaultDownstream: folders.insert(fetch.defaultDownstream)
                    case .url: break
                    }
                }
            }
        }
        return folders
    }

    /// The path the fetcher searches: the cache first, so that every hit, from a plain folder
    /// too, is copied into the store the server answers from.
    var searchPath: SymbolPath {
        SymbolPath(entries: [.cache(cache)] + path.entries)
    }
}

/// Fetches files the served stores lack through a `SymbolFetcher` and serves them from the cache store.
///
/// The fetcher does the rest: requests for one key made while it is being fetched share one
/// upstream search, and misses are remembered in the cache (`.misses/`) for
/// `FetchConfiguration.negativeCacheLifetime`.
struct UpstreamProxy: Sendable {
    let cache: ServedStore
    let localSources: Set<String>
    private let owner: FetcherOwner

    init(configuration: UpstreamConfiguration) {
        cache = ServedStore(root: configuration.cache)
        localSources = configuration.localSources
        owner = FetcherOwner(SymbolFetcher(path: configuration.searchPath, configuration: configuration.fetch))
    }

    /// What an upstream search came to.
    enum Result: Equatable {
        case file(ServedFile)
        case missing
        /// Upstream could not be asked or answered badly (502).
        case failed(String)
    }

    /// Fetches the file a request names; only the plain file of a key is fetched.
    func file(for target: RequestPath.Target) async -> Result {
        let key: StoreKey
        switch target {
        case .none:
            return .missing
        case .symsrv(let fileName, let index, let storedName):
            // SymSrv clients ask for the plain file first, and the fetcher tries the `_` and
            // `file.ptr` forms upstream itself; the cache holds expanded files only, so a request
            // for a variant that the local stores lack has nothing to be answered with.
            if Self.isVariant(fileName: fileName, storedName: storedName) { return .missing }
            key = StoreKey(fileName: fileName, index: index, storedName: storedName)
        case .debuginfod(let buildID, let artifact):
            // An executable's store folder is named after its file, which a build id does not tell.
            guard artifact == "debuginfo", Self.isBuildID(buildID) else { return .missing }
            key = StoreKey(fileName: "_.debug", index: "elf-buildid-sym-\(buildID)", storedName: "_.debug")
        }
        switch await owner.fetcher.fetch(key) {
        case .found(_, let source):
            // Served through the cache's containment checks, never from the path the fetcher
            // reports, which may be a folder outside every store.
            guard let file = cache.file(for: key) else { return .missing }
            guard isAllowed(source) else {
                // A server's `file.ptr` naming a local path would make the proxy hand out any
                // file it can read; the copy already made is dropped so it is never served.
                unlink(file.path)
                return .failed("\(key): upstream pointed to the local file \(source), which is not served")
            }
            return .file(file)
        case .missing, .message:
            return .missing
        case .failed(let errors):
            return .failed(errors.joined(separator: "; "))
        }
    }

    /// Whether a hit from `source` may be served: a download, or a folder the upstream path names.
    func isAllowed(_ source: String) -> Bool {
        let lower = source.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://") || localSources.contains(source)
    }

    /// Whether `storedName` is the compressed (`foo.pd_`) or pointer (`file.ptr`) form of a key.
    static func isVariant(fileName: String, storedName: String) -> Bool {
        let stored = storedName.lowercased()
        if stored == "file.ptr" { return true }
        return stored.hasSuffix("_") && !fileName.hasSuffix("_")
    }

    static func isBuildID(_ text: String) -> Bool {
        text.count >= 2 && text.count <= 128 && text.count % 2 == 0 && text.allSatisfy { $0.isHexDigit && $0.isASCII }
    }
}

/// Keeps the fetcher and shuts its HTTP client down when the server lets go of it: the client
/// must be shut down before it is released, and the router has no shutdown hook of its own.
private final class FetcherOwner: Sendable {
    let fetcher: SymbolFetcher

    init(_ fetcher: SymbolFetcher) {
        self.fetcher = fetcher
    }

    deinit {
        let fetcher = self.fetcher
        Task { await fetcher.shutdown() }
    }
}
