import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import CrashService

/// Searching reports by signature, loaded module, version and annotation, through the JSON API and the dashboard.
@Suite("Report search", .ownThread)
struct SearchTests {
    /// A search's total and the ids on its page.
    struct Found: Equatable {
        var total: Int
        var ids: [String]
        init(_ total: Int, _ ids: [String]) {
            self.total = total
            self.ids = ids
        }
    }

    static func ids(_ client: some TestClientProtocol, _ query: String) async throws -> Found {
        try await client.execute(uri: "/api/reports?\(query)", method: .get, headers: ServiceRouterTests.read) { response in
            #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
            let page = try JSONDecoder.api.decode(Page<ReportRecord>.self, from: Data(buffer: response.body))
            return Found(page.total, page.items.map(\.id))
        }
    }

    @Test func apiAndDashboardFindReportsByEveryCriterion() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data))
        try await app.test(.router) { client in
            var ids = [String]()
            let uploads = [
                Upload.crashpad(dump: dump, version: "1.0", extraFields: [("channel", "beta"), ("note", "a=b c")]),
                Upload.crashpad(dump: dump, version: "2.0", extraFields: [("channel", "stable")]),
                Upload.crashpad(dump: Array("not a minidump".utf8), version: "1.0", extraFields: [("channel", "beta")]),
            ]
            for upload in uploads {
                let (status, answer) = try await ServiceRouterTests.submit(client, upload)
                #expect(status == .ok)
                ids.append(String(answer.dropFirst(11).prefix(36)))
                // One at a time, so received times and with them the newest-first order are distinct.
                _ = try await ServiceRouterTests.settled(client, ids.last!)
            }
            let (beta, stable, broken) = (ids[0], ids[1], ids[2])
            let module = try await client.execute(uri: "/api/reports/\(beta)", method: .get, headers: ServiceRouterTests.read) {
                response in
                let document = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let processed = document?["processed"] as? [String: Any]
                let modules = processed?["modules"] as? [[String: Any]]
                return modules?.first?["filename"] as? String
            }
            let moduleName = try #require(module)

            #expect(try await Self.ids(client, "signature=crashfunction") == Found(2, [stable, beta]))
            #expect(try await Self.ids(client, "signature=anonymous+namespace%27%3A%3ACRASH") == Found(2, [stable, beta]))
            #expect(try await Self.ids(client, "signature=%25").total == 0)
            #expect(try await Self.ids(client, "signature=_").total == 0)
            #expect(try await Self.ids(client, "module=\(HTML.query(moduleName.uppercased()))") == Found(2, [stable, beta]))
            #expect(try await Self.ids(client, "module=\(HTML.query(String(moduleName.dropLast())))").total == 0)
            #expect(try await Self.ids(client, "version=1.0") == Found(2, [broken, beta]))
            #expect(try await Self.ids(client, "version=1.0&status=failed") == Found(1, [broken]))
            #expect(try await Self.ids(client, "annotation=channel%3Dbeta") == Found(2, [broken, beta]))
            #expect(try await Self.ids(client, "annotation=note%3Da%3Db+c") == Found(1, [beta]))
            #expect(try await Self.ids(client, "annotation=channel%3Dbeta&module=\(HTML.query(moduleName))") == Found(1, [beta]))
            #expect(
                try await Self.ids(client, "annotation=channel%3Dbeta&annotation=ptype%3Dbrowser") == Found(2, [broken, beta]))
            #expect(try await Self.ids(client, "annotation=channel%3DBeta").total == 0)
            #expect(try await Self.ids(client, "product=TestApp&version=2.0") == Found(1, [stable]))
            // The lists' pagination: page counts from 1, the answer's page from 0.
            try await client.execute(
                uri: "/api/reports?annotation=ptype%3Dbrowser&per_page=2&page=2", method: .get, headers: ServiceRouterTests.read
            ) { response in
                let page = try JSONDecoder.api.decode(Page<ReportRecord>.self, from: Data(buffer: response.body))
                #expect(page.total == 3 && page.page == 1 && page.perPage == 2 && page.items.map(\.id) == [beta])
            }
            for query in ["", "annotation=channel", "annotation=%3Dbeta", "signature=x&per_page=0", "status=done"] {
                try await client.execute(uri: "/api/reports?\(query)", method: .get, headers: ServiceRouterTests.read) {
                    #expect($0.status == .badRequest, "\(query)")
                }
            }
            let long = String(repeating: "a", count: 1025)
            try await client.execute(uri: "/api/reports?signature=\(long)", method: .get, headers: ServiceRouterTests.read) {
                #expect($0.status == .badRequest)
            }

            // The dashboard: the form, results linked to reports and buckets, and a pager that keeps the criteria.
            try await client.execute(uri: "/search", method: .get, headers: ServiceRouterTests.read) { response in
                let html = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(html.contains("<form class=\"filters\" method=\"get\" action=\"/search\">"))
                #expect(!html.contains("matching report"))
            }
            try await client.execute(
                uri: "/search?signature=CrashFunction&annotation=channel%3Dbeta&per_page=1", method: .get,
                headers: ServiceRouterTests.read
            ) { response in
                let html = String(buffer: response.body)
                #expect(html.contains("1 matching report<"))
                #expect(html.contains("href=\"/reports/\(beta)\""))
                #expect(!html.contains(stable))
                #expect(html.contains("value=\"channel=beta\""))
                #expect(html.contains("href=\"/buckets/"))
                #expect(html.contains("<a href=\"/search\">Search</a>"))
            }
            try await client.execute(
                uri: "/search?annotation=ptype%3Dbrowser&per_page=1", method: .get, headers: ServiceRouterTests.read
            ) { response in
                let html = String(buffer: response.body)
                #expect(html.contains("3 matching reports"))
                #expect(html.contains("href=\"/search?annotation=ptype%3Dbrowser&amp;per_page=1&amp;page=2\""))
            }
            try await client.execute(
                uri: "/search?signature=%3Cscript%3E%22&annotation=k%3D%3Cb%3E", method: .get, headers: ServiceRouterTests.read
            ) { response in
                let html = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(!html.contains("<script>") && !html.contains("<b>"))
                #expect(html.contains("value=\"&lt;script&gt;&quot;\""))
                #expect(html.contains("0 matching reports"))
            }
        }
    }
}
