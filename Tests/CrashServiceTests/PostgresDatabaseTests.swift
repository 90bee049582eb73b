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
            processedJSON: Data("{\"n\":\(index)}".utf8), processingSeconds: Double(index) / 8,
            processedAt: time.addingTimeInterval(Double(index) + 0.125))
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

        // Reprocessing: one bucket, then everything; the requeued jobs are claimable again.
        answers.append("requeue bucket 2: \(try await database.requeue(bucketID: 2, at: now))")
        answers.append("depth \(try await database.queueDepth(now: now))")
        answers.append("requeue all: \(try await database.requeue(bucketID: nil, at: now))")
        try note(try await database.statusCounts().sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key) \($0.value)" })
        let reclaimed = try await database.claim(worker: "w5", now: now, lease: lease, maxAttempts: 2)
        answers.append("reclaimed \(reclaimed.job != nil)")
        return answers
    }
}
