import Foundation
import Hummingbird
import Logging

/// The SymSrv-compatible symbol server (`postmortem serve-symbols`).
public enum SymbolServerLayer {}

/// What `buildSymbolServer(configuration:)` serves and where it listens.
public struct SymbolServerConfiguration: Sendable {
    /// Store roots, searched in order.
    public var stores: [String]
    /// The address to bind (loopback by default).
    public var host: String
    /// The port; 0 asks the system for a free one.
    public var port: Int
    /// The most file bodies being read at once; further requests wait for a slot.
    public var maxConcurrentReads: Int
    /// The most bytes of small files (up to 1 MiB each) kept in memory; 0 reads every body from disk.
    public var memoryCacheBytes: Int
    /// Receives the access log (one line per request) and errors.
    public var logger: Logger
    /// Called once the server is listening, with the bound port.
    public var onServerRunning: @Sendable (Int) async -> Void
    /// When set, the server is a caching proxy: what the stores lack is fetched from here.
    public var upstream: UpstreamConfiguration?

    /// Creates a configuration; the logger writes to standard error by default.
    public init(
        stores: [String], host: String = "127.0.0.1", port: Int = 8080, maxConcurrentReads: Int = 16,
        memoryCacheBytes: Int = 64 << 20,
        logger: Logger = Logger(label: "serve-symbols", factory: { StreamLogHandler.standardError(label: $0) }),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        upstream: UpstreamConfiguration? = nil
    ) {
        self.stores = stores
        self.host = host
        self.port = port
        self.maxConcurrentReads = maxConcurrentReads
        self.memoryCacheBytes = memoryCacheBytes
        self.logger = logger
        self.onServerRunning = onServerRunning
        self.upstream = upstream
    }
}

/// Builds the symbol server: `/health`, SymSrv paths (`[/prefix]/<file>/<key>/<file>`) and
/// debuginfod paths (`/buildid/<hex>/debuginfo|executable`), GET and HEAD.
public func buildSymbolServer(configuration: SymbolServerConfiguration) -> some ApplicationProtocol {
    // A proxy's cache is served like the stores, after them, so a file fetched once is
    // answered without asking the fetcher again.
    let roots = configuration.stores + (configuration.upstream.map { [$0.cache] } ?? [])
    let server = StoreFileServer(
        stores: roots.map(ServedStore.init(root:)), limiter: ReadLimiter(permits: max(1, configuration.maxConcurrentReads)),
        contents: FileContentCache(budget: configuration.memoryCacheBytes),
        upstream: configuration.upstream.map(UpstreamProxy.init(configuration:)))
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: AccessLogMiddleware(logger: configuration.logger))
    router.get("/health") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }
    router.head("/health") { _, _ in Response(status: .ok, headers: [.contentType: "text/plain", .contentLength: "2"]) }
    router.get("**") { request, context in try await server.respond(to: request, context: context) }
    router.head("**") { request, context in try await server.respond(to: request, context: context) }
    let onRunning = configuration.onServerRunning
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "postmortem"),
        onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
        logger: configuration.logger
    )
}

/// Logs `method path status bytes duration` for every request.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            var response = try await next(request, context)
            let status = response.status.code
            // Answers without a file body (HEAD, misses, errors, 304) are logged at once: their bodies
            // are a few bytes, and wrapping the writer costs a miss more than the lookup did.
            guard request.method != .head, (200..<300).contains(status) else {
                log(request, status: status, bytes: 0, since: start)
                return response
            }
            // Log once the body has been written, so the duration covers the streaming.
            let body = response.body
            let logger = self
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                let inner = body
                do {
                    try await inner.write(writer)
                    logger.log(request, status: status, bytes: body.contentLength, since: start)
                } catch {
                    logger.log(request, status: status, bytes: nil, since: start, note: " (aborted: \(error))")
                    throw error
                }
            }
            return response
        } catch let error as HTTPResponseError {
            log(request, status: error.status.code, bytes: nil, since: start)
            throw error
        } catch {
            log(request, status: 500, bytes: nil, since: start)
            throw error
        }
    }

    private func log(_ request: Request, status: Int, bytes: Int?, since start: ContinuousClock.Instant, note: String = "") {
        let elapsed = ContinuousClock.now - start
        // Tenths of a millisecond, formatted without Foundation's String(format:), which costs
        // more than the rest of a cached hit.
        let tenths = elapsed.components.seconds * 10_000 + elapsed.components.attoseconds / 100_000_000_000_000
        let size = bytes.map(String.init) ?? "-"
        logger.info("\(request.method.rawValue) \(request.uri.path) \(status) \(size) \(tenths / 10).\(tenths % 10)ms\(note)")
    }
}
