import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import CrashService

/// `--retention-days`: old dumps and attachments go, the results stay, and nothing offers what is gone.
@Suite("Retention", .ownThread)
struct RetentionTests {
    static let admin: HTTPFields = [.authorization: "Bearer \(ServiceFixtures.adminToken.secret)"]

    @Test func sweepDeletesOldDumpsAndKeepsTheResults() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        let parts = try ServiceParts(configuration: ServiceFixtures.configuration(data: data))
        let sweeper = RetentionSweeper(
            database: parts.database, storage: parts.storage, settings: RetentionSettings(days: 30), metrics: parts.metrics,
            logger: ServiceFixtures.quietLogger)
        try await buildCrashService(parts: parts).test(.router) { client in
            let upload = Upload.crashpad(dump: dump, attachments: [("log", "app.log", Array("log text".utf8))])
            let (_, good) = try await ServiceRouterTests.submit(client, upload)
            let (_, bad) = try await ServiceRouterTests.submit(client, .crashpad(dump: Array("not a minidump".utf8)))
            let processed = try await ServiceRouterTests.settled(client, String(good.dropFirst(11).prefix(36)))
            let failed = try await ServiceRouterTests.settled(client, String(bad.dropFirst(11).prefix(36)))
            try #require(processed.status == .processed && failed.status == .failed)
            let id = processed.id
            let dumpPath = "\(data)/dumps/\(id.prefix(2))/\(id).dmp"
            let attachmentFolder = "\(data)/attachments/\(id.prefix(2))/\(id)"

            // Reports younger than the retention age keep their files.
            #expect(try await sweeper.sweep(now: Date()) == 0)
            #expect(FileManager.default.fileExists(atPath: dumpPath))
            #expect(FileManager.default.fileExists(atPath: attachmentFolder + "/0"))

            let later = Date().addingTimeInterval(31 * 86400)
            #expect(try await sweeper.sweep(now: later) == 2)
            #expect(!FileManager.default.fileExists(atPath: dumpPath))
            #expect(!FileManager.default.fileExists(atPath: attachmentFolder), "the attachments' folder is left")
            #expect(!FileManager.default.fileExists(atPath: "\(data)/dumps/\(failed.id.prefix(2))/\(failed.id).dmp"))
            // A second sweep finds nothing more to do.
            #expect(try await sweeper.sweep(now: later) == 0)

            // The row, the processed document and the bucket stay; the report says the dump is gone.
            try await client.execute(uri: "/api/reports/\(id)", method: .get, headers: ServiceRouterTests.read) { response in
                let text = String(buffer: response.body)
                let report = try JSONDecoder.api.decode(ReportEnvelope.self, from: Data(buffer: response.body)).report
                let purgedAt = try #require(report.dumpPurgedAt)
                #expect(abs(purgedAt.timeIntervalSince(later)) < 1)
                #expect(report.signature == processed.signature && report.bucketID == processed.bucketID)
                #expect(report.attachments == processed.attachments)
                #expect(text.contains("\"processed\":{"))
            }
            try await client.execute(uri: "/api/reports/bp-\(id)/dump", method: .get, headers: ServiceRouterTests.read) {
                #expect($0.status == .gone)
                #expect(String(buffer: $0.body).contains("removed by retention"))
            }
            try await client.execute(uri: "/reports/\(id)", method: .get, headers: ServiceRouterTests.read) { response in
                let html = String(buffer: response.body)
                #expect(html.contains("removed by retention on \(timeText(later)) UTC"))
                #expect(!html.contains("/api/reports/\(id)/dump"))
                #expect(html.contains("Crashing thread"), "the processed results are still shown")
            }
            let bucket = try #require(processed.bucketID)
            try await client.execute(uri: "/api/buckets/\(bucket)", method: .get, headers: ServiceRouterTests.read) {
                #expect(String(buffer: $0.body).contains("\"report_count\":1"))
            }
            try await client.execute(uri: "/metrics", method: .get, headers: ServiceRouterTests.read) {
                #expect(String(buffer: $0.body).contains("postmortem_dumps_purged_total 2\n"))
            }

            // Reprocessing has nothing to analyze: purged reports are skipped, and said to be.
            try await client.execute(uri: "/api/reprocess?all=true", method: .post, headers: Self.admin) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "{\"requeued\":0,\"skipped_purged\":2}")
            }
            try await client.execute(uri: "/api/reprocess?bucket=\(bucket)", method: .post, headers: Self.admin) {
                #expect(String(buffer: $0.body) == "{\"requeued\":0,\"skipped_purged\":1}")
            }
            #expect(try await parts.database.report(id: id)?.status == .processed)
            #expect(try await parts.database.queueDepth(now: Date()) == QueueDepth(waiting: 0, leased: 0))
        }
    }

    @Test func queuedReportsAreKeptAndFailedDeletionsAreTriedAgain() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let database = try SQLiteCrashDatabase(path: data + "/postmortem.sqlite")
        let storage = try LocalDumpStorage(root: data)
        let old = Date().addingTimeInterval(-100 * 86400)
        let finished = UUID()
        let queued = UUID()
        for (id, offset) in [(finished, 0.0), (queued, 1.0)] {
            try await database.insert(
                NewReport(
                    id: id.uuidString.lowercased(), receivedAt: old.addingTimeInterval(offset), product: "App",
                    version: "1", annotations: ["prod": "App"], dumpSize: 4, attachments: []))
            try await storage.put(Data("MDMP".utf8), at: .dump(reportID: id))
        }
        let job = try #require(try await database.claim(worker: "w", now: Date(), lease: .seconds(60), maxAttempts: 3).job)
        #expect(job.reportID == finished.uuidString.lowercased())
        try await database.fail(reportID: job.reportID, worker: "w", reason: "test", at: Date())

        let metrics = ServiceMetrics()
        let failing = RetentionSweeper(
            database: database, storage: UndeletableStorage(), settings: RetentionSettings(days: 30, batchSize: 1),
            metrics: metrics, logger: ServiceFixtures.quietLogger)
        #expect(try await failing.sweep(now: Date()) == 0)
        #expect(try await database.report(id: job.reportID)?.dumpPurgedAt == nil, "a report marked with its dump stored")
        #expect(!metrics.render(queue: nil, statuses: nil).contains("postmortem_dumps_purged_total 1"))

        let working = RetentionSweeper(
            database: database, storage: storage, settings: RetentionSettings(days: 30, batchSize: 1), metrics: metrics,
            logger: ServiceFixtures.quietLogger)
        #expect(try await working.sweep(now: Date()) == 1)
        #expect(try await database.report(id: job.reportID)?.dumpPurgedAt != nil)
        #expect(storage.localPath(for: .dump(reportID: finished)) == nil)
        // The queued report has not been processed yet: its dump is still needed.
        #expect(try await database.report(id: queued.uuidString.lowercased())?.dumpPurgedAt == nil)
        #expect(storage.localPath(for: .dump(reportID: queued)) != nil)
        #expect(metrics.render(queue: nil, statuses: nil).contains("postmortem_dumps_purged_total 1\n"))
    }

    /// `postmortem serve --retention-days` sweeps as it starts: a report processed long ago loses its dump.
    @Test func theCommandLineSweepsAtStart() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let old = UUID()
        let id = old.uuidString.lowercased()
        do {
            let database = try SQLiteCrashDatabase(path: data + "/postmortem.sqlite")
            try await database.insert(
                NewReport(
                    id: id, receivedAt: Date().addingTimeInterval(-3 * 86400), product: "App", version: "1",
                    annotations: ["prod": "App"], dumpSize: 4, attachments: []))
            _ = try await database.claim(worker: "w", now: Date(), lease: .seconds(60), maxAttempts: 3)
            #expect(
                try await database.complete(
                    reportID: id, worker: "w", result: PostgresDatabaseTests.result("sig", at: Date())))
            try await LocalDumpStorage(root: data).put(Data("MDMP".utf8), at: .dump(reportID: old))
        }
        let refused = try runProcess(TestEnvironment.postmortemExecutable, ["serve", "--data", data, "--retention-days", "0"])
        #expect(refused.status == 2)
        #expect(refused.stderrText.contains("--retention-days must be between 1 and 36500"))

        let server = try ServeProcess(data: data, arguments: ["--retention-days", "2"])
        defer { server.terminate() }
        var report = try await PostgresServiceTests.report(id, base: server.base)
        // The sweep runs once at start; waited for by its effect, not by a fixed time.
        let deadline = Date().addingTimeInterval(60)
        while report.dumpPurgedAt == nil && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            report = try await PostgresServiceTests.report(id, base: server.base)
        }
        #expect(report.dumpPurgedAt != nil)
        #expect(report.status == .processed && report.signature == "sig")
        #expect(!FileManager.default.fileExists(atPath: "\(data)/dumps/\(id.prefix(2))/\(id).dmp"))
        #expect(try await LiveClient.get("\(server.base)/api/reports/\(id)/dump").status == 410)
    }

    @Test func localStorageDeletesFilesAndTheirFolderAndIgnoresMissingOnes() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let storage = try LocalDumpStorage(root: data)
        let id = UUID()
        let folder = "\(data)/attachments/\(id.uuidString.lowercased().prefix(2))/\(id.uuidString.lowercased())"
        try await storage.put(Data("a".utf8), at: .attachment(reportID: id, index: 0))
        try await storage.put(Data("b".utf8), at: .attachment(reportID: id, index: 1))
        try await storage.put(Data("MDMP".utf8), at: .dump(reportID: id))
        try await storage.delete(.attachment(reportID: id, index: 0))
        #expect(FileManager.default.fileExists(atPath: folder + "/1"), "the other attachment was removed too")
        try await storage.delete(.attachment(reportID: id, index: 1))
        #expect(!FileManager.default.fileExists(atPath: folder))
        try await storage.delete(.dump(reportID: id))
        #expect(storage.localPath(for: .dump(reportID: id)) == nil)
        // Deleting again, as a sweep interrupted half-way does, is not an error.
        try await storage.delete(.dump(reportID: id))
        try await storage.delete(.attachment(reportID: id, index: 0))
    }
}

/// Storage whose deletions fail, as object storage does while unreachable.
struct UndeletableStorage: DumpStorage {
    func put(_ bytes: Data, at key: BlobKey) async throws {}
    func withLocalFile<T: Sendable>(_ key: BlobKey, _ body: @Sendable (String) async throws -> T) async throws -> T? { nil }
    func delete(_ key: BlobKey) async throws { throw StorageError("the storage is unreachable") }
}
