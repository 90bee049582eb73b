import SymbolStore

/// What fetching one key came to.
public enum FetchOutcome: Sendable, Hashable {
    /// The file is at `path` (in a cache or a searched folder); `source` says where it came from
    /// (a folder, a store, or the URL it was downloaded from).
    case found(path: String, source: String)
    /// A store's `file.ptr` holds a message instead of a file (`MSG: text`).
    case message(String)
    /// No entry of the path has the file; `searched` lists where it was looked for.
    case missing(searched: [String])
    /// A server could not be asked or answered badly after every retry; `errors` says what happened.
    case failed(errors: [String])

    /// The file's path when it was found.
    public var path: String? {
        if case .found(let path, _) = self { return path }
        return nil
    }
}

/// Why a download did not produce a file.
enum DownloadError: Error, Sendable, CustomStringConvertible {
    /// The server does not have the file (404 or 410): not retried.
    case notFound
    /// A status that retrying will not change (4xx other than 408/429).
    case status(UInt, String)
    /// Retryable: 5xx, 408, 429.
    case serverError(UInt, String)
    /// Retryable: the connection failed, timed out, dropped, or the body was cut short.
    case transport(String)
    /// Not retried: the file is larger than the configured maximum.
    case tooLarge(Int64, limit: Int)
    /// Not retried: the file could not be stored or expanded.
    case local(String)

    var isRetryable: Bool {
        switch self {
        case .serverError, .transport: return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case .notFound: return "not found"
        case .status(let code, let url): return "\(url): HTTP \(code)"
        case .serverError(let code, let url): return "\(url): HTTP \(code)"
        case .transport(let text): return text
        case .tooLarge(let size, let limit): return "\(size) bytes is more than the limit of \(limit)"
        case .local(let text): return text
        }
    }
}
