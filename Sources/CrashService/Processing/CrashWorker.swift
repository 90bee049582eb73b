import Analysis
import Foundation
import Logging
import ServiceLifecycle

/// Takes jobs from the queue and processes them until the service shuts down gracefully; the job in
/// hand is finished first.
public struct CrashWorker: Service {
    let database: any CrashDatabase
    let storage: any DumpStorage
    let settings: WorkerSettings
    let options: AnalysisOptions
    let metrics: ServiceMetrics
    let logger: Logger
    /// Unique per process, so leases tell workers of different processes apart.
    let name: String
    /// What a child analysis needs to read `s3://` stores on its symbol path.
    let childEnvironment: [String: String]

    /// Creates a worker pool of `settings.concurrency` loops; `objectStorage` signs the symbol path's
    /// `s3://` stores in child analyses.
    public init(
        database: any CrashDatabase, storage: any DumpStorage, settings: WorkerSettings, symbols: SymbolLocations,
        metrics: ServiceMetrics, logger: Logger, objectStorage: S3Configuration? = nil
    ) {
        self.childEnvironment = objectStorage?.symbolEnvironment ?? [:]
        self.database = database
        self.storage = storage
        self.settings = settings
        self.options = AnalysisOptions(locations: symbols, threads: .all)
        self.metrics = metrics
        self.logger = logger
        let host = ProcessInfo.processInfo.hostName
        self.name = "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<max(1, settings.concurrency) {
                group.addTask { await loop(worker: "\(name)-\(index)") }
            }
        }
    }

    private func loop(worker: String) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if try await processNext(worker: worker) { continue }
            } catch {
                logger.error("worker \(worker): \(error)")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: settings.pollInterval) }
        }
    }

    /// Claims and processes one job; false when none was due.
    @discardableResult
    func processNext(worker: String) async throws -> Bool {
        let outcome = try await database.claim(
            worker: worker, now: Date(), lease: settings.lease, maxAttempts: settings.maxAttempts)
        for id in outcome.abandoned {
            metrics.failure("abandoned")
            logger.warning("report \(id) failed: its lease ran out \(settings.maxAttempts) times")
        }
        guard let job = outcome.job else { return false }
        await process(job, worker: worker)
        return true
    }

    /// What became of one analysis.
    enum Outcome: Sendable {
        case done(ProcessedCrash)
        /// The dump cannot be analyzed: retrying would fail the same way.
        case unreadable(String)
        /// Something around the dump failed (storage, the database): worth retrying.
        case transient(String)
        case timedOut
    }

    private func process(_ job: ClaimedJob, worker: String) async {
        let start = ContinuousClock.now
        let heartbeat = Task {
            // Renewed well before expiry; a worker that died stops renewing and its job is taken again.
            while !Task.isCancelled {
                try? await Task.sleep(for: settings.lease / 3)
                guard !Task.isCancelled else { return }
                let until = Date().addingTimeInterval(settings.lease.seconds)
                if (try? await database.renewLease(reportID: job.reportID, worker: worker, until: until)) == false { return }
            }
        }
        let outcome = await analyze(job)
        heartbeat.cancel()
        let seconds = (ContinuousClock.now - start).seconds
        do {
            switch outcome {
            case .done(let crash):
                let result = try Self.result(of: crash, seconds: seconds)
                if try await database.complete(reportID: job.reportID, worker: worker, result: result) {
                    metrics.processed(seconds: seconds)
                    logger.info("report \(job.reportID) processed in \(String(format: "%.2f", seconds))s: \(result.signature)")
                } else {
                    metrics.failure("lost_lease")
                    logger.warning("report \(job.reportID): lease lost to another worker; result dropped")
                }
            case .unreadable(let reason):
                try await database.fail(reportID: job.reportID, worker: worker, reason: reason, at: Date())
                metrics.failure("failed")
                logger.warning("report \(job.reportID) failed: \(reason)")
            case .timedOut:
                let reason = "the analysis did not finish within \(Int(settings.analysisTimeout.seconds)) s"
                try await database.fail(reportID: job.reportID, worker: worker, reason: reason, at: Date())
                metrics.failure("timed_out")
                logger.warning("report \(job.reportID) failed: \(reason)")
            case .transient(let reason):
                if job.attempt >= settings.maxAttempts {
                    let text = "gave up after \(job.attempt) attempts: \(reason)"
                    try await database.fail(reportID: job.reportID, worker: worker, reason: text, at: Date())
                    metrics.failure("failed")
                } else {
                    let delay = Self.backoff(attempt: job.attempt, base: settings.retryBase)
                    try await database.retry(
                        reportID: job.reportID, worker: worker, error: reason, at: Date().addingTimeInterval(delay))
                    metrics.failure("retried")
                    logger.info("report \(job.reportID): attempt \(job.attempt) failed (\(reason)); retry in \(Int(delay)) s")
                }
            }
        } catch {
            // The lease runs out and another claim retries the job.
            logger.error("report \(job.reportID): cannot record the outcome: \(error)")
        }
    }

    /// Exponential backoff: `base`, then twice that per attempt, at most an hour.
    static func backoff(attempt: Int, base: Duration) -> Double {
        min(3600, base.seconds * Double(1 << min(max(attempt - 1, 0), 20)))
    }

    /// Runs the analysis off the shared concurrency pool, racing it against the timeout.
    private func analyze(_ job: ClaimedJob) async -> Outcome {
        guard let id = UUID(uuidString: job.reportID) else { return .unreadable("the report id is not a UUID") }
        do {
            let outcome = try await storage.withLocalFile(.dump(reportID: id)) { path in await analyze(path: path) }
            return outcome ?? .transient("the stored dump is not available")
        } catch {
            return .transient("the stored dump cannot be read: \(error)")
        }
    }

    private func analyze(path: String) async -> Outcome {
        let options = self.options
        if case .childProcess(let executable) = settings.isolation {
            return await ChildProcessAnalysis(
                executable: executable, options: options, memoryLimitMB: settings.analysisMemoryLimitMB,
                environment: childEnvironment
            )
            .run(dump: path, timeout: settings.analysisTimeout)
        }
        let race = OutcomeRace()
        return await withCheckedContinuation { continuation in
            race.arm(continuation)
            Task {
                let outcome: Outcome
                do {
                    outcome = .done(
                        try await offSharedPool { try await CrashAnalyzer.analyze(path: path, options: options) })
                } catch let error as AnalysisError {
                    outcome = .unreadable(error.description.replacingOccurrences(of: path + ": ", with: ""))
                } catch {
                    outcome = .transient("\(error)")
                }
                race.finish(outcome)
            }
            let timeout = settings.analysisTimeout
            Task {
                try? await Task.sleep(for: timeout)
                race.finish(.timedOut)
            }
        }
    }

    /// The row values of a processed crash.
    static func result(of crash: ProcessedCrash, seconds: Double) throws -> ProcessingResult {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let wer = crash.werBucket.map {
            [
                $0.appName, $0.appVersion, $0.appStamp, $0.moduleName, $0.moduleVersion, $0.moduleStamp, $0.exceptionCode,
                $0.offset,
            ].joined(separator: "|")
        }
        return ProcessingResult(
            signature: crash.signature.isEmpty ? emptySignature : crash.signature, crashReason: crash.crashInfo.type,
            crashAddress: crash.crashInfo.address, werBucket: wer,
            platform: "\(crash.systemInfo.os) \(crash.systemInfo.cpuArch)", processedJSON: try encoder.encode(crash),
            processingSeconds: seconds, processedAt: Date())
    }

    /// Socorro's bucket name for crashes whose crashing thread gave no frame to name.
    static let emptySignature = "EMPTY: no crashing thread identified"
}

/// The first of the analysis and the timeout to finish resumes the worker; the other is ignored.
private final class OutcomeRace: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<CrashWorker.Outcome, Never>?

    func arm(_ continuation: CheckedContinuation<CrashWorker.Outcome, Never>) {
        lock.withLock { self.continuation = continuation }
    }

    func finish(_ outcome: CrashWorker.Outcome) {
        let waiting = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(returning: outcome)
    }
}
