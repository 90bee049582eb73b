import Foundation
import NIOCore
import TestSupport
import Testing

@testable import CrashService

#if canImport(Glibc)
    import Glibc
#endif

/// `postmortem serve --database postgres://…` as separate processes: one API, two workers, one database.
@Suite("Service on PostgreSQL", .serialized, .ownThread)
struct PostgresServiceTests {
    static var symbols: [String] { ["--symbol-path", TestEnvironment.local("symbols")] }

    @Test func apiAndTwoWorkersProcessFixtureDumps() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dumps = ServiceFixtures.fixtureDumps
        #expect(dumps.count >= 8)
        try await withPostgresServer { server in
            let database = ["--database", server.url]
            let api = try ServeProcess(data: data, arguments: database + ["--role", "api"])
            defer { api.terminate() }
            let workers = try (0..<2).map { _ in
                try ServeProcess(data: data, arguments: database + Self.symbols + ["--role", "worker", "--workers", "2"])
            }
            defer { workers.forEach { $0.terminate() } }
            let base = api.base

            // Every dump twice, so each bucket holds at least two reports; six at a time, within the HTTP client's
            // eight connections per host, so no upload waits for a connection while the whole suite loads the machine.
            let uploads = try (dumps + dumps).map { try Upload.crashpad(dump: ServiceFixtures.bytes($0), version: "2.0") }
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                var answers = [(Int, String)]()
                for (index, upload) in uploads.enumerated() {
                    if index >= 6, let answer = try await group.next() { answers.append(answer) }
                    group.addTask { try await LiveClient.submit(upload, to: base) }
                }
                for try await answer in group { answers.append(answer) }
                return answers
            }
            #expect(answers.allSatisfy { $0.0 == 200 }, "\(answers.filter { $0.0 != 200 })")
            let ids = answers.compactMap { LiveServiceTests.crashID($0.1) }
            #expect(Set(ids).count == uploads.count)
            // The API process has no workers: what it stores is processed by the worker processes.
            #expect(!FileManager.default.fileExists(atPath: data + "/postmortem.sqlite"))

            let (_, processed, buckets) = try await LiveServiceTests.expectSettledIntoBuckets(
                ids, uploadedDumps: dumps.count, base: base)
            #expect(processed.contains { $0.signature == "`anonymous namespace'::CrashFunction" })
            for bucket in buckets.items {
                #expect(try await LiveClient.get("\(base)/buckets/\(bucket.id)").status == 200)
            }
            #expect(try await LiveClient.get("\(base)/").status == 200)

            // Each report was processed once, by one of the two workers.
            let lines = workers.map { worker in
                worker.output.split(separator: "\n").filter { $0.contains(" processed in ") }
            }
            #expect(lines.map(\.count).reduce(0, +) == processed.count)
            let processedIDs = lines.joined().compactMap { line in ids.first { line.contains($0) } }
            #expect(Set(processedIDs).count == processedIDs.count, "a report was processed twice")
            print("PostgreSQL service test: workers processed \(lines.map(\.count)) reports")
        }
    }

    @Test func jobOfAKilledWorkerIsTakenByAnotherAfterItsLease() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        // A symbol server that accepts connections and never answers holds the first worker inside the job.
        let silent = try SilentListener()
        defer { silent.close() }
        try await withPostgresServer { server in
            let database = ["--database", server.url]
            let api = try ServeProcess(data: data, arguments: database + ["--role", "api"])
            defer { api.terminate() }
            let stuck = try ServeProcess(
                data: data,
                arguments: database + [
                    "--role", "worker", "--workers", "1", "--lease", "2",
                    "--symbol-path", "srv*\(data)/cache*http://127.0.0.1:\(silent.port)",
                ])
            defer { if stuck.process.isRunning { stuck.kill() } }
            let (status, answer) = try await LiveClient.submit(.crashpad(dump: dump), to: api.base)
            #expect(status == 200)
            let id = try #require(LiveServiceTests.crashID(answer))

            // Wait until the worker holds the job, then kill it mid-analysis.
            var report = try await Self.report(id, base: api.base)
            while report.status == .queued {
                try await Task.sleep(for: .milliseconds(50))
                report = try await Self.report(id, base: api.base)
            }
            #expect(report.status == .processing)
            stuck.kill()

            // The job stays with the dead worker until its lease runs out; then another worker takes it.
            let rescuer = try ServeProcess(
                data: data, arguments: database + Self.symbols + ["--role", "worker", "--workers", "1", "--lease", "2"])
            defer { rescuer.terminate() }
            let settled = try await LiveServiceTests.settle([id], base: api.base)
            let final = try #require(settled.first)
            #expect(final.status == .processed, "\(final.failure ?? "")")
            #expect(final.signature == "`anonymous namespace'::CrashFunction")
            #expect(rescuer.output.contains("report \(id) processed"))
            #expect(!stuck.output.contains("report \(id) processed"))
        }
    }

    static func report(_ id: String, base: String) async throws -> ReportRecord {
        let (status, body) = try await LiveClient.get("\(base)/api/reports/\(id)")
        try #require(status == 200)
        return try JSONDecoder.api.decode(ReportEnvelope.self, from: Data(buffer: body)).report
    }
}

/// A TCP port on 127.0.0.1 whose connections are accepted by the kernel and never read or answered.
final class SilentListener: @unchecked Sendable {
    let descriptor: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard fd >= 0, ready, listen(fd, 64) == 0 else {
            if fd >= 0 { _ = Glibc.close(fd) }
            throw ProcessFailure(description: "cannot listen on 127.0.0.1")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}
