import AsyncHTTPClient
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// GETs one URL into a temporary file of a cache, with retries and the size limit.
struct HTTPDownloader: Sendable {
    let client: LazyHTTPClient
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
                try await limiter.withSlot { try await fetchOnce(url, to: temporary) }
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

    private func fetchOnce(_ url: String, to temporary: String) async throws {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "postmortem-symbol-client")
        let response: HTTPClientResponse
        do {
            response = try await client.instance.execute(request, timeout: Self.timeAmount(configuration.requestTimeout))
        } catch {
            throw DownloadError.transport("\(url): \(error)")
        }
        let code = response.status.code
        switch code {
        case 200: break
        case 404, 410: throw DownloadError.notFound
        case 408, 429, 500...599: throw DownloadError.serverError(code, url)
        default: throw DownloadError.status(code, url)
        }
        let limit = configuration.maximumDownloadSize
        let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
        if let expected, expected > limit { throw DownloadError.tooLarge(expected, limit: limit) }
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporary)
        else {
            throw DownloadError.local("\(temporary): cannot create")
        }
        defer { try? handle.close() }
        var received: Int64 = 0
        configuration.progress?("downloading \(url)" + (expected.map { " (\($0) bytes)" } ?? ""))
        do {
            for try await buffer in response.body {
                received += Int64(buffer.readableBytes)
                if received > limit { throw DownloadError.tooLarge(received, limit: limit) }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
        } catch let error as DownloadError {
            throw error
        } catch {
            throw DownloadError.transport("\(url): \(error) after \(received) bytes")
        }
        // A connection closed early can end the body without an error: the length decides.
        if let expected, received != expected {
            throw DownloadError.transport("\(url): body cut short, \(received) of \(expected) bytes")
        }
        try handle.synchronize()
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
