import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The crash collection service (`postmortem serve`).
public enum CrashServiceLayer {}

/// The parts of a running service, shared by its routes and workers.
public struct ServiceParts: Sendable {
    public let database: any CrashDatabase
    public let storage: any DumpStorage
    public let metrics: ServiceMetrics
    public let configuration: CrashServiceConfiguration
    /// What must run beside the server for the parts to work (PostgreSQL's connection pool).
    let backgroundServices: [any Service]

    /// Opens the data folder (`dumps/`, `attachments/`, and `postmortem.sqlite` unless PostgreSQL is
    /// configured), or the object storage for dumps.
    public init(configuration: CrashServiceConfiguration) throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        switch configuration.database {
        case .sqlite:
            self.database = try SQLiteCrashDatabase(path: configuration.dataDirectory + "/postmortem.sqlite")
            self.backgroundServices = []
        case .postgres(let url):
            let postgres = try PostgresCrashDatabase(url: url, logger: configuration.logger)
            self.database = postgres
            self.backgroundServices = [postgres]
        }
        if let objectStorage = configuration.objectStorage {
            self.storage = try S3DumpStorage(
                client: S3Client(configuration: objectStorage), scratch: configuration.dataDirectory + "/tmp")
        } else {
            self.storage = try LocalDumpStorage(root: configuration.dataDirectory)
        }
        self.metrics = ServiceMetrics()
        self.configuration = configuration
    }
}

/// Builds the service: the upload endpoint, the JSON API, the dashboard, operations endpoints and, for
/// roles `all` and `worker`, the workers, which stop taking jobs on graceful shutdown, and the retention sweep.
public func buildCrashService(configuration: CrashServiceConfiguration) throws -> some ApplicationProtocol {
    try buildCrashService(parts: ServiceParts(configuration: configuration))
}

/// Builds the service over parts already opened (tests reach the database through them).
public func buildCrashService(parts: ServiceParts) -> some ApplicationProtocol {
    let configuration = parts.configuration
    let router = Router(context: ServiceRequestContext.self)
    router.add(middleware: ServiceAccessLog(logger: configuration.logger))
    router.add(middleware: AuthorizationMiddleware(policy: configuration.access))
    OperationRoutes(parts: parts).register(on: router)
    if configuration.role.servesAPI {
        SubmitRoute(parts: parts).register(on: router)
        APIRoutes(parts: parts).register(on: router)
        DashboardRoutes(parts: parts).register(on: router)
        SymbolRoutes(parts: parts).register(on: router)
    }
    // Services stop in reverse order: the database outlives the workers finishing their jobs.
    var services = parts.backgroundServices
    if configuration.role.runsWorkers {
        services.append(
            CrashWorker(
                database: parts.database, storage: parts.storage, settings: configuration.worker,
                symbols: configuration.workerSymbols, metrics: parts.metrics, logger: configuration.logger,
                objectStorage: configuration.objectStorage))
        // Swept where workers run, not in every API process; several sweepers may share one database.
        if let retention = configuration.retention {
            services.append(
                RetentionSweeper(
                    database: parts.database, storage: parts.storage, settings: retention, metrics: parts.metrics,
                    logger: configuration.logger))
        }
    }
    let onRunning = configuration.onServerRunning
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "postmortem"),
        services: services,
        onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
        logger: configuration.logger
    )
}

/// `/health` (the process answers), `/ready` (the database answers) and `/metrics`.
struct OperationRoutes {
    let parts: ServiceParts

    func register(on router: Router<ServiceRequestContext>) {
        router.get("/health") { _, _ in Response.text("ok\n") }
        router.get("/ready") { _, _ in
            do {
                _ = try await parts.database.queueDepth(now: Date())
                return Response.text("ready\n")
            } catch {
                return Response.text("not ready: database: \(error)\n", status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { _, _ in
            let queue = try? await parts.database.queueDepth(now: Date())
            let statuses = try? await parts.database.statusCounts()
            return Response.text(
                parts.metrics.render(queue: queue, statuses: statuses), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}

/// Checks the token each path needs: submit for `/submit`, symbols for `/symbols/upload`, admin for
/// `/api/reprocess`, none for `/health` and `/ready`, read for the rest.
struct AuthorizationMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy

    static func scope(for path: String) -> TokenScope? {
        // The router ignores empty segments and a trailing slash; so must the scope check.
        switch "/" + path.split(separator: "/").joined(separator: "/").lowercased() {
        case "/health", "/ready": return nil
        case "/submit": return .submit
        case "/symbols/upload": return .symbols
        case "/api/reprocess": return .admin
        default: return .read
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let scope = Self.scope(for: request.uri.path) else { return try await next(request, context) }
        switch policy.decide(authorization: request.headers[.authorization], scope: scope) {
        case .allowed:
            return try await next(request, context)
        case .forbidden:
            return Response.text("this token does not have the '\(scope.rawValue)' scope\n", status: .forbidden)
        case .unauthenticated:
            var response = Response.text("a token with the '\(scope.rawValue)' scope is required\n", status: .unauthorized)
            // Browsers answer a Basic challenge with a login prompt: the token goes in the password field.
            let isPage = !request.uri.path.hasPrefix("/api/") && request.uri.path != "/metrics"
            response.headers[.wwwAuthenticate] = isPage ? "Basic realm=\"postmortem\"" : "Bearer realm=\"postmortem\""
            return response
        }
    }
}

/// One line per request: method, path (never the query, which may hold filters only), status, duration.
struct ServiceAccessLog<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        var status = 500
        defer {
            let milliseconds = (ContinuousClock.now - start).seconds * 1000
            // Fields as metadata, not text, so that JSON logs (`--log-format json`) can be queried by them;
            // the text format prints them as key=value.
            logger.info(
                "request",
                metadata: [
                    "method": .string(request.method.rawValue), "path": .string(request.uri.path),
                    "status": .stringConvertible(status),
                    "duration_ms": .stringConvertible((milliseconds * 10).rounded() / 10),
                ])
        }
        do {
            let response = try await next(request, context)
            status = response.status.code
            return response
        } catch let error as HTTPResponseError {
            status = error.status.code
            throw error
        }
    }
}

extension Response {
    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8")
        -> Response
    {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func data(_ data: Data, status: HTTPResponse.Status = .ok, contentType: String) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
