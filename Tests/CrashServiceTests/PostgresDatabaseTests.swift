import Foundation
import TestSupport
import Testing

@testable import CrashService

/// `PostgresCrashDatabase` against a real server: the same answers as SQLite, and claims that never collide.
@Suite("PostgreSQL database", .serialized, .ownThread)
struct PostgresDatabaseTests {
    /// Runs `body` with a database on a new server, its pool running.
    static func withDatabase<T: Sendable>(
        _ body: @escaping @Sendable (PostgresCrashDatabase, PostgresTestServer) async throws -> T
    ) async throws -> T {
        try await withPostgresServer { server in
            let database = try PostgresCrashDatabase(url: server.url, logger: ServiceFixtures.quietLogger)
            return try await database.withRunning { try await body(database, server) }
        }
    }

    @Test func answersEveryQueryAsSQLiteDoes() async throws {
        let folder = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sqlite = try SQLiteCrashDatabase(path: folder + "/postmortem.sqlite")
        let expected = try await Self.transcript(sqlite)
        let actual = try await Self.withDatabase { database, _ in try await Self.transcript(database) }
        #expect(actual.count == expected.count)
        for (index, (left, right)) in zip(expected, actual).enumerated() {
            #expect(left == right, "answer \(index) differs")
        }
        // The script reaches every kind of answer, not only empty ones.
        #expect(expected.contains { $0.contains("\"report_count\":4") })
        #expect(expected.contains { $0.hasPrefix("abandoned") && $0 != "abandoned []" })
        #expect(expected.contains { $0.contains("\"dump_purged_at\"") })
        #expect(expected.contains { $0.hasPrefix("requeue bucket 2") && !$0.contains("skippedPurged: 0") })
        // Searches that must find something do, and the literal wildcards find only their own signature.
        let searches = expected.filter { $0.hasPrefix("search ") }
        #expect(searches.count == 19)
        for index in [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 17] {
            #expect(!searches[index].contains("total 0:"), "search \(index) found nothing: \(searches[index])")
        }
        for index in [1, 2, 3, 4] { #expect(searches[index].contains("total 1:"), "\(searches[index])") }
        for index in [8, 10, 13, 14] { #expect(searches[index].contains("total 0:"), "\(searches[index])") }
    }

    /// Databases the first version created (no purge column, no search tables) are migrated at start, and the
    /// reports already in them become searchable by annotation and module, in both databases alike.
    @Test func migrationMakesOldReportsSearchableAsSQLiteDoes() async throws {
        let folder = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/postmortem.sqlite"
        let document =
            #"{"modules":[{"filename":"KERNEL32.dll"},{"filename":"app.exe"},{"filename":"APP.exe"},{"filename":""},{}],"n":1}"#
        let hex = Data(document.utf8).map { String(format: "%02x", $0) }.joined()
        func rows(_ blob: String) -> String {
            """
            INSERT INTO buckets (id, signature, first_seen, last_seen) VALUES (1, 'Sig A', 100, 100);
            INSERT INTO reports (id, received_at, product, version, annotations, dump_size, attachments, status, signature, bucket_id)
            VALUES ('r1', 100, 'App', '1.0', '{"channel":"beta","prod":"App"}', 10, '[{"field":"log","index":0,"size":3}]',
                'processed', 'Sig A', 1);
            INSERT INTO reports (id, received_at, product, version, annotations, dump_size, attachments, status)
            VALUES ('r2', 200, 'App', '1.0', '{"channel":"stable","prod":"App"}', 10, '[]', 'queued');
            INSERT INTO reports (id, received_at, product, version, annotations, dump_size, attachments, status, failure)
            VALUES ('r3', 300, 'App', '2.0', '{"channel":"beta","prod":"App"}', 10, '[]', 'failed', 'unreadable');
            INSERT INTO processed (report_id, json) VALUES ('r1', \(blob));
            INSERT INTO jobs (report_id, available_at) VALUES ('r2', 200);
            """
        }
        // The first version's SQLite file, written by Python's sqlite3 as GRDB's migrator left it.
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.executescript(sys.stdin.read())
            db.commit()
            """
        let sqliteSetup =
            SQLiteCrashDatabase.schema
            + "\nCREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY); INSERT INTO grdb_migrations VALUES ('v1');\n"
            + rows("X'\(hex)'")
        let created = try runProcess(TestEnvironment.python, ["-c", script, path], input: Data(sqliteSetup.utf8))
        try #require(created.status == 0, "\(created.stderrText)")

        @Sendable func answers(_ database: any CrashDatabase) async throws -> [String] {
            let searches = [
                ReportSearch(annotations: [.init(key: "channel", value: "beta")]),
                ReportSearch(annotations: [.init(key: "prod", value: "App")], perPage: 2),
                ReportSearch(module: "kernel32.DLL"), ReportSearch(module: "app.exe"), ReportSearch(module: ""),
                ReportSearch(signature: "sig a"),
            ]
            var answers = [String]()
            for search in searches {
                let page = try await database.search(search)
                answers.append("\(page.total) \(page.items.map(\.id))")
            }
            answers.append("purged \(try await database.markDumpsPurged(receivedBefore: Date(), at: Date(), limit: 10))")
            answers.append("requeue \(try await database.requeue(bucketID: nil, at: Date()))")
            return answers
        }
        let expected = [
            "2 [\"r3\", \"r1\"]", "3 [\"r3\", \"r2\"]", "1 [\"r1\"]", "1 [\"r1\"]", "0 []", "1 [\"r1\"]",
            "purged [CrashService.PurgeCandidate(reportID: \"r1\", attachmentIndexes: [0]), "
                + "CrashService.PurgeCandidate(reportID: \"r3\", attachmentIndexes: [])]",
            "requeue RequeueOutcome(requeued: 0, skippedPurged: 2)",
        ]
        #expect(try await answers(try SQLiteCrashDatabase(path: path)) == expected)
        let postgres = try await withPostgresServer { server in
            _ = try server.psql(
                PostgresCrashDatabase.firstSchema.joined(separator: ";\n") + ";\n" + rows("decode('\(hex)', 'hex')"))
            let database = try PostgresCrashDatabase(url: server.url, logger: ServiceFixtures.quietLogger)
            return try await database.withRunning { try await answers(database) }
        }
        #expect(postgres == expected)
    }

    @Test func concurrentClaimersNeverGetTheSameJob() async throws {
        let count = 300
        try await withPostgresServer { server in
            // Two pools, as two worker processes have; both create the schema at once.
            let first = try PostgresCrashDatabase(url: server.url, logger: ServiceFixtures.quietLogger)
            let second = try PostgresCrashDatabase(url: server.url, logger: ServiceFixtures.quietLogger)
            try await first.withRunning {
                try await second.withRunning {
                    let start = Date()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<count {
                            group.addTask {
                                try await first.insert(Self.newReport(index, at: start.addingTimeInterval(Double(-index))))
                            }
                        }
                        try await group.waitForAll()
                    }
                    let claims = try await withThrowingTaskGroup(of: [(String, String)].self) { group in
                        for (name, database) in [("a", first), ("b", second)] {
                            for task in 0..<6 {
                                group.addTask {
                                    let worker = "\(name)-\(task)"
                                    var mine = [(String, String)]()
                                    while let job = try await database.claim(
                                        worker: worker, now: Date(), lease: .seconds(600), maxAttempts: 3
                                    ).job {
                                        mine.append((job.reportID, worker))
                                    }
                                    return mine
                                }
                            }
                        }
                        return try await group.reduce(into: []) { $0 += $1 }
                    }
                    #expect(claims.count == count, "\(claims.count) claims of \(count) jobs")
                    #expect(Set(claims.map(\.0)).count == count, "a job was claimed twice")
                    #expect(Set(claims.map(\.1)).count > 1)
                    #expect(try await first.queueDepth(now: Date()) == QueueDepth(waiting: 0, leased: count))

                    // Completing concurrently into a few buckets: each signature gets one bucket.
                    try await withThrowingTaskGroup(of: Bool.self) { group in
                        for (index, (id, worker)) in claims.enumerated() {
                            let database = worker.hasPrefix("a") ? first : second
                            group.addTask {
                                try await database.complete(
                                    reportID: id, worker: worker, result: Self.result("sig \(index % 5)", at: start))
                            }
                        }
                        for try await completed in group { #expect(completed) }
                    }
                    #expect(try await second.statusCounts() == [.processed: count])
                    let buckets = try await first.topBuckets(
                        BucketQuery(from: start.addingTimeInterval(-3600), to: start.addingTimeInterval(1)))
                    #expect(buckets.total == 5)
                    #expect(buckets.items.map(\.count) == [60, 60, 60, 60, 60])
                }
            }
        }
    }

    static let start = Date(timeIntervalSince1970: 1_767_225_600.25)  // 2026-01-01T00:00:00.25Z

    static func newReport(_ index: Int, at time: Date) -> NewReport {
        let versions = ["1.10", "1.9", "B", "a", "1.9"]
        return NewReport(
            id: String(format: "%08x-0000-4000-8000-%012x", index, index * 7919), receivedAt: time,
            product: index % 3 == 0 ? "Other" : "App", version: index % 7 == 6 ? nil : versions[index % versions.count],
            annotations: ["prod": index % 3 == 0 ? "Other" : "App", "guid": "g\(index)", "ptype": "browser"],
            dumpSize: 1000 + index,
            attachments: index % 4 == 0 ? [AttachmentRecord(index: 0, field: "log", fileName: "a.log", size: index)] : [])
    }

    static func result(_ signature: String, at time: Date, index: Int = 0) -> ProcessingResult {
        ProcessingResult(
            signature: signature, crashReason: index % 2 == 0 ? "EXCEPTION_ACCESS_VIOLATION_READ" : nil,
            crashAddress: String(format: "0x%08x", index), werBucket: index % 3 == 0 ? nil : "app.exe|1.0|\(index % 2)",
            platform: index % 2 == 0 ? "Windows NT amd64" : "Linux arm64",
            processedJSON: processedJSON(index), processingSeconds: Double(index) / 8,
            processedAt: time.addingTimeInterval(Double(index) + 0.125))
    }

    /// A processed document with a module list: the main executable in mixed case, a module that varies with
    /// `index`, one listed twice, and entries without a usable name.
    static func processedJSON(_ index: Int) -> Data {
        let modules = [
            "{\"filename\":\"App.EXE\"}", "{\"filename\":\"mod\(index % 3).dll\"}", "{\"filename\":\"MOD\(index % 3).DLL\"}",
            "{\"filename\":\"\"}", "{\"base_addr\":\"0x1000\"}", "{\"filename\":\"Ünïcode\(index % 2).so\"}",
        ]
        return Data("{\"modules\":[\(modules.joined(separator: ","))],\"n\":\(index)}".utf8)
    }

    /// A fixed script of writes and claims, and every answer along the way as text.
    static func transcript(_ database: any CrashDatabase) async throws -> [String] {
        var answers = [String]()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        func note<T: Encodable>(_ value: T) throws { answers.append(String(decoding: try encoder.encode(value), as: UTF8.self)) }

        // 24 reports, about 9 hours apart: three UTC days and a bit, several products and versions.
        let count = 24
        for index in 0..<count {
            try await database.insert(newReport(index, at: start.addingTimeInterval(Double(index) * 32_400.5)))
        }
        var now = start.addingTimeInterval(30 * 86400)
        let lease = Duration.seconds(60)
        var claimed = [ClaimedJob]()
        // Claim and finish most of them: four signatures, some failures, one retry.
        for index in 0..<18 {
            let outcome = try await database.claim(worker: "w1", now: now, lease: lease, maxAttempts: 2)
            answers.append("claim \(String(describing: outcome.job)) abandoned \(outcome.abandoned.sorted())")
            guard let job = outcome.job else { continue }
            claimed.append(job)
            switch index % 6 {
            case 5:
                try await database.fail(reportID: job.reportID, worker: "w1", reason: "unreadable \(index)", at: now)
            case 4 where index < 6:
                try await database.retry(
                    reportID: job.reportID, worker: "w1", error: "storage", at: now.addingTimeInterval(5))
            default:
                let done = try await database.complete(
                    reportID: job.reportID, worker: "w1", result: result("sig \(index % 4)", at: now, index: index))
                answers.append("complete \(done)")
            }
        }
        answers.append("depth \(try await database.queueDepth(now: now))")
        // A lease that runs out is claimed again; past maxAttempts it is abandoned.
        let held = try await database.claim(worker: "w2", now: now, lease: lease, maxAttempts: 2)
        answers.append("held \(String(describing: held.job))")
        answers.append("renew wrong \(try await database.renewLease(reportID: held.job!.reportID, worker: "w9", until: now))")
        answers.append(
            "renew own \(try await database.renewLease(reportID: held.job!.reportID, worker: "w2", until: now.addingTimeInterval(60)))"
        )
        answers.append("depth \(try await database.queueDepth(now: now.addingTimeInterval(30)))")
        now = now.addingTimeInterval(200)
        let again = try await database.claim(worker: "w3", now: now, lease: lease, maxAttempts: 2)
        answers.append("again \(String(describing: again.job)) abandoned \(again.abandoned)")
        let lost = try await database.complete(reportID: held.job!.reportID, worker: "w2", result: result("lost", at: now))
        answers.append("lost \(lost)")
        now = now.addingTimeInterval(200)
        for _ in 0..<3 {
            let outcome = try await database.claim(worker: "w4", now: now, lease: lease, maxAttempts: 2)
            answers.append("abandoned \(outcome.abandoned.sorted()) then \(String(describing: outcome.job))")
            if let job = outcome.job {
                _ = try await database.complete(reportID: job.reportID, worker: "w4", result: result("sig 1", at: now, index: 7))
            }
        }
        answers.append("depth \(try await database.queueDepth(now: now))")

        let day: TimeInterval = 86400
        let queries = [
            BucketQuery(from: start.addingTimeInterval(-day), to: start.addingTimeInterval(10 * day)),
            BucketQuery(from: start.addingTimeInterval(-day), to: start.addingTimeInterval(10 * day), perPage: 2),
            BucketQuery(from: start.addingTimeInterval(-day), to: start.addingTimeInterval(10 * day), page: 1, perPage: 2),
            BucketQuery(from: start.addingTimeInterval(day), to: start.addingTimeInterval(2.5 * day)),
            BucketQuery(from: start, to: start.addingTimeInterval(10 * day), product: "App"),
            BucketQuery(from: start, to: start.addingTimeInterval(10 * day), product: "Other", version: "1.9"),
            BucketQuery(from: start.addingTimeInterval(20 * day), to: start.addingTimeInterval(21 * day)),
        ]
        for query in queries {
            try note(try await database.topBuckets(query))
            try note(try await database.crashesPerDay(query, bucketID: nil))
            for bucket in 1...3 { try note(try await database.crashesPerDay(query, bucketID: Int64(bucket))) }
        }
        for id in Int64(1)...6 {
            try note(try await database.bucket(id: id))
            try note(try await database.reports(bucketID: id, page: 0, perPage: 3))
            try note(try await database.reports(bucketID: id, page: 1, perPage: 3))
        }
        for status in ReportStatus.allCases {
            try note(try await database.reports(status: status, page: 0, perPage: 50))
            try note(try await database.reports(status: status, page: 1, perPage: 4))
        }
        try note(try await database.statusCounts().sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" })
        for index in 0..<count {
            let id = newReport(index, at: start).id
            try note(try await database.report(id: id))
            answers.append("json \(String(describing: try await database.processedJSON(reportID: id).map { Array($0) }))")
        }
        try note(try await database.report(id: "missing"))

        // Retention: the oldest finished reports in batches, one put back as a failed deletion does.
        let cutoff = start.addingTimeInterval(2 * day)
        let first = try await database.markDumpsPurged(receivedBefore: cutoff, at: now, limit: 2)
        answers.append("purged \(first)")
        let rest = try await database.markDumpsPurged(receivedBefore: cutoff, at: now.addingTimeInterval(1), limit: 50)
        answers.append("purged \(rest)")
        try await database.unmarkDumpPurged(reportID: try #require(first.first).reportID)
        answers.append("purged again \(try await database.markDumpsPurged(receivedBefore: cutoff, at: now, limit: 50))")
        answers.append("none left \(try await database.markDumpsPurged(receivedBefore: cutoff, at: now, limit: 50))")
        for id in (first + rest).map(\.reportID) { try note(try await database.report(id: id)) }

        // Reprocessing: one bucket, then everything; the requeued jobs are claimable again.
        answers.append("requeue bucket 2: \(try await database.requeue(bucketID: 2, at: now))")
        answers.append("depth \(try await database.queueDepth(now: now))")
        answers.append("requeue all: \(try await database.requeue(bucketID: nil, at: now))")
        try note(try await database.statusCounts().sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" })
        let reclaimed = try await database.claim(worker: "w5", now: now, lease: lease, maxAttempts: 2)
        answers.append("reclaimed \(reclaimed.job != nil)")

        // Signatures with LIKE's wildcards and its escape character, which a search must take literally.
        for (index, signature) in [(100, "Weird 100%_done\\path"), (101, "weird 100xxdone/path")] {
            try await database.insert(newReport(index, at: start.addingTimeInterval(3 * day + Double(index))))
            let job = try await database.claim(worker: "w6", now: now, lease: lease, maxAttempts: 2).job
            answers.append("claimed \(String(describing: job))")
            if let job {
                _ = try await database.complete(
                    reportID: job.reportID, worker: "w6", result: result(signature, at: now, index: index))
            }
        }
        let browser = ReportSearch.Annotation(key: "ptype", value: "browser")
        let searches = [
            ReportSearch(signature: "SIG 1"), ReportSearch(signature: "100%_"), ReportSearch(signature: "\\"),
            ReportSearch(signature: "%"), ReportSearch(signature: "_"), ReportSearch(signature: "100XX"),
            ReportSearch(module: "MOD1.DLL"), ReportSearch(module: "app.exe", version: "1.9"),
            ReportSearch(module: "ünïcode1.so"), ReportSearch(module: "Ünïcode1.so"), ReportSearch(module: "mod"),
            ReportSearch(annotations: [browser], page: 1, perPage: 5),
            ReportSearch(annotations: [.init(key: "prod", value: "Other"), .init(key: "guid", value: "g3")]),
            ReportSearch(annotations: [.init(key: "guid", value: "g3"), .init(key: "prod", value: "App")]),
            ReportSearch(annotations: [.init(key: "guid", value: "G3")]),
            ReportSearch(product: "App", status: .queued), ReportSearch(status: .processed),
            ReportSearch(page: 2, perPage: 7),
            ReportSearch(signature: "sig", module: "mod2.dll", version: "1.10", annotations: [browser]),
        ]
        for (index, search) in searches.enumerated() {
            let page = try await database.search(search)
            answers.append("search \(index) total \(page.total): \(page.items.map(\.id))")
            try note(page)
        }
        return answers
    }
}
