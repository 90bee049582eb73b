/// One GET of a symbol-server URL into a file: the network half of the symbol client.
///
/// The HTTP implementation lives in the `SymbolHTTP` target, so the analysis library and the
/// fuzzers, which never download, are built without an HTTP and TLS stack. A fetcher whose
/// configuration names no transport reports every server on its path as unreachable.
public protocol SymbolTransport: Sendable {
    /// Downloads `url` into a new file at `path`, refusing bodies over `configuration.maximumDownloadSize`.
    func get(_ url: String, to path: String, configuration: FetchConfiguration) async throws(TransportError)
    /// Releases connections; called once, when the fetcher that made the transport shuts down.
    func shutdown() async
    /// Whether a miss on the server at `url` may be remembered in the negative cache.
    func remembersMisses(on url: String) -> Bool
}

extension SymbolTransport {
    /// Misses are remembered: a public symbol server's answer changes rarely, and asking again for
    /// every dump would cost a round trip per module.
    public func remembersMisses(on url: String) -> Bool { true }
}

/// Why a transport's GET failed, in the terms the fetcher's retry policy needs.
public enum TransportError: Error, Sendable {
    /// 404 or 410: the server does not have the file. Not retried.
    case notFound
    /// Another 4xx: retrying will not change it.
    case status(UInt, String)
    /// 5xx, 408 or 429: retried.
    case serverError(UInt, String)
    /// The connection failed, timed out or dropped, or the body was cut short: retried.
    case connection(String)
    /// The body is larger than allowed. Not retried.
    case tooLarge(Int64, limit: Int)
    /// The file could not be written. Not retried.
    case local(String)
}

extension DownloadError {
    init(_ error: TransportError) {
        switch error {
        case .notFound: self = .notFound
        case .status(let code, let url): self = .status(code, url)
        case .serverError(let code, let url): self = .serverError(code, url)
        case .connection(let message): self = .transport(message)
        case .tooLarge(let size, let limit): self = .tooLarge(size, limit: limit)
        case .local(let message): self = .local(message)
        }
    }
}
