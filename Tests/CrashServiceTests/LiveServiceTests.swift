import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@testable import CrashService

/// The service over real sockets: Crashpad-style uploads of every fixture dump, and a SIGKILL mid-burst.
@Suite("Service over loopback", .serialized, .ownThread)
struct LiveServiceTests {
    /// Polls `/api/reports/{id}` until every report has left the queue.
    /// Waits for `ids` to settle, then checks what every process layout must give: no report left in
    /// the queue, every dump processed (failures carrying a reason), and the processed reports
    /// grouped into buckets of the twice-uploaded dumps of version 2.0.
    static func expectSettledIntoBuckets(_ ids: [String], uploadedDumps: Int, base: String) async throws -> (
        reports: [ReportRecord], processed: [ReportRecord], buckets: Page<BucketSummary>
    ) {
        let reports = try await settle(ids, base: base)
        #expect(reports.count == ids.count, "some reports never left the queue")
        let processed = reports.filter { $0.status == .processed }
        let failed = reports.filter { $0.status == .failed }
        #expect(processed.count >= uploadedDumps, "failed: \(failed.map { $0.failure ?? "" })")
        for report in failed { #expect(report.failure?.isEmpty == false) }

        let (status, body) = try await LiveClient.get("\(base)/api/buckets?per_page=200")
        #expect(status == 200)
        let buckets = try JSONDecoder.api.decode(Page<BucketSummary>.self, from: Data(buffer: body))
        #expect(buckets.items.reduce(0) { $0 + $1.count } == processed.count)
        #expect(buckets.items.allSatisfy { $0.count % 2 == 0 && $0.versions == ["2.0"] })
        #expect(Set(processed.compactMap(\.bucketID)).count == buckets.total)
        return (reports, processed, buckets)
    }

    static func settle(_ ids: [String], base: String, timeout: TimeInterval = 120) async throws -> [ReportRecord] {
        var settled = [String: ReportRecord]()
        let deadline = Date().addingTimeInterval(timeout)
        while settled.count < ids.count && Date() < deadline {
            for id in ids where settled[id] == nil {
                let (status, body) = try await LiveClient.get("\(base)/api/reports/\(id)")
                guard status == 200 else { continue }
                let report = try JSONDecoder.api.decode(ReportEnvelope.self, from: Data(buffer: body)).report
                if report.status == .processed || report.status == .failed { settled[id] = report }
            }
            if settled.count < ids.count { try await Task.sleep(for: .milliseconds(100)) }
        }
        return ids.compactMap { settled[$0] }
    }

    static func crashID(_ answer: String) -> String? {
        guard answer.hasPrefix("CrashID=bp-") else { return nil }
        return String(answer.dropFirst("CrashID=bp-".count).prefix(36))
    }

    @Test func fixtureDumpsUploadedLikeCrashpadAreProcessedAndBucketed() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dumps = ServiceFixtures.fixtureDumps
        #expect(dumps.count >= 8)
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            // Every dump twice, concurrently, so each bucket holds at least two reports.
            let uploads = try (dumps + dumps).map { try Upload.crashpad(dump: ServiceFixtures.bytes($0), version: "2.0") }
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for upload in uploads { group.addTask { try await LiveClient.submit(upload, to: base) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.0 == 200 }, "\(answers.filter { $0.0 != 200 })")
            let ids = answers.compactMap { Self.crashID($0.1) }
            #expect(Set(ids).count == uploads.count)

            let (reports, processed, buckets) = try await Self.expectSettledIntoBuckets(
                ids, uploadedDumps: dumps.count, base: base)
            let testDump = processed.first { $0.signature == "`anonymous namespace'::CrashFunction" }
            #expect(testDump != nil, "test.dmp is symbolized from Tests/Fixtures/symbols")

            for bucket in buckets.items {
                #expect(try await LiveClient.get("\(base)/buckets/\(bucket.id)").status == 200)
                #expect(try await LiveClient.get("\(base)/api/buckets/\(bucket.id)").status == 200)
            }
            for report in reports {
                let page = try await LiveClient.get("\(base)/reports/\(report.id)")
                #expect(page.status == 200)
                #expect(String(buffer: page.body).contains("</html>"))
            }
            #expect(try await LiveClient.get("\(base)/").status == 200)
            #expect(try await LiveClient.get("\(base)/", token: nil).status == 401)
        }
    }

    @Test func sigkillDuringABurstLosesNoAcknowledgedReport() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        #expect(FileManager.default.isExecutableFile(atPath: TestEnvironment.postmortemExecutable))
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dumps = try ServiceFixtures.fixtureDumps.map(ServiceFixtures.bytes)
        let symbols = ["--symbol-path", TestEnvironment.local("symbols")]
        let server = try ServeProcess(data: data, arguments: symbols + ["--lease", "2", "--workers", "2"])
        let base = server.base

        let acknowledged = AcknowledgedIDs()
        let started = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<8 {
                group.addTask {
                    var index = sender
                    // Bounded: the loop ends when the server is gone or after 20 seconds.
                    while Date().timeIntervalSince(started) < 20 {
                        let dump = dumps[index % dumps.count]
                        index += 1
                        guard let (status, text) = try? await LiveClient.submit(.crashpad(dump: dump), to: base) else { return }
                        if status == 200, let id = Self.crashID(text) { acknowledged.add(id, size: dump.count) }
                    }
                }
            }
            group.addTask {
                // Kill once a good number of uploads were acknowledged, with uploads still in flight.
                while acknowledged.count < 60 && Date().timeIntervalSince(started) < 15 {
                    try await Task.sleep(for: .milliseconds(10))
                }
                server.kill()
            }
            try await group.waitForAll()
        }
        let before = acknowledged.snapshot
        #expect(before.count >= 60, "only \(before.count) uploads acknowledged before the kill")

        // A new process on the same data: every acknowledged report is there with its whole dump, and the
        // jobs the dead process held are taken again once their leases run out.
        let restarted = try ServeProcess(data: data, arguments: symbols + ["--lease", "2"])
        defer { restarted.terminate() }
        for (id, size) in before {
            let (status, body) = try await LiveClient.get("\(restarted.base)/api/reports/\(id)/dump")
            #expect(status == 200, "acknowledged report \(id) lost")
            #expect(body.readableBytes == size, "report \(id): dump of \(body.readableBytes) bytes, sent \(size)")
        }
        let reports = try await Self.settle(before.map(\.0), base: restarted.base, timeout: 180)
        #expect(reports.count == before.count, "reports left in the queue after the restart")
        #expect(reports.filter { $0.status == .processed }.count >= before.count / 2)
    }
}

