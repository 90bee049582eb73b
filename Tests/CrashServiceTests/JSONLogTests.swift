import Foundation
import TestSupport
import Testing

/// `postmortem serve --log-format json`: every line on standard error is one JSON object.
@Suite("JSON logs", .ownThread)
struct JSONLogTests {
    @Test func accessLogAndServiceEventsAreOneJSONObjectPerLine() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try ServeProcess(
            data: data, arguments: ["--log-format", "json", "--symbol-path", TestEnvironment.local("symbols")])
        defer { server.terminate() }

        #expect(try await LiveClient.get(server.base + "/health").status == 200)
        #expect(try await LiveClient.get(server.base + "/no-such-page").status == 404)
        let upload = Upload.crashpad(dump: try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp")))
        let (status, text) = try await LiveClient.submit(upload, to: server.base)
        #expect(status == 200)
        let id = try #require(LiveServiceTests.crashID(text))
        let reports = try await LiveServiceTests.settle([id], base: server.base)
        #expect(reports.first?.status == .processed)

        // The log reaches the test through a pipe read on another thread: wait until the worker's line is in.
        var entries = [[String: Any]]()
        for _ in 0..<100 {
            entries = try Self.parse(server.output)
            if entries.contains(where: { ($0["message"] as? String)?.contains("report \(id) processed") == true }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for entry in entries {
            #expect(entry["time"] is String && entry["level"] is String && entry["label"] is String, "\(entry)")
            #expect(entry["message"] is String, "\(entry)")
        }
        func request(_ method: String, _ path: String) -> [String: Any]? {
            entries.first {
                $0["message"] as? String == "request" && $0["method"] as? String == method && $0["path"] as? String == path
            }
        }
        #expect(request("GET", "/health")?["status"] as? Int == 200)
        #expect(request("GET", "/no-such-page")?["status"] as? Int == 404)
        #expect(request("POST", "/submit")?["status"] as? Int == 200)
        #expect(request("GET", "/health")?["duration_ms"] is Double || request("GET", "/health")?["duration_ms"] is Int)
        #expect(entries.contains { ($0["message"] as? String)?.contains("on http://127.0.0.1:") == true })
        #expect(entries.contains { ($0["message"] as? String)?.contains("report \(id) processed") == true })
    }

    /// Every non-empty line as a JSON object; a line that is not one fails the test.
    static func parse(_ log: String) throws -> [[String: Any]] {
        // A line still being written has no newline yet; it is read on the next pass.
        let complete = log.hasSuffix("\n") ? log : String(log[..<(log.lastIndex(of: "\n") ?? log.startIndex)])
        return try complete.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not a JSON object: \(line)")
        }
    }
}
