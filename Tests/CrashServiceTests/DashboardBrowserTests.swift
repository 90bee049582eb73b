import CrashService
import Foundation
import NIOCore
import TestSupport
import Testing

/// The dashboard as a browser shows it: the real `postmortem serve` on loopback, fixture dumps uploaded
/// and processed, then headless Chromium renders the top-crashes page, a report page and a search.
@Suite("Dashboard in a browser", .serialized, .ownThread)
struct DashboardBrowserTests {
    static let screenshots = TestEnvironment.repositoryRoot.appendingPathComponent(".build/dashboard-screenshots").path

    @Test func topCrashesAndReportPagesRenderAndEveryLinkAnswers() async throws {
        // Fails rather than skips without a browser: a dashboard nobody rendered is not tested.
        let chromium = try HeadlessChromium.find()
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try ServeProcess(data: data, arguments: ["--symbol-path", TestEnvironment.local("symbols")])
        defer { server.terminate() }
        let base = server.base

        // test.dmp is symbolized from Tests/Fixtures/symbols; the others are a Linux and a Windows x64 dump.
        let dumps = [
            TestEnvironment.local("rust-minidump/test.dmp"), TestEnvironment.shared("rust-minidump/testdata/linux-mini.dmp"),
            TestEnvironment.shared("generated/dumps/x64-null-aedebug.dmp"),
        ]
        var ids = [String]()
        for dump in dumps {
            let (status, text) = try await LiveClient.submit(.crashpad(dump: try ServiceFixtures.bytes(dump)), to: base)
            #expect(status == 200, "\(dump): \(text)")
            if let id = LiveServiceTests.crashID(text) { ids.append(id) }
        }
        try #require(ids.count == dumps.count)
        let reports = try await LiveServiceTests.settle(ids, base: base)
        try #require(reports.count == ids.count, "some reports never left the queue")
        let report = try #require(reports.first { $0.id == ids[0] })
        try #require(report.status == .processed, "test.dmp failed: \(report.failure ?? "")")
        #expect(report.signature == "`anonymous namespace'::CrashFunction")
        let reason = try #require(report.crashReason)

        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        // Chromium answers the pages' Basic challenge with the credentials in the URL; the token is the password.
        let browserBase = "http://viewer:\(ServiceFixtures.readToken.secret)@127.0.0.1:\(try #require(server.port))"
        let pages = [
            (name: "top-crashes", path: "/", expected: reports.filter { $0.status == .processed }.map(\.signature)),
            (name: "report", path: "/reports/\(report.id)", expected: ["bp-\(report.id)", report.signature, reason]),
            (name: "search", path: "/search?signature=crashfunction", expected: ["bp-\(report.id)", report.signature]),
        ]
        var links = Set<String>()
        for page in pages {
            let file = "\(Self.screenshots)/\(page.name).png"
            let rendered = try chromium.render(browserBase + page.path, screenshot: file)
            print("dashboard screenshot: \(file)")
            let text = RenderedPage.decodeEntities(rendered.dom)
            #expect(text.contains("</html>"), "\(page.path): no page rendered: \(rendered.dom.prefix(500))")
            for expected in page.expected {
                #expect(text.contains(expected ?? "<none>"), "\(page.path) does not show '\(expected ?? "nil")'")
            }
            let png = try ServiceFixtures.bytes(file)
            let size = RenderedPage.pngSize(png)
            #expect(size?.width == 1280 && size?.height == 1600, "\(file): \(png.count) bytes, size \(String(describing: size))")
            let found = RenderedPage.links(in: rendered.dom)
            #expect(!found.isEmpty, "\(page.path) has no links")
            links.formUnion(found)
        }
        // The dump's download, the bucket page and the navigation at least.
        #expect(links.contains("/api/reports/\(report.id)/dump"))
        #expect(links.contains("/search"))
        #expect(links.contains { $0.hasPrefix("/buckets/") })
        for link in links.sorted() {
            let url = try #require(URL(string: link, relativeTo: URL(string: base + "/")))
            #expect(url.host == "127.0.0.1", "\(link) leaves the server")
            let (status, _) = try await LiveClient.get(url.absoluteString)
            #expect(status == 200, "\(link) answers \(status)")
        }
    }
}
