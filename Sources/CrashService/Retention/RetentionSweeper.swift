import Foundation
import Logging
import ServiceLifecycle

/// How long dumps are kept (`--retention-days`) and how the sweep that deletes older ones paces itself.
public struct RetentionSettings: Sendable, Equatable {
    /// Dumps and attachments of reports received longer ago than this are deleted; their results stay.
    public var maxAge: Duration
    /// Time between sweeps; the first runs at start.
    public var interval: Duration
    /// Reports marked and deleted per database transaction, so one sweep never holds a long transaction
    /// over a large backlog (the first sweep after enabling retention may find years of dumps).
    public var batchSize: Int

    /// Keeps dumps for `days` days, sweeping hourly.
    public init(days: Int, interval: Duration = .seconds(3600), batchSize: Int = 200) {
        self.maxAge = .seconds(days * 86400)
        self.interval = interval
        self.batchSize = batchSize
    }
}

/// Deletes the dumps and attachments of reports older than the retention age, once at start and then
/// every `interval`, keeping their rows, processed documents and buckets.
///
/// A report is marked purged before its files are deleted, in a transaction that only takes finished
/// reports, so a concurrent reprocess never queues a report whose dump is going; a deletion that fails
/// clears the mark and the next sweep tries again. Any number of processes may sweep one database: each
/// batch is claimed by one of them.
public struct RetentionSweeper: Service {
    let database: any CrashDatabase
    let storage: any DumpStorage
    let settings: RetentionSettings
    let metrics: ServiceMetrics
    let logger: Logger

    /// Creates a sweeper; nothing happens until `run()`.
    public init(
        database: any CrashDatabase, storage: any DumpStorage, settings: RetentionSettings, metrics: ServiceMetrics,
        logger: Logger
    ) {
        self.database = database
        self.storage = storage
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let purged = try await sweep(now: Date())
                if purged > 0 { logger.notice("retention: deleted the dumps of \(purged) report(s)") }
            } catch {
                // A database or storage outage must not stop the service; the next sweep tries again.
                logger.error("retention sweep: \(error)")
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: settings.interval) }
        }
    }

    /// Deletes the files of every finished report received before `now` minus the retention age, batch by
    /// batch until none is left (or shutdown begins); returns how many reports' files were deleted.
    @discardableResult
    public func sweep(now: Date) async throws -> Int {
        let cutoff = now.addingTimeInterval(-settings.maxAge.seconds)
        var purged = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let batch = try await database.markDumpsPurged(receivedBefore: cutoff, at: now, limit: settings.batchSize)
            var failed = false
            for candidate in batch {
                if await delete(candidate) {
                    purged += 1
                    metrics.dumpPurged()
                } else {
                    failed = true
                }
            }
            // Unmarked failures would be marked again by the next batch: with the storage down, the sweep
            // would never end. They wait for the next sweep instead.
            if failed || batch.count < settings.batchSize { break }
        }
        return purged
    }

    /// Deletes one report's files; on failure clears its mark so it is not left marked with files stored.
    private func delete(_ candidate: PurgeCandidate) async -> Bool {
        do {
            guard let id = UUID(uuidString: candidate.reportID) else {
                throw StorageError("the report id \(candidate.reportID) is not a UUID")
            }
            for index in candidate.attachmentIndexes {
                try await storage.delete(.attachment(reportID: id, index: index))
            }
            try await storage.delete(.dump(reportID: id))
            return true
        } catch {
            logger.error("retention: report \(candidate.reportID): cannot delete its files: \(error)")
            // Deleted files stay deleted; a later sweep deletes the rest, which missing files do not stop.
            try? await database.unmarkDumpPurged(reportID: candidate.reportID)
            return false
        }
    }
}
