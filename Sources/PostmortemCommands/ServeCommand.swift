import Analysis
import ArgumentParser
import CrashService
import Foundation
import SymbolClient
import SymbolHTTP
import SymbolStore

extension ServiceRole: ExpressibleByArgument {}

/// `postmortem serve`: the crash collection service.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Collect crash reports: Breakpad/Crashpad uploads, processing, buckets, a dashboard and a JSON API.",
        discussion: """
            Crash reporters post to /submit (multipart, optionally gzip-encoded) and are answered CrashID=bp-<uuid> \
            once the report is durably stored. Workers analyze queued dumps with --symbol-path and --exe-path and \
            group them by signature. The dashboard is at /, the JSON API under /api/ (docs/service-api.md), \
            Prometheus metrics at /metrics, /health and /ready for probes. Everything under --data: \
            postmortem.sqlite, dumps/, attachments/. With --database postgres://…, metadata and the job queue \
            live in PostgreSQL instead, and api and worker processes on one machine share the data folder's dumps.
            Symbol files (PE, PDB, ELF, Breakpad .sym, or a ZIP of them) posted to /symbols/upload with a symbols \
            token are published into <data>/symbols, served at /symbols/<file>/<key>/<file> and searched by workers. \
            With --storage s3://BUCKET[/PREFIX], dumps and attachments go to S3-compatible storage instead. \
            With --retention-days N, workers delete the dumps and attachments of reports older than N days (at start \
            and hourly); reports, processed results and buckets are kept.
            Tokens: --token SECRET:SCOPES or --tokens-file (lines 'SECRET SCOPES'); scopes submit, symbols, read, admin. \
            Without either, an admin token is created in <data>/tokens. Browsers log in with any user name and the \
            token as password.
            """
    )

    @Option(help: "The data folder: database, dumps, attachments.")
    var data: String = "postmortem-data"

    @Option(
        help: ArgumentHelp(
            "A PostgreSQL database for metadata and the job queue instead of <data>/postmortem.sqlite.",
            valueName: "postgres://USER:PASSWORD@HOST:PORT/DB"))
    var database: String?

    @Option(help: "The port to listen on (0: any free port).")
    var port: Int = 8080

    @Option(help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "What this process runs: all, api (uploads, API, dashboard) or worker (processing).")
    var role: ServiceRole = .all

    @Option(
        name: .customLong("symbol-path"),
        help: "Where workers find symbols: folders, stores and srv*CACHE*URL servers, ';'-separated (also _NT_SYMBOL_PATH).")
    var symbolPath: String?

    @OptionGroup var paths: ExecutablePathOptions

    @Option(help: ArgumentHelp("The largest upload accepted, e.g. 64M (also once decompressed).", valueName: "SIZE"))
    var maxUploadSize: String = "64M"

    @Option(
        help: ArgumentHelp("A token and its scopes, e.g. 's3cret-at-least-16:read' (repeatable).", valueName: "SECRET:SCOPES"))
    var token: [String] = []

    @Option(help: "A file of tokens, one 'SECRET SCOPE[,SCOPE...]' per line.")
    var tokensFile: String?

    @Flag(help: "Require a token with the submit scope for uploads (by default anyone may submit).")
    var submitRequiresToken = false

    @Option(help: ArgumentHelp("Uploads per second one client address earns back (0: no limit).", valueName: "N"))
    var submitRate: Double = 10

    @Option(help: ArgumentHelp("Uploads one client address may send at once (default: 10 seconds' worth).", valueName: "N"))
    var submitBurst: Int?

    @Option(
        help: ArgumentHelp(
            "Keep dumps, attachments and the symbol store in S3-compatible object storage.", valueName: "s3://BUCKET[/PREFIX]"))
    var storage: String?

    @Option(
        name: .customLong("s3-endpoint"),
        help: "The S3-compatible endpoint, path-style (also AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL; default: AWS's).")
    var s3Endpoint: String?

    @Option(
        name: .customLong("s3-region"), help: "The region requests are signed for (also AWS_REGION, AWS_DEFAULT_REGION).")
    var s3Region: String?

    @Option(
        help: ArgumentHelp(
            "Delete dumps and attachments of reports older than N days, hourly; their results stay (default: keep).",
            valueName: "N"))
    var retentionDays: Int?

    @Option(help: "The log format on standard error: text, or json (one object per line).")
    var logFormat: ServeLogFormat = .text

    @Option(help: "Jobs processed at once by this process.")
    var workers: Int = 2

    @Option(help: "Seconds a worker holds a job without renewing before another worker may take it.")
    var lease: Int = 120

    @Option(help: "Claims of one job before its report is marked failed.")
    var maxAttempts: Int = 3

    @Option(help: "Seconds one analysis may take before its report is marked failed.")
    var analysisTimeout: Int = 300

    @Option(
        help: ArgumentHelp(
            """
            Where each analysis runs: process (a child 'postmortem analyze' per dump, so a dump that crashes or hangs \
            the analyzer fails alone and the worker goes on) or thread (in this process: faster, unprotected).
            """,
            valueName: "process|thread"))
    var isolation: ServeIsolation = .process

    @Option(
        name: .customLong("analysis-memory-limit-mb"),
        help: ArgumentHelp(
            "The most memory one child analysis may hold, in MiB, before it is killed (0: no limit); with --isolation process.",
            valueName: "N"))
    var analysisMemoryLimitMB: Int = 4096

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if let database {
            do {
                _ = try PostgresLocation(url: database)
            } catch {
                throw ValidationError(error.description)
            }
        }
        guard Self.bytes(maxUploadSize) != nil else {
            throw ValidationError("--max-upload-size takes bytes, e.g. 1048576, 512K, 64M")
        }
        for text in token where AccessToken(parsing: text) == nil {
            throw ValidationError("--token takes SECRET:SCOPE[,SCOPE...] with a secret of 16+ characters (got '\(text)')")
        }
        guard (0...(1 << 30)).contains(analysisMemoryLimitMB) else {
            throw ValidationError("--analysis-memory-limit-mb must be between 0 and \(1 << 30)")
        }
        guard workers >= 1, lease >= 1, maxAttempts >= 1, analysisTimeout >= 1 else {
            throw ValidationError("--workers, --lease, --max-attempts and --analysis-timeout must be positive")
        }
        // Capped so that the age in seconds cannot overflow; 100 years is for ever in practice.
        guard (1...36_500).contains(retentionDays ?? 1) else {
            throw ValidationError("--retention-days must be between 1 and 36500")
        }
        guard submitRate >= 0, submitRate.isFinite, (submitBurst ?? 1) >= 1 else {
            throw ValidationError("--submit-rate must be 0 or more and --submit-burst at least 1")
        }
        _ = try objectStorage(environment: ProcessInfo.processInfo.environment)
        do {
            _ = try symbols()
        } catch let error as SymbolPath.Malformed {
            throw ValidationError(error.description)
        }
    }

    func symbols() throws -> SymbolPath {
        try symbolPath.map { try SymbolPath(parsing: $0) }
            ?? SymbolPath.symbolPath(environment: ProcessInfo.processInfo.environment)
    }

    /// The object storage of `--storage`, with the endpoint, region and credentials (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: never options, which other users can see) from the
    /// options and the environment; nil without `--storage`.
    func objectStorage(environment: [String: String]) throws -> S3Configuration? {
        guard let storage else { return nil }
        guard let location = S3Location(url: storage) else {
            throw ValidationError(
                "--storage takes s3://BUCKET[/PREFIX] (a bucket name of 3-63 lowercase letters, digits, . and -)")
        }
        guard let credentials = AWSCredentials(environment: environment) else {
            throw ValidationError("--storage needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
        }
        let endpoint = s3Endpoint ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        if let endpoint {
            guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--s3-endpoint takes http(s)://HOST[:PORT] (got '\(endpoint)')")
            }
        }
        let region = s3Region ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        return S3Configuration(location: location, endpoint: endpoint, region: region, credentials: credentials)
    }

    /// `1048576`, `512K`, `64M`, `1G`.
    static func bytes(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        let upper = text.uppercased()
        if let last = upper.last, let unit = units[last] {
            return Int(upper.dropLast()).flatMap { $0 > 0 && $0 <= Int.max / unit ? $0 * unit : nil }
        }
        return Int(upper).flatMap { $0 > 0 ? $0 : nil }
    }

    /// The tokens given, or those of `<data>/tokens`, created with one admin token when missing.
    func tokens() throws -> [AccessToken] {
        var tokens = token.compactMap(AccessToken.init(parsing:))
        var file = tokensFile
        if tokens.isEmpty && file == nil {
            let generated = data + "/tokens"
            if !FileManager.default.fileExists(atPath: generated) {
                try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
                let secret = (0..<4).map { _ in UUID().uuidString.replacingOccurrences(of: "-", with: "") }.joined()
                let text = "# Created by postmortem serve. One token per line: SECRET SCOPE[,SCOPE...]\n\(secret) admin\n"
                guard
                    FileManager.default.createFile(
                        atPath: generated, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
                else { throw ValidationError("cannot write \(generated)") }
                printError("postmortem: serve: created an admin token in \(generated)")
            }
            file = generated
        }
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            do {
                tokens += try AccessToken.parseFile(text)
            } catch {
                throw ValidationError("\(file): \(error)")
            }
        }
        return tokens
    }

    func run() throws {
        var fetch = FetchConfiguration().withHTTP()
        fetch.progress = nil
        var configuration = CrashServiceConfiguration(
            dataDirectory: data, database: database.map { .postgres(url: $0) } ?? .sqlite, host: host, port: port, role: role,
            symbols: SymbolLocations(symbolPath: try symbols(), executablePath: paths.searchPath, fetch: fetch),
            maxUploadBytes: Self.bytes(maxUploadSize) ?? 64 << 20,
            access: AccessPolicy(tokens: try tokens(), openSubmit: !submitRequiresToken),
            worker: WorkerSettings(
                concurrency: workers, lease: .seconds(lease), maxAttempts: maxAttempts,
                analysisTimeout: .seconds(analysisTimeout), isolation: try analysisIsolation(),
                analysisMemoryLimitMB: analysisMemoryLimitMB > 0 ? analysisMemoryLimitMB : nil),
            onServerRunning: { [role, host, data, logFormat] port in
                let text = "serve: \(role.rawValue) on http://\(host):\(port) (data in \(data))"
                // In JSON mode every line must parse, this one included.
                if logFormat == .json {
                    CrashServiceConfiguration.jsonLogger.notice("\(text)")
                } else {
                    printError("postmortem: " + text)
                }
            })
        if logFormat == .json { configuration.logger = CrashServiceConfiguration.jsonLogger }
        configuration.objectStorage = try objectStorage(environment: ProcessInfo.processInfo.environment)
        configuration.retention = retentionDays.map { RetentionSettings(days: $0) }
        configuration.submitRate = SubmitRateLimit(
            perSecond: submitRate, burst: submitBurst ?? max(1, Int(min(submitRate * 10, 1e9).rounded(.up))))
        let app = try buildCrashService(configuration: configuration)
        let done = DispatchSemaphore(value: 0)
        let failure = ServeFailure()
        // The root command is synchronous; the service runs in a task until SIGINT or SIGTERM, then
        // stops taking jobs, finishes the ones in hand and returns.
        Task {
            do { try await app.runService() } catch { failure.set(error) }
            done.signal()
        }
        done.wait()
        if let error = failure.get() {
            printError("postmortem: serve: \(error)")
            throw ExitCode.failure
        }
    }
}

extension ServeCommand {
    /// The worker's isolation; a child process runs this very executable.
    func analysisIsolation() throws -> AnalysisIsolation {
        guard isolation == .process else { return .inProcess }
        // /proc/self/exe names the running binary even when it was started through a relative path or a symlink.
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("--isolation process: cannot find this executable (\(executable)); use --isolation thread")
        }
        return .childProcess(executable: executable)
    }
}

/// `--isolation`.
enum ServeIsolation: String, ExpressibleByArgument, Sendable {
    case process, thread
}

/// `--log-format`.
enum ServeLogFormat: String, ExpressibleByArgument, Sendable {
    case text, json
}

/// Carries the service's error out of its task.
private final class ServeFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?

    func set(_ error: any Error) { lock.withLock { self.error = error } }
    func get() -> (any Error)? { lock.withLock { error } }
}
