import Analysis
import Foundation
import Logging

/// Which parts of the service a process runs.
public enum ServiceRole: String, Sendable, CaseIterable {
    /// The HTTP API and dashboard, and in-process workers.
    case all
    /// The HTTP API and dashboard only; workers run elsewhere against the same database.
    case api
    /// Workers only, with `/health`, `/ready` and `/metrics` on the port.
    case worker

    var servesAPI: Bool { self != .worker }
    var runsWorkers: Bool { self != .api }
}

/// How workers take, retry and give up jobs.
public struct WorkerSettings: Sendable {
    /// Jobs processed at once in this process.
    public var concurrency: Int
    /// How long a claimed job stays with its worker without a renewal; after that another worker takes it.
    public var lease: Duration
    /// Claims of one job before it is marked failed (a dump that kills or hangs its worker ends here).
    public var maxAttempts: Int
    /// The first retry's delay; each further retry doubles it.
    public var retryBase: Duration
    /// How often an idle worker looks at the queue.
    public var pollInterval: Duration
    /// How long one analysis may run before the report is marked failed and the worker moves on.
    public var analysisTimeout: Duration
    /// Whether each analysis runs in this process or in a child process of its own.
    public var isolation: AnalysisIsolation
    /// The most memory, in MiB, a child analysis may hold (heap and stacks; the mapped dump does not
    /// count) before it is killed and its report failed (nil: no limit). In-process analyses share the
    /// service's memory and are not limited.
    public var analysisMemoryLimitMB: Int?

    /// Creates worker settings.
    public init(
        concurrency: Int = 2, lease: Duration = .seconds(120), maxAttempts: Int = 3, retryBase: Duration = .seconds(5),
        pollInterval: Duration = .milliseconds(200), analysisTimeout: Duration = .seconds(300),
        isolation: AnalysisIsolation = .inProcess, analysisMemoryLimitMB: Int? = nil
    ) {
        self.analysisTimeout = analysisTimeout
        self.analysisMemoryLimitMB = analysisMemoryLimitMB
        self.isolation = isolation
        self.concurrency = concurrency
        self.lease = lease
        self.maxAttempts = maxAttempts
        self.retryBase = retryBase
        self.pollInterval = pollInterval
    }
}

/// Where metadata and the job queue live.
public enum DatabaseLocation: Sendable, Equatable {
    /// `postmortem.sqlite` in the data folder: one machine, no server to run.
    case sqlite
    /// A PostgreSQL server (`postgres://user:password@host:port/database`), shared by processes on many machines.
    case postgres(url: String)
}

/// Everything `buildCrashService(configuration:)` needs.
public struct CrashServiceConfiguration: Sendable {
    /// The data folder: the database, dumps and attachments.
    public var dataDirectory: String
    /// Where metadata and the job queue live; dumps stay in the data folder either way.
    public var database: DatabaseLocation
    /// The address to bind (loopback by default).
    public var host: String
    /// The port; 0 asks the system for a free one.
    public var port: Int
    /// Which parts run in this process.
    public var role: ServiceRole
    /// Where the worker looks for symbols and binaries (as `postmortem analyze` does).
    public var symbols: SymbolLocations
    /// The largest request body accepted, compressed or not, in bytes.
    public var maxUploadBytes: Int
    /// Who may do what.
    public var access: AccessPolicy
    /// Worker behaviour.
    public var worker: WorkerSettings
    /// Receives the access log and service events.
    public var logger: Logger
    /// Called once the server listens, with the bound port.
    public var onServerRunning: @Sendable (Int) async -> Void
    /// Where dumps and attachments go instead of the data folder (`--storage s3://…`).
    public var objectStorage: S3Configuration? = nil
    /// How fast one client address may submit (`--submit-rate`, `--submit-burst`).
    public var submitRate = SubmitRateLimit()
    /// How long dumps and attachments are kept (`--retention-days`); nil keeps them for ever.
    public var retention: RetentionSettings? = nil

    /// Creates a configuration; defaults serve a small team from one process.
    public init(
        dataDirectory: String, database: DatabaseLocation = .sqlite, host: String = "127.0.0.1", port: Int = 8080,
        role: ServiceRole = .all,
        symbols: SymbolLocations = SymbolLocations(), maxUploadBytes: Int = 64 << 20, access: AccessPolicy = AccessPolicy(),
        worker: WorkerSettings = WorkerSettings(),
        logger: Logger = Logger(label: "postmortem-serve", factory: { StreamLogHandler.standardError(label: $0) }),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.dataDirectory = dataDirectory
        self.database = database
        self.host = host
        self.port = port
        self.role = role
        self.symbols = symbols
        self.maxUploadBytes = maxUploadBytes
        self.access = access
        self.worker = worker
        self.logger = logger
        self.onServerRunning = onServerRunning
    }
}
