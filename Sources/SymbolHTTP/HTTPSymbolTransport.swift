import AsyncHTTPClient
import Foundation
import NIOCore
import SymbolClient

/// Symbol-server downloads over HTTP(S) with AsyncHTTPClient: the transport every networked
/// front end (the commands, the proxy, the crash service) gives its fetchers.
public final class HTTPSymbolTransport: SymbolTransport, @unchecked Sendable {
    // Sendable: the client is created and read under `lock`.
    private let configuration: HTTPClient.Configuration
    private let lock = NSLock()
    private var client: HTTPClient?

    /// A transport with the fetch configuration's timeouts; its HTTP client is made on the first download,
    /// so a path of local folders (the common offline case) never starts the HTTP machinery.
    public init(configuration fetch: FetchConfiguration) {
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: Self.timeAmount(fetch.connectTimeout), read: Self.timeAmount(fetch.readTimeout))
        http.redirectConfiguration = .follow(max: 5, allowCycles: false)
        configuration = http
    }

    /// The factory to put in `FetchConfiguration.transport`.
    public static let factory: @Sendable (FetchConfiguration) -> any SymbolTransport = {
        HTTPSymbolTransport(configuration: $0)
    }

    private var instance: HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        if let client { return client }
        let created = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        client = created
        return created
    }

    /// Shuts the HTTP client down if a download created it.
    public func shutdown() async {
        try? await lock.withLock { client }?.shutdown()
    }

    /// GETs `url` into `path`, checking the status, the size limit and that the body is whole.
    public func get(_ url: String, to path: String, configuration fetch: FetchConfiguration) async throws(TransportError) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "postmortem-symbol-client")
        let response: HTTPClientResponse
        do {
            response = try await instance.execute(request, timeout: Self.timeAmount(fetch.requestTimeout))
        } catch {
            throw .connection("\(url): \(error)")
        }
        let code = response.status.code
        switch code {
        case 200: break
        case 404, 410: throw .notFound
        case 408, 429, 500...599: throw .serverError(code, url)
        default: throw .status(code, url)
        }
        try await Self.save(response, of: url, to: path, configuration: fetch)
    }

    /// Writes the body of a 200 answer for `url` to `path`: no larger than
    /// `fetch.maximumDownloadSize`, as long as its Content-Length says, and synced to disk.
    public static func save(
        _ response: HTTPClientResponse, of url: String, to path: String, configuration fetch: FetchConfiguration
    ) async throws(TransportError) {
        let limit = fetch.maximumDownloadSize
        let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
        if let expected, expected > limit { throw .tooLarge(expected, limit: limit) }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path)
        else {
            throw .local("\(path): cannot create")
        }
        defer { try? handle.close() }
        var received: Int64 = 0
        fetch.progress?("downloading \(url)" + (expected.map { " (\($0) bytes)" } ?? ""))
        do {
            for try await buffer in response.body {
                received += Int64(buffer.readableBytes)
                if received > limit { throw TransportError.tooLarge(received, limit: limit) }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw .connection("\(url): \(error) after \(received) bytes")
        }
        // A connection closed early can end the body without an error: the length decides.
        if let expected, received != expected {
            throw .connection("\(url): body cut short, \(received) of \(expected) bytes")
        }
        do {
            try handle.synchronize()
        } catch {
            throw .local("\(path): \(error)")
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension FetchConfiguration {
    /// This configuration with HTTP(S) downloads enabled.
    public func withHTTP() -> FetchConfiguration {
        var copy = self
        copy.transport = HTTPSymbolTransport.factory
        return copy
    }
}
