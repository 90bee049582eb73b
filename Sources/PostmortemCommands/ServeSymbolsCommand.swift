import ArgumentParser
import Foundation
import Hummingbird
import SymbolClient
import SymbolHTTP
import SymbolServer
import SymbolStore

/// `postmortem serve-symbols`: serve symbol stores over HTTP as SymSrv and debuginfod clients expect.
struct ServeSymbolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-symbols",
        abstract: "Serve symbol stores over HTTP (SymSrv paths and debuginfod build ids).",
        discussion: """
            Answers GET and HEAD for /<file>/<key>/<file> (also below a prefix such as /symbols/, any letter case), \
            /buildid/<hex>/executable and /buildid/<hex>/debuginfo, and /health. Stores are searched in order. \
            One access log line per request goes to standard error.

            With --upstream the server is a caching proxy: a file no store has is fetched along the upstream \
            symbol path (plain, then compressed, then file.ptr), kept expanded in the cache store (--cache, else \
            the path's first downstream store) and served from there; misses are remembered for \
            --negative-cache-seconds, and requests for a file being fetched wait for that one fetch.
            """
    )

    @Argument(help: "Store root folders, searched in order.")
    var stores: [String] = []

    @Option(help: "Proxy what the stores lack from this symbol path, e.g. 'srv*CACHE*https://server'.")
    var upstream: String?

    @Option(help: "The store that upstream files are cached in (default: the upstream path's first downstream store).")
    var cache: String?

    @Option(help: "How long an upstream miss is remembered, in seconds (0: not at all).")
    var negativeCacheSeconds: Int = 600

    @Option(help: "The port to listen on (0: any free port).")
    var port: Int = 8080

    @Option(help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "The most files read at once.")
    var maxConcurrentReads: Int = 16

    @Option(help: "Megabytes of small files (up to 1 MiB each) kept in memory (0: read every body from disk).")
    var memoryCacheMB: Int = 64

    func validate() throws {
        guard !stores.isEmpty || upstream != nil else { throw ValidationError("give at least one store folder or --upstream") }
        guard negativeCacheSeconds >= 0 else { throw ValidationError("--negative-cache-seconds must not be negative") }
        _ = try upstreamConfiguration()
        for store in stores {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: store, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("\(store) is not a folder")
            }
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxConcurrentReads > 0 else { throw ValidationError("--max-concurrent-reads must be positive") }
        guard (0...65536).contains(memoryCacheMB) else { throw ValidationError("--memory-cache-mb must be between 0 and 65536") }
    }

    /// The proxy settings, nil without --upstream.
    func upstreamConfiguration() throws -> UpstreamConfiguration? {
        guard let upstream else { return nil }
        do {
            var fetch = FetchConfiguration(progress: nil).withHTTP()
            fetch.negativeCacheLifetime = .seconds(negativeCacheSeconds)
            return try UpstreamConfiguration(path: SymbolPath(parsing: upstream), cache: cache, fetch: fetch)
        } catch let error as SymbolPath.Malformed {
            throw ValidationError("--upstream: \(error)")
        } catch let error as UpstreamConfiguration.Invalid {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let upstream = try upstreamConfiguration()
        let summary = "\(stores.count) store(s)" + (upstream.map { ", proxying to \($0.path.text) cached in \($0.cache)" } ?? "")
        let configuration = SymbolServerConfiguration(
            stores: stores, host: host, port: port, maxConcurrentReads: maxConcurrentReads,
            memoryCacheBytes: memoryCacheMB << 20,
            onServerRunning: { port in printError("serving \(summary) on http://\(host):\(port)") }, upstream: upstream)
        let app = buildSymbolServer(configuration: configuration)
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        // The root command is synchronous; the server runs in a task until SIGINT or SIGTERM.
        Task {
            do { try await app.runService() } catch { failure.set(error) }
            done.signal()
        }
        done.wait()
        if let error = failure.get() {
            printError("postmortem: serve-symbols: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Carries the server's error out of its task.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?

    func set(_ error: any Error) { lock.withLock { self.error = error } }
    func get() -> (any Error)? { lock.withLock { error } }
}
