import Foundation
import GRDB

/// `CrashDatabase` in one SQLite file (WAL, `synchronous = FULL`): the embedded default.
///
/// Several processes on one machine may share the file (`--role api` and `--role worker`): SQLite
/// serializes writers, and every claim is one `UPDATE … RETURNING` statement, so two workers never
/// get the same job.
public final class SQLiteCrashDatabase: CrashDatabase {
    private let pool: DatabasePool
    private let path: String
    private let taskLocks = TaskLock.table()

    /// Opens (creating and migrating when needed) the database at `path`.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        // Another process (a worker, a second API) may hold the write lock for a moment.
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            // FULL syncs the WAL at every commit: a committed report survives power loss, not only a crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// An `flock` of a file beside the database: the processes that share an SQLite database share its
    /// machine, and the kernel releases the lock of a process that dies.
    public func withExclusiveLock<T: Sendable>(_ lock: ServiceLock, _ body: () async throws -> T) async throws -> T {
        try await withTaskLock(taskLocks[lock]!) {
            let held = try await FileLock.acquire(path + "." + lock.rawValue + ".lock", timeout: ServiceLock.timeout)
            defer { held.release() }
            return try await body()
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: SQLiteCrashDatabase.schema)
        }
        migrator.registerMigration("v2: retention and search") { db in
            try db.execute(sql: SQLiteCrashDatabase.schemaV2)
        }
        return migrator
    }

    /// Retention's purge mark, and the annotations and module names of reports in rows of their own so
    /// searches use indexes instead of reading JSON; filled here for reports stored before it existed.
    static let schemaV2 = """
        ALTER TABLE reports ADD COLUMN dump_purged_at REAL;
        CREATE TABLE report_annotations (
            report_id TEXT NOT NULL REFERENCES reports(id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (report_id, key)
        );
        CREATE INDEX report_annotations_value ON report_annotations(key, value);
        CREATE TABLE report_modules (
            report_id TEXT NOT NULL REFERENCES reports(id),
            name TEXT NOT NULL,
            PRIMARY KEY (report_id, name)
        );
        CREATE INDEX report_modules_name ON report_modules(name);
        INSERT INTO report_annotations (report_id, key, value)
            SELECT r.id, a.key, a.value FROM reports r, json_each(r.annotations) a WHERE a.type = 'text';
        -- Processed documents are BLOBs, which the JSON functions refuse; their text is JSON.
        INSERT OR IGNORE INTO report_modules (report_id, name)
            SELECT p.report_id, lower(json_extract(m.value, '$.filename'))
            FROM processed p, json_each(
                CASE WHEN json_valid(CAST(p.json AS TEXT)) THEN CAST(p.json AS TEXT) ELSE '{}' END, '$.modules') m
            WHERE json_type(m.value, '$.filename') = 'text' AND json_extract(m.value, '$.filename') <> '';
        """

    /// The schema; times are Unix seconds (REAL), annotations and attachments JSON text.
    static let schema = """
        CREATE TABLE buckets (
            id INTEGER PRIMARY KEY,
            signature TEXT NOT NULL UNIQUE,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        );
        CREATE TABLE reports (
            id TEXT PRIMARY KEY NOT NULL,
            received_at REAL NOT NULL,
            product TEXT,
            version TEXT,
            annotations TEXT NOT NULL,
            dump_size INTEGER NOT NULL,
            attachments TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'processed', 'failed')),
            failure TEXT,
            signature TEXT,
            bucket_id INTEGER REFERENCES buckets(id),
            crash_reason TEXT,
            crash_address TEXT,
            wer_bucket TEXT,
            platform TEXT,
            processed_at REAL,
            processing_seconds REAL
        );
        CREATE INDEX reports_received ON reports(received_at);
        CREATE INDEX reports_bucket ON reports(bucket_id, received_at);
        CREATE INDEX reports_status ON reports(status, received_at);
        -- Kept apart so listing reports never reads the large processed documents.
        CREATE TABLE processed (
            report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports(id),
            json BLOB NOT NULL
        );
        -- One row per report not yet processed or failed; deleted when done, so the queue stays small.
        CREATE TABLE jobs (
            report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports(id),
            attempts INTEGER NOT NULL DEFAULT 0,
            available_at REAL NOT NULL,
            lease_owner TEXT,
            lease_expires REAL,
            last_error TEXT
        );
        CREATE INDEX jobs_available ON jobs(available_at);
        """

    /// Runs `body` in an IMMEDIATE transaction: the write lock is taken at the start, so a transaction
    /// that reads before it writes cannot fail half-way on another process's commit.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    public func insert(_ report: NewReport) async throws {
        let annotations = try Self.jsonText(report.annotations)
        let attachments = try Self.jsonText(report.attachments)
        try await transaction { db in
            try db.execute(
                sql: """
                    INSERT INTO reports (id, received_at, product, version, annotations, dump_size, attachments, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')
                    """,
                arguments: [
                    report.id, report.receivedAt.timeIntervalSince1970, report.product, report.version, annotations,
                    report.dumpSize, attachments,
                ])
            try db.execute(
                sql: "INSERT INTO jobs (report_id, available_at) VALUES (?, ?)",
                arguments: [report.id, report.receivedAt.timeIntervalSince1970])
            for (key, value) in report.annotations {
                try db.execute(
                    sql: "INSERT INTO report_annotations (report_id, key, value) VALUES (?, ?, ?)",
                    arguments: [report.id, key, value])
            }
        }
    }

    public func claim(worker: String, now: Date, lease: Duration, maxAttempts: Int) async throws -> ClaimOutcome {
        let time = now.timeIntervalSince1970
        let expires = time + lease.seconds
        return try await transaction { db in
            let given = try Row.fetchAll(
                db,
                sql: """
                    DELETE FROM jobs WHERE lease_owner IS NOT NULL AND lease_expires <= ? AND attempts >= ?
                    RETURNING report_id, attempts
                    """, arguments: [time, maxAttempts])
            var abandoned = [String]()
            for row in given {
                let id: String = row["report_id"]
                let attempts: Int = row["attempts"]
                try db.execute(
                    sql: "UPDATE reports SET status = 'failed', failure = ?, processed_at = ? WHERE id = ?",
                    arguments: [
                        "processing did not finish in \(attempts) attempts (the worker died or its lease ran out each time)",
                        time, id,
                    ])
                abandoned.append(id)
            }
            let claimed = try Row.fetchOne(
                db,
                sql: """
                    UPDATE jobs SET lease_owner = ?, lease_expires = ?, attempts = attempts + 1
                    WHERE report_id = (
                        SELECT report_id FROM jobs
                        WHERE (lease_owner IS NULL AND available_at <= ?) OR (lease_owner IS NOT NULL AND lease_expires <= ?)
                        ORDER BY available_at LIMIT 1)
                    RETURNING report_id, attempts
                    """, arguments: [worker, expires, time, time])
            guard let claimed else { return ClaimOutcome(job: nil, abandoned: abandoned) }
            let job = ClaimedJob(reportID: claimed["report_id"], attempt: claimed["attempts"])
            try db.execute(sql: "UPDATE reports SET status = 'processing' WHERE id = ?", arguments: [job.reportID])
            return ClaimOutcome(job: job, abandoned: abandoned)
        }
    }

    public func renewLease(reportID: String, worker: String, until: Date) async throws -> Bool {
        try await transaction { db in
            try db.execute(
                sql: "UPDATE jobs SET lease_expires = ? WHERE report_id = ? AND lease_owner = ?",
                arguments: [until.timeIntervalSince1970, reportID, worker])
            return db.changesCount == 1
        }
    }

    public func complete(reportID: String, worker: String, result: ProcessingResult) async throws -> Bool {
        try await transaction { db in
            try db.execute(sql: "DELETE FROM jobs WHERE report_id = ? AND lease_owner = ?", arguments: [reportID, worker])
            guard db.changesCount == 1 else { return false }
            let bucket = try Int64.fetchOne(
                db,
                sql: """
                    INSERT INTO buckets (signature, first_seen, last_seen)
                    SELECT ?, received_at, received_at FROM reports WHERE id = ?
                    ON CONFLICT (signature) DO UPDATE SET
                        first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)
                    RETURNING id
                    """, arguments: [result.signature, reportID])
            try db.execute(
                sql: """
                    UPDATE reports SET status = 'processed', failure = NULL, signature = ?, bucket_id = ?, crash_reason = ?,
                        crash_address = ?, wer_bucket = ?, platform = ?, processed_at = ?, processing_seconds = ?
                    WHERE id = ?
                    """,
                arguments: [
                    result.signature, bucket, result.crashReason, result.crashAddress, result.werBucket, result.platform,
                    result.processedAt.timeIntervalSince1970, result.processingSeconds, reportID,
                ])
            try db.execute(
                sql: "INSERT OR REPLACE INTO processed (report_id, json) VALUES (?, ?)",
                arguments: [reportID, result.processedJSON])
            // A reprocessed crash may have loaded other modules than its last result said.
            try db.execute(sql: "DELETE FROM report_modules WHERE report_id = ?", arguments: [reportID])
            for name in ProcessedModules.names(in: result.processedJSON) {
                try db.execute(
                    sql: "INSERT INTO report_modules (report_id, name) VALUES (?, ?)", arguments: [reportID, name])
            }
            return true
        }
    }

    public func retry(reportID: String, worker: String, error: String, at: Date) async throws {
        try await transaction { db in
            try db.execute(
                sql: """
                    UPDATE jobs SET lease_owner = NULL, lease_expires = NULL, available_at = ?, last_error = ?
                    WHERE report_id = ? AND lease_owner = ?
                    """, arguments: [at.timeIntervalSince1970, error, reportID, worker])
            if db.changesCount == 1 {
                try db.execute(sql: "UPDATE reports SET status = 'queued' WHERE id = ?", arguments: [reportID])
            }
        }
    }

    public func fail(reportID: String, worker: String, reason: String, at: Date) async throws {
        try await transaction { db in
            try db.execute(sql: "DELETE FROM jobs WHERE report_id = ? AND lease_owner = ?", arguments: [reportID, worker])
            if db.changesCount == 1 {
                try db.execute(
                    sql: "UPDATE reports SET status = 'failed', failure = ?, processed_at = ? WHERE id = ?",
                    arguments: [reason, at.timeIntervalSince1970, reportID])
            }
        }
    }

    public func requeue(bucketID: Int64?, at: Date) async throws -> RequeueOutcome {
        let finished = "status IN ('processed', 'failed')" + (bucketID == nil ? "" : " AND bucket_id = ?")
        // Without its dump a report cannot be analyzed again; it keeps its last result.
        let condition = finished + " AND dump_purged_at IS NULL"
        let arguments: StatementArguments = bucketID.map { [$0] } ?? []
        return try await transaction { db in
            let skipped =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM reports WHERE \(finished) AND dump_purged_at IS NOT NULL",
                    arguments: arguments) ?? 0
            // Finished reports have no job row; the report keeps its last result until the new one replaces it.
            try db.execute(
                sql: "INSERT INTO jobs (report_id, available_at) SELECT id, ? FROM reports WHERE \(condition)",
                arguments: StatementArguments([at.timeIntervalSince1970]) + arguments)
            try db.execute(sql: "UPDATE reports SET status = 'queued' WHERE \(condition)", arguments: arguments)
            return RequeueOutcome(requeued: db.changesCount, skippedPurged: skipped)
        }
    }

    public func markDumpsPurged(receivedBefore cutoff: Date, at: Date, limit: Int) async throws -> [PurgeCandidate] {
        try await transaction { db in
            try Row.fetchAll(
                db,
                sql: """
                    UPDATE reports SET dump_purged_at = ?
                    WHERE id IN (
                        SELECT id FROM reports
                        WHERE dump_purged_at IS NULL AND received_at < ? AND status IN ('processed', 'failed')
                        ORDER BY received_at, id LIMIT ?)
                    RETURNING id, attachments
                    """, arguments: [at.timeIntervalSince1970, cutoff.timeIntervalSince1970, limit]
            ).map { row in
                let attachments: String = row["attachments"]
                return try Self.purgeCandidate(id: row["id"], attachments: attachments)
            }.sorted { $0.reportID < $1.reportID }
        }
    }

    public func unmarkDumpPurged(reportID: String) async throws {
        try await transaction { db in
            try db.execute(sql: "UPDATE reports SET dump_purged_at = NULL WHERE id = ?", arguments: [reportID])
        }
    }

    static func purgeCandidate(id: String, attachments: String) throws -> PurgeCandidate {
        let records = try JSONDecoder().decode([AttachmentRecord].self, from: Data(attachments.utf8))
        return PurgeCandidate(reportID: id, attachmentIndexes: records.map(\.index).sorted())
    }

    public func search(_ search: ReportSearch) async throws -> Page<ReportRecord> {
        var conditions = [String]()
        var arguments = StatementArguments()
        if let pattern = search.signaturePattern {
            conditions.append("lower(signature) LIKE ? ESCAPE '\\'")
            arguments += [pattern]
        }
        if let module = search.module {
            conditions.append("EXISTS (SELECT 1 FROM report_modules m WHERE m.report_id = reports.id AND m.name = ?)")
            arguments += [module.asciiLowercased]
        }
        if let version = search.version {
            conditions.append("version = ?")
            arguments += [version]
        }
        if let product = search.product {
            conditions.append("product = ?")
            arguments += [product]
        }
        for annotation in search.annotations {
            conditions.append(
                "EXISTS (SELECT 1 FROM report_annotations a WHERE a.report_id = reports.id AND a.key = ? AND a.value = ?)")
            arguments += [annotation.key, annotation.value]
        }
        if let status = search.status {
            conditions.append("status = ?")
            arguments += [status.rawValue]
        }
        let condition = conditions.isEmpty ? "1 = 1" : conditions.joined(separator: " AND ")
        return try await reportPage(where: condition, arguments: arguments, page: search.page, perPage: search.perPage)
    }

    public func report(id: String) async throws -> ReportRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM reports WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    public func processedJSON(reportID: String) async throws -> Data? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT json FROM processed WHERE report_id = ?", arguments: [reportID])
        }
    }

    /// The WHERE clause shared by range queries over `reports r`.
    private static func filter(_ query: BucketQuery) -> (sql: String, arguments: StatementArguments) {
        var sql = "r.received_at >= ? AND r.received_at < ?"
        var arguments: StatementArguments = [query.from.timeIntervalSince1970, query.to.timeIntervalSince1970]
        if let product = query.product {
            sql += " AND r.product = ?"
            arguments += [product]
        }
        if let version = query.version {
            sql += " AND r.version = ?"
            arguments += [version]
        }
        return (sql, arguments)
    }

    public func topBuckets(_ query: BucketQuery) async throws -> Page<BucketSummary> {
        let (filter, arguments) = Self.filter(query)
        return try await pool.read { db in
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(DISTINCT r.bucket_id) FROM reports r WHERE r.status = 'processed' AND \(filter)",
                    arguments: arguments) ?? 0
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT b.id, b.signature, COUNT(*) AS count, MIN(r.received_at) AS first, MAX(r.received_at) AS last
                    FROM reports r JOIN buckets b ON b.id = r.bucket_id
                    WHERE r.status = 'processed' AND \(filter)
                    GROUP BY b.id ORDER BY count DESC, b.id LIMIT ? OFFSET ?
                    """, arguments: arguments + [query.perPage, query.page * query.perPage])
            var items = [BucketSummary]()
            for row in rows {
                let id: Int64 = row["id"]
                let versions = try String.fetchAll(
                    db,
                    sql: """
                        SELECT r.version FROM reports r WHERE r.bucket_id = ? AND r.version IS NOT NULL AND \(filter)
                        GROUP BY r.version ORDER BY COUNT(*) DESC, r.version LIMIT 5
                        """, arguments: [id] + arguments)
                items.append(
                    BucketSummary(
                        id: id, signature: row["signature"], count: row["count"],
                        firstSeen: Date(timeIntervalSince1970: row["first"]), lastSeen: Date(timeIntervalSince1970: row["last"]),
                        versions: versions))
            }
            return Page(items: items, page: query.page, perPage: query.perPage, total: total)
        }
    }

    public func bucket(id: Int64) async throws -> BucketDetail? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM buckets WHERE id = ?", arguments: [id]) else {
                return nil
            }
            func tally(_ column: String) throws -> [Tally] {
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(column) AS value, COUNT(*) AS count FROM reports
                        WHERE bucket_id = ? AND \(column) IS NOT NULL GROUP BY \(column) ORDER BY count DESC, value LIMIT 20
                        """, arguments: [id]
                ).map { Tally(value: $0["value"], count: $0["count"]) }
            }
            let count =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reports WHERE bucket_id = ?", arguments: [id]) ?? 0
            return BucketDetail(
                id: id, signature: row["signature"], firstSeen: Date(timeIntervalSince1970: row["first_seen"]),
                lastSeen: Date(timeIntervalSince1970: row["last_seen"]), reportCount: count,
                werBuckets: try tally("wer_bucket"), versions: try tally("version"), products: try tally("product"),
                platforms: try tally("platform"))
        }
    }

    public func reports(bucketID: Int64, page: Int, perPage: Int) async throws -> Page<ReportRecord> {
        try await reportPage(where: "bucket_id = ?", arguments: [bucketID], page: page, perPage: perPage)
    }

    public func reports(status: ReportStatus, page: Int, perPage: Int) async throws -> Page<ReportRecord> {
        try await reportPage(where: "status = ?", arguments: [status.rawValue], page: page, perPage: perPage)
    }

    private func reportPage(where condition: String, arguments: StatementArguments, page: Int, perPage: Int)
        async throws -> Page<ReportRecord>
    {
        try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM reports WHERE \(condition)", arguments: arguments) ?? 0
            let items = try Row.fetchAll(
                db,
                sql: "SELECT * FROM reports WHERE \(condition) ORDER BY received_at DESC, id LIMIT ? OFFSET ?",
                arguments: arguments + [perPage, page * perPage]
            ).map(Self.record)
            return Page(items: items, page: page, perPage: perPage, total: total)
        }
    }

    public func crashesPerDay(_ query: BucketQuery, bucketID: Int64?) async throws -> [DayCount] {
        var (condition, values) = Self.filter(query)
        if let bucketID {
            condition += " AND r.bucket_id = ?"
            values += [bucketID]
        }
        let (filter, arguments) = (condition, values)
        return try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(r.received_at / 86400 AS INTEGER) AS day, COUNT(*) AS count FROM reports r
                    WHERE \(filter) GROUP BY day ORDER BY day
                    """, arguments: arguments
            ).map { row in
                let day: Int64 = row["day"]
                return DayCount(day: Self.dayText(Date(timeIntervalSince1970: Double(day) * 86400)), count: row["count"])
            }
        }
    }

    public func queueDepth(now: Date) async throws -> QueueDepth {
        let time = now.timeIntervalSince1970
        return try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(lease_owner IS NULL OR lease_expires <= ?), 0) AS waiting,
                           COALESCE(SUM(lease_owner IS NOT NULL AND lease_expires > ?), 0) AS leased
                    FROM jobs
                    """, arguments: [time, time])
            return QueueDepth(waiting: row?["waiting"] ?? 0, leased: row?["leased"] ?? 0)
        }
    }

    public func statusCounts() async throws -> [ReportStatus: Int] {
        try await pool.read { db in
            var counts = [ReportStatus: Int]()
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS count FROM reports GROUP BY status") {
                if let status = ReportStatus(rawValue: row["status"]) { counts[status] = row["count"] }
            }
            return counts
        }
    }

    static func record(_ row: Row) throws -> ReportRecord {
        let annotations: String = row["annotations"]
        let attachments: String = row["attachments"]
        let processedAt: Double? = row["processed_at"]
        return ReportRecord(
            id: row["id"], receivedAt: Date(timeIntervalSince1970: row["received_at"]), product: row["product"],
            version: row["version"],
            annotations: try JSONDecoder().decode([String: String].self, from: Data(annotations.utf8)),
            dumpSize: row["dump_size"],
            attachments: try JSONDecoder().decode([AttachmentRecord].self, from: Data(attachments.utf8)),
            status: ReportStatus(rawValue: row["status"]) ?? .failed, failure: row["failure"], signature: row["signature"],
            bucketID: row["bucket_id"], crashReason: row["crash_reason"], crashAddress: row["crash_address"],
            werBucket: row["wer_bucket"], platform: row["platform"],
            processedAt: processedAt.map(Date.init(timeIntervalSince1970:)),
            processingSeconds: row["processing_seconds"],
            dumpPurgedAt: (row["dump_purged_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func dayText(_ date: Date) -> String {
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
