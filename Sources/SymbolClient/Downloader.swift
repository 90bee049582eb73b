import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// GETs one URL into a temporary file of a cache through the transport, with retries and the size limit.
struct Downloader: Sendable {
    /// Nil in a build or configuration without networking.
    let transport: (any SymbolTransport)?
    let configuration: FetchConfiguration
    let limiter: DownloadLimiter

    /// Downloads `url` into a new temporary file of `store` and returns its path.
    ///
    /// Timeouts, connection errors, a body shorter than its Content-Length, 5xx, 408 and 429
    /// are retried with exponential backoff; 404 and 410 are not. The temporary file is
    /// removed whenever the download does not complete.
    func download(_ url: String, into store: CacheStore) async throws(DownloadError) -> String {
        var attempt = 1
        while true {
            let temporary = try store.temporaryPath()
            do {
                guard let transport else {
                    throw DownloadError.local("\(url): no HTTP transport is configured (FetchConfiguration.transport)")
                }
                try await limiter.withSlot {
                    do {
                        try await transport.get(url, to: temporary, configuration: configuration)
                    } catch let error as TransportError {
                        throw DownloadError(error)
                    }
                }
                return temporary
            } catch {
                unlink(temporary)
                let failure = error as? DownloadError ?? .transport("\(url): \(error)")
                guard failure.isRetryable, attempt < configuration.attempts, !Task.isCancelled else { throw failure }
                let wait = configuration.backoff(beforeRetry: attempt)
                configuration.progress?("retrying \(url) in \(wait) (\(failure))")
                try? await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }

    /// Downloads a small text (a `file.ptr`) into memory.
    func text(_ url: String, into store: CacheStore, limit: Int = 64 << 10) async throws(DownloadError) -> String {
        let temporary = try await download(url, into: store)
        defer { unlink(temporary) }
        guard let data = FileManager.default.contents(atPath: temporary), data.count <= limit else {
            throw .local("\(url): pointer file unreadable or larger than \(limit) bytes")
        }
        return String(decoding: data, as: UTF8.self)
    }

}
