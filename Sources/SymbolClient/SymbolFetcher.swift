import Foundation
import SymbolStore

/// Finds files along a symbol path: local folders and stores first, in path order, then
/// HTTP(S) symbol servers, whose files land in the downstream stores of their cascade.
///
/// Requests for the same key made while one is under way share its result. Servers are reached
/// through the transport the configuration makes (see `SymbolHTTP`); call `shutdown()` when done,
/// as the fetcher owns that transport.
public actor SymbolFetcher {
    /// The path searched.
    public nonisolated let path: SymbolPath
    /// Timeouts, retries, limits and progress.
    public nonisolated let configuration: FetchConfiguration

    private let transport: (any SymbolTransport)?
    private let search: PathSearch
    private var inFlight: [StoreKey: Task<FetchOutcome, Never>] = [:]
    private var isShutDown = false

    /// A fetcher for `path`.
    public init(path: SymbolPath, configuration: FetchConfiguration = FetchConfiguration()) {
        self.path = path
        self.configuration = configuration
        let transport = configuration.transport?(configuration)
        self.transport = transport
        let downloader = Downloader(
            transport: transport, configuration: configuration,
            limiter: DownloadLimiter(limit: configuration.parallelDownloads))
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

    /// Closes the transport; the fetcher cannot download afterwards.
    public func shutdown() async {
        guard !isShutDown else { return }
        isShutDown = true
        await transport?.shutdown()
    }
}
