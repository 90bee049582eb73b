import AsyncHTTPClient
import Foundation
import SymbolStore

/// Finds files along a symbol path: local folders and stores first, in path order, then
/// HTTP(S) symbol servers, whose files land in the downstream stores of their cascade.
///
/// Requests for the same key made while one is under way share its result. Call
/// `shutdown()` when done: the fetcher owns an HTTP client.
public actor SymbolFetcher {
    /// The path searched.
    public nonisolated let path: SymbolPath
    /// Timeouts, retries, limits and progress.
    public nonisolated let configuration: FetchConfiguration

    private let client: LazyHTTPClient
    private let search: PathSearch
    private var inFlight: [StoreKey: Task<FetchOutcome, Never>] = [:]
    private var isShutDown = false

    /// A fetcher for `path`.
    public init(path: SymbolPath, configuration: FetchConfiguration = FetchConfiguration()) {
        self.path = path
        self.configuration = configuration
        var http = HTTPClient.Configuration()
        http.timeout = .init(
            connect: HTTPDownloader.timeAmount(configuration.connectTimeout),
            read: HTTPDownloader.timeAmount(configuration.readTimeout))
        http.redirectConfiguration = .follow(max: 5, allowCycles: false)
        // Made on the first download: a path of local folders (the common offline case) never
        // starts the HTTP machinery.
        client = LazyHTTPClient(configuration: http)
        let downloader = HTTPDownloader(
            client: client, configuration: configuration, limiter: DownloadLimiter(limit: configuration.parallelDownloads))
        search = PathSearch(path: path, configuration: configuration, downloader: downloader)
    }

    /// Finds the file of `key`.
    public func fetch(_ key: StoreKey) async -> FetchOutcome {
        if let running = inFlight[key] { return await running.value }
        let search = self.search
        let task = Task { await search.fetch(key) }
        inFlight[key] = task
        let outcome = await task.value
        inFlight[key] = nil
        return outcome
    }

    /// Finds the files of `keys`, several at a time (downloads are limited by the configuration).
    public func fetchAll(_ keys: [StoreKey]) async -> [StoreKey: FetchOutcome] {
        await withTaskGroup(of: (StoreKey, FetchOutcome).self) { group in
            for key in Set(keys) {
                group.addTask { (key, await self.fetch(key)) }
            }
            var outcomes = [StoreKey: FetchOutcome]()
            for await (key, outcome) in group { outcomes[key] = outcome }
            return outcomes
        }
    }

    /// Closes the HTTP client; the fetcher cannot download afterwards.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        await client.shutdownIfCreated()
    }
}

/// An HTTP client created on first use and shut down only if it was.
final class LazyHTTPClient: @unchecked Sendable {
    private let configuration: HTTPClient.Configuration
    private let lock = NSLock()
    private var client: HTTPClient?

    init(configuration: HTTPClient.Configuration) { self.configuration = configuration }

    /// The client, created now if no download has needed it before.
    var instance: HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        if let client { return client }
        let created = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        client = created
        return created
    }

    func shutdownIfCreated() async {
        try? await lock.withLock { client }?.shutdown()
    }
}
