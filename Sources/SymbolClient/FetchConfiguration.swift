import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a `SymbolFetcher` talks to servers and keeps its cache.
public struct FetchConfiguration: Sendable {
    /// The store used for `srv**url` and `cache*` without a folder (SymSrv's default
    /// downstream store; here `$XDG_CACHE_HOME/postmortem/symbols` or `~/.cache/postmortem/symbols`).
    public var defaultDownstream: String
    /// Time allowed to open a connection.
    public var connectTimeout: Duration
    /// Time allowed between two reads of a response (a server that stops sending).
    public var readTimeout: Duration
    /// Time allowed for one whole request, body included.
    public var requestTimeout: Duration
    /// How many times one request is tried in all (1: no retry).
    public var attempts: Int
    /// The wait before the first retry; each further retry waits twice as long.
    public var initialBackoff: Duration
    /// The longest wait between two attempts.
    public var maximumBackoff: Duration
    /// How many downloads may run at the same time.
    public var parallelDownloads: Int
    /// The largest file accepted from a server (compressed size, and expanded size of a `_` file).
    public var maximumDownloadSize: Int
    /// How long a miss on a server is remembered (zero: misses are not remembered).
    public var negativeCacheLifetime: Duration
    /// Where progress lines go (nil: nowhere).
    public var progress: (@Sendable (String) -> Void)?
    /// Makes the transport for a fetcher's downloads (`SymbolHTTP`'s `withHTTP()` sets it); nil: no
    /// downloads, every server on the path is reported unreachable.
    public var transport: (@Sendable (FetchConfiguration) -> any SymbolTransport)?

    /// The default settings; progress goes to standard error only when it is a terminal.
    public init(
        defaultDownstream: String = FetchConfiguration.standardDefaultDownstream(),
        connectTimeout: Duration = .seconds(10),
        readTimeout: Duration = .seconds(30),
        requestTimeout: Duration = .seconds(600),
        attempts: Int = 4,
        initialBackoff: Duration = .milliseconds(500),
        maximumBackoff: Duration = .seconds(8),
        parallelDownloads: Int = 4,
        maximumDownloadSize: Int = 4 << 30,
        negativeCacheLifetime: Duration = .seconds(3600),
        progress: (@Sendable (String) -> Void)? = FetchConfiguration.standardErrorIfTerminal,
        transport: (@Sendable (FetchConfiguration) -> any SymbolTransport)? = nil
    ) {
        self.defaultDownstream = defaultDownstream
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
        self.attempts = max(1, attempts)
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.parallelDownloads = max(1, parallelDownloads)
        self.maximumDownloadSize = maximumDownloadSize
        self.negativeCacheLifetime = negativeCacheLifetime
        self.progress = progress
        self.transport = transport
    }

    /// `$XDG_CACHE_HOME/postmortem/symbols`, else `$HOME/.cache/postmortem/symbols`.
    public static func standardDefaultDownstream(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let base = environment["XDG_CACHE_HOME"], !base.isEmpty { return base + "/postmortem/symbols" }
        return (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/postmortem/symbols"
    }

    /// Writes progress lines to standard error when it is a terminal; nil when it is not
    /// (piped output stays quiet).
    public static var standardErrorIfTerminal: (@Sendable (String) -> Void)? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        return { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    /// The wait before attempt `attempt` (1 is the first retry): doubling, capped.
    func backoff(beforeRetry attempt: Int) -> Duration {
        var wait = initialBackoff
        for _ in 1..<max(1, attempt) {
            wait = wait * 2
            if wait >= maximumBackoff { return maximumBackoff }
        }
        return min(wait, maximumBackoff)
    }
}
