import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import CrashService

/// Requests through the router in-process, with the workers running beside it.
@Suite("Service routes", .ownThread)
struct ServiceRouterTests {
    static let read: HTTPFields = [.authorization: "Bearer \(ServiceFixtures.readToken.secret)"]

    /// Polls a report until it leaves the queue.
    static func settled(_ client: some TestClientProtocol, _ id: String, timeout: Duration = .seconds(60)) async throws
        -> ReportRecord
    {
        let deadline = ContinuousClock.now + timeout
        while true {
            let report = try await client.execute(uri: "/api/reports/\(id)", method: .get, headers: read) { response in
                #expect(response.status == .ok)
                return try JSONDecoder.api.decode(ReportEnvelope.self, from: Data(buffer: response.body)).report
            }
            if report.status == .processed || report.status == .failed { return report }
            guard ContinuousClock.now < deadline else {
                Issue.record("report \(id) still \(report.status)")
                return report
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func submit(_ client: some TestClientProtocol, _ upload: Upload) async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: "/submit", method: .post, headers: upload.headers, body: upload.wireBody) {
            ($0.status, String(buffer: $0.body))
        }
    }

    @Test func crashpadUploadIsProcessedBucketedAndShown() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data))
        try await app.test(.router) { client in
            let (status, answer) = try await Self.submit(
                client,
                .crashpad(
                    dump: dump, product: "Test<App>", extraFields: [("note", "<script>alert(1)</script>")],
                    attachments: [("log", "../../../etc/passwd", Array("log text".utf8))]))
            #expect(status == .ok)
            #expect(answer.hasPrefix("CrashID=bp-"))
            let id = String(answer.dropFirst("CrashID=bp-".count).prefix(36))
            let report = try await Self.settled(client, id)
            #expect(report.status == .processed, "\(report.failure ?? "")")
            #expect(report.signature == "`anonymous namespace'::CrashFunction")
            #expect(report.product == "Test<App>")
            #expect(report.attachments.first?.fileName == "../../../etc/passwd")
            // The upload's file name never became a path: attachments are stored by index under the report id.
            #expect(FileManager.default.fileExists(atPath: "\(data)/attachments/\(id.prefix(2))/\(id)/0"))

            let buckets = try await client.execute(uri: "/api/buckets", method: .get, headers: Self.read) {
                try JSONDecoder.api.decode(Page<BucketSummary>.self, from: Data(buffer: $0.body))
            }
            #expect(buckets.total == 1)
            let bucket = try #require(buckets.items.first)
            #expect(bucket.count == 1 && bucket.signature == report.signature && bucket.versions == ["1.2.3"])

            try await client.execute(uri: "/api/buckets/\(bucket.id)", method: .get, headers: Self.read) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("\"report_count\":1"))
                #expect(text.contains(id))
            }
            try await client.execute(uri: "/api/reports/bp-\(id)/dump", method: .get, headers: Self.read) { response in
                #expect(response.status == .ok)
                #expect(Array(buffer: response.body) == dump)
            }
            try await client.execute(uri: "/reports/\(id)", method: .get, headers: Self.read) { response in
                let html = String(buffer: response.body)
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
                #expect(!html.contains("<script>"))
                #expect(html.contains("Test&lt;App&gt;"))
                #expect(html.contains("`anonymous namespace&#39;::CrashFunction"))
                #expect(html.contains("Crashing thread"))
                #expect(html.contains("Modules"))
            }
            for path in ["/", "/buckets/\(bucket.id)", "/failed", "/?from=2000-01-01&product=Test%3CApp%3E"] {
                try await client.execute(uri: path, method: .get, headers: Self.read) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(String(buffer: response.body).contains("</html>"))
                }
            }
            try await client.execute(uri: "/", method: .get, headers: Self.read) { response in
                let html = String(buffer: response.body)
                #expect(html.contains("<svg class=\"chart\""))
                #expect(html.contains("href=\"/buckets/\(bucket.id)\""))
            }
            try await client.execute(uri: "/metrics", method: .get, headers: Self.read) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("postmortem_uploads_accepted_total 1"))
                #expect(text.contains("postmortem_reports_processed_total 1"))
                #expect(text.contains("postmortem_queue_depth{state=\"waiting\"} 0"))
            }
        }
    }

    @Test func refusals() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data, maxUploadBytes: 64 * 1024))
        try await app.test(.router) { client in
            for path in ["/api/buckets", "/", "/metrics", "/reports/00000000-0000-0000-0000-000000000000", "/api/reports/x"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path)")
                    #expect(response.headers[.wwwAuthenticate] != nil)
                }
            }
            let symbolsOnly: HTTPFields = [.authorization: "Bearer \(ServiceFixtures.symbolsToken.secret)"]
            try await client.execute(uri: "/api/buckets", method: .get, headers: symbolsOnly) {
                #expect($0.status == .forbidden)
            }
            for path in ["/health", "/ready"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .ok, "\(path)") }
            }
            try await client.execute(uri: "/api/reports/..%2F..%2Fetc%2Fpasswd", method: .get, headers: Self.read) {
                #expect($0.status == .badRequest)
            }
            try await client.execute(uri: "/api/reports/\(UUID().uuidString)", method: .get, headers: Self.read) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/api/buckets?from=yesterday", method: .get, headers: Self.read) {
                #expect($0.status == .badRequest)
            }

            let dump = Array("MDMP".utf8)
            var upload = Upload.crashpad(dump: dump, gzip: false)
            upload.contentType = "text/plain"
            #expect(try await Self.submit(client, upload) == (.badRequest, "Discarded=malformed_wrong_content_type\n"))
            upload = Upload.crashpad(dump: dump, gzip: false)
            try await client.execute(
                uri: "/submit", method: .post, headers: [.contentType: upload.contentType, .contentEncoding: "gzip"],
                body: ByteBuffer(bytes: upload.body)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body) == "Discarded=malformed_bad_gzip\n")
            }
            #expect(
                try await Self.submit(client, .crashpad(dump: [UInt8](repeating: 7, count: 100 * 1024), gzip: false))
                    == (.contentTooLarge, "Discarded=too_large\n"))
            #expect(try await Self.submit(client, .crashpad(dump: [])) == (.badRequest, "Discarded=malformed_no_minidump\n"))
            try await client.execute(uri: "/metrics", method: .get, headers: Self.read) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("postmortem_uploads_rejected_total{reason=\"too_large\"} 1"))
                #expect(text.contains("postmortem_uploads_accepted_total 0"))
            }
        }
        // Nothing was stored for refused uploads.
        let dumps = FileManager.default.enumerator(atPath: data + "/dumps")?.allObjects.compactMap { $0 as? String } ?? []
        #expect(dumps.filter { $0.hasSuffix(".dmp") }.isEmpty)
    }

    @Test func corruptDumpFailsAndTheQueueMovesOn() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let good = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data))
        try await app.test(.router) { client in
            let (_, bad) = try await Self.submit(client, .crashpad(dump: Array("this is not a minidump at all".utf8)))
            let (_, fine) = try await Self.submit(client, .crashpad(dump: good))
            let failed = try await Self.settled(client, String(bad.dropFirst(11).prefix(36)))
            #expect(failed.status == .failed)
            #expect(failed.failure?.isEmpty == false)
            #expect(failed.bucketID == nil)
            let processed = try await Self.settled(client, String(fine.dropFirst(11).prefix(36)))
            #expect(processed.status == .processed)
            try await client.execute(uri: "/failed", method: .get, headers: Self.read) { response in
                #expect(String(buffer: response.body).contains(failed.id))
            }
            try await client.execute(uri: "/api/reports?status=failed", method: .get, headers: Self.read) { response in
                let page = try JSONDecoder.api.decode(Page<ReportRecord>.self, from: Data(buffer: response.body))
                #expect(page.items.map(\.id) == [failed.id])
            }
        }
    }
}

/// `GET /api/reports/{id}` as the tests read it.
struct ReportEnvelope: Decodable {
    var report: ReportRecord
}

extension JSONDecoder {
    static let api: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
