import Foundation

/// Metadata and the job queue: what the API stores and reads, and what workers claim.
///
/// SQLite (`SQLiteCrashDatabase`) implements it for one machine. A PostgreSQL implementation claims
/// with `FOR UPDATE SKIP LOCKED` instead of SQLite's single-writer `UPDATE … RETURNING`; every other
/// statement is portable SQL.
public protocol CrashDatabase: Sendable {
    /// Stores a report and its job in one transaction; once it returns, the report is durable.
    func insert(_ report: NewReport) async throws

    /// Gives up expired jobs that used all their attempts, then claims the oldest due job for `worker`.
    func claim(worker: String, now: Date, lease: Duration, maxAttempts: Int) async throws -> ClaimOutcome

    /// Extends `worker`'s lease; false when the job is no longer its own.
    func renewLease(reportID: String, worker: String, until: Date) async throws -> Bool

    /// Stores a processed report and its bucket, and removes its job; false when `worker` had lost the job.
    func complete(reportID: String, worker: String, result: ProcessingResult) async throws -> Bool

    /// Returns the job to the queue, due again at `at`.
    func retry(reportID: String, worker: String, error: String, at: Date) async throws

    /// Marks the report failed with `reason` and removes its job.
    func fail(reportID: String, worker: String, reason: String, at: Date) async throws

    /// Queues processed and failed reports again, those of bucket `bucketID` or all when nil (new
    /// symbols can change their frames and signatures); reports whose dumps retention deleted are skipped
    /// and counted apart.
    func requeue(bucketID: Int64?, at: Date) async throws -> RequeueOutcome

    /// Marks up to `limit` finished (processed or failed) reports received before `cutoff` whose dumps are
    /// still stored as purged at `at`, and returns them, so the caller deletes their files. Marking first
    /// keeps a concurrent reprocess from queueing a report whose dump is about to go.
    func markDumpsPurged(receivedBefore cutoff: Date, at: Date, limit: Int) async throws -> [PurgeCandidate]

    /// Clears the purge mark of a report whose files could not be deleted, so a later sweep tries again.
    func unmarkDumpPurged(reportID: String) async throws

    /// Reports matching every criterion of `search`, newest first.
    func search(_ search: ReportSearch) async throws -> Page<ReportRecord>

    func report(id: String) async throws -> ReportRecord?
    /// The processed crash JSON, for processed reports.
    func processedJSON(reportID: String) async throws -> Data?
    /// Buckets ordered by their report count within the query's range.
    func topBuckets(_ query: BucketQuery) async throws -> Page<BucketSummary>
    func bucket(id: Int64) async throws -> BucketDetail?
    /// A bucket's reports, newest first.
    func reports(bucketID: Int64, page: Int, perPage: Int) async throws -> Page<ReportRecord>
    /// Reports with `status`, newest first.
    func reports(status: ReportStatus, page: Int, perPage: Int) async throws -> Page<ReportRecord>
    /// Reports received per UTC day in the range, optionally of one bucket.
    func crashesPerDay(_ query: BucketQuery, bucketID: Int64?) async throws -> [DayCount]
    func queueDepth(now: Date) async throws -> QueueDepth
    /// Reports by status, all time.
    func statusCounts() async throws -> [ReportStatus: Int]
    /// Runs `body` holding `lock`, which no other task or process sharing this database holds meanwhile;
    /// throws when the lock is not had within `ServiceLock.timeout`.
    func withExclusiveLock<T: Sendable>(_ lock: ServiceLock, _ body: () async throws -> T) async throws -> T
}

/// A lock that the processes sharing one database take in turn.
public enum ServiceLock: String, Sendable, CaseIterable {
    /// Publishing into the symbol store in object storage: transaction ids, `000Admin` and `refs.ptr`
    /// are read, changed and written back.
    case symbolStore = "symbol-store"

    /// How long a taker waits before giving up (an upload is then answered 503).
    public static let timeout: Duration = .seconds(120)

    /// The key of PostgreSQL's advisory lock ("pmsymbol"; the schema lock is "postmort").
    var advisoryKey: Int64 {
        switch self {
        case .symbolStore: 0x706d_7379_6d62_6f6c
        }
    }
}

/// What a claim found.
public struct ClaimOutcome: Sendable, Equatable {
    /// The claimed job, if any was due.
    public var job: ClaimedJob?
    /// Reports marked failed because their jobs expired once too often.
    public var abandoned: [String]
}