extension LiveServiceTests {
    /// SIGTERM while workers are busy: the process exits 0, and no job is left under a lease. The
    /// restarted service's lease is longer than the test waits, so a job the first process had kept
    /// claimed could not be taken again in time.
    @Test func sigtermFinishesOrReturnsTheJobsInHand() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dumps = try ServiceFixtures.fixtureDumps.map(ServiceFixtures.bytes)
        let arguments = ["--symbol-path", TestEnvironment.local("symbols"), "--lease", "120", "--workers", "2"]
        let server = try ServeProcess(data: data, arguments: arguments + ["--role", "api"])
        var ids = [String]()
        for index in 0..<40 {
            let (status, text) = try await LiveClient.submit(.crashpad(dump: dumps[index % dumps.count]), to: server.base)
            #expect(status == 200)
            if let id = Self.crashID(text) { ids.append(id) }
        }
        server.terminate()
        #expect(ids.count == 40)

        // Workers start on a full queue and are stopped once a few reports are done.
        let worker = try ServeProcess(data: data, arguments: arguments + ["--role", "worker"])
        let started = Date()
        while Date().timeIntervalSince(started) < 60 {
            let (_, body) = try await LiveClient.get("\(worker.base)/metrics")
            let processed =
                String(buffer: body).split(separator: "\n")
                .first { $0.hasPrefix("postmortem_reports_processed_total ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            if processed >= 3 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        worker.process.terminate()
        let stopping = Date()
        worker.process.waitUntilExit()
        #expect(worker.process.terminationReason == .exit && worker.process.terminationStatus == 0, "\(worker.output)")
        #expect(Date().timeIntervalSince(stopping) < 60, "the worker took \(Date().timeIntervalSince(stopping)) s to stop")

        let restarted = try ServeProcess(data: data, arguments: arguments)
        defer { restarted.terminate() }
        let reports = try await Self.settle(ids, base: restarted.base, timeout: 60)
        #expect(reports.count == ids.count, "\(ids.count - reports.count) reports still queued or leased after the restart")
        #expect(reports.allSatisfy { $0.status == .processed }, "\(reports.filter { $0.status != .processed }.map(\.failure))")
    }
}

/// Ids the server acknowledged, with the size of the dump sent.
final class AcknowledgedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids = [(String, Int)]()

    func add(_ id: String, size: Int) { lock.withLock { ids.append((id, size)) } }
    var count: Int { lock.withLock { ids.count } }
    var snapshot: [(String, Int)] { lock.withLock { ids } }
}
