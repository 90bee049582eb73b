import Foundation
import Hummingbird
import HummingbirdTesting
import SymbolServer
import TestSupport
import Testing

@Suite("Symbol server over a real socket", .ownThread)
struct LiveServerTests {
    static let curl = "/usr/bin/curl"

    /// Runs curl against the server: `-o` to a file, prints the status code.
    static func fetch(_ url: String, to output: String, headers: [String] = [], extra: [String] = []) async throws -> String {
        var arguments = ["-sS", "--noproxy", "*", "--path-as-is", "--max-time", "20", "-o", output, "-w", "%{http_code}", url]
        for header in headers { arguments += ["-H", header] }
        let result = try await ServerFixtures.run(curl, arguments + extra)
        #expect(result.status == 0, "curl: \(result.stderrText)")
        return result.stdoutText
    }

    @Test func curlGetsFilesRangesAndValidators() async throws {
        let entry = try #require(StoredEntry.fixtureEntries().first { !$0.storedName.hasSuffix("_") })
        let expected = try ServerFixtures.bytes(entry.path)
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let ports = PortBox()
        let app = buildSymbolServer(
            configuration: SymbolServerConfiguration(
                stores: [ServerFixtures.symstore], host: "127.0.0.1", port: 0, logger: ServerFixtures.quietLogger,
                onServerRunning: { ports.set($0) }))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            #expect(ports.get() == port)
            let base = "http://127.0.0.1:\(port)"
            let output = work + "/out"

            #expect(try await Self.fetch("\(base)/symbols/\(entry)", to: output) == "200")
            #expect(try ServerFixtures.bytes(output) == expected)

            #expect(try await Self.fetch("\(base)/\(entry.fileName)/00000000/\(entry.storedName)", to: output) == "404")

            #expect(try await Self.fetch("\(base)/\(entry)", to: output, headers: ["Range: bytes=0-15"]) == "206")
            #expect(try ServerFixtures.bytes(output) == Array(expected[0...15]))

            let headers = work + "/headers"
            #expect(try await Self.fetch("\(base)/\(entry)", to: output, extra: ["-D", headers]) == "200")
            let headerText = try String(contentsOfFile: headers, encoding: .utf8)
            let etagLine = try #require(headerText.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") })
            let etag = etagLine.dropFirst(5).trimmingCharacters(in: .whitespaces)
            #expect(try await Self.fetch("\(base)/\(entry)", to: output, headers: ["If-None-Match: \(etag)"]) == "304")

            #expect(try await Self.fetch("\(base)/%2e%2e/%2e%2e/etc/passwd", to: output) == "400")
            #expect(try await Self.fetch("\(base)/health", to: output) == "200")
        }
    }

    @Test func debuginfodFindRetrievesAnExecutable() async throws {
        let tool = "/usr/bin/debuginfod-find"
        #expect(FileManager.default.isExecutableFile(atPath: tool), "install the Debian package debuginfod")
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let id = ServerFixtures.crashBuildID
        try ServerFixtures.copy(ServerFixtures.crashExecutable, to: "store/crash/elf-buildid-\(id)/crash", in: work)
        let app = ServerFixtures.server([work + "/store"])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let result = try await ServerFixtures.run(
                tool, ["executable", id],
                environment: [
                    "DEBUGINFOD_URLS": "http://127.0.0.1:\(port)", "no_proxy": "127.0.0.1",
                    "DEBUGINFOD_CACHE_PATH": work + "/cache",
                    "DEBUGINFOD_TIMEOUT": "20",
                ])
            #expect(result.status == 0, "debuginfod-find: \(result.stderrText)")
            let path = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!path.isEmpty)
            #expect(try ServerFixtures.bytes(path) == ServerFixtures.bytes(ServerFixtures.crashExecutable))

            let missing = try await ServerFixtures.run(
                tool, ["executable", String(id.dropLast(2)) + "00"],
                environment: [
                    "DEBUGINFOD_URLS": "http://127.0.0.1:\(port)", "no_proxy": "127.0.0.1",
                    "DEBUGINFOD_CACHE_PATH": work + "/cache",
                ])
            #expect(missing.status != 0)
        }
    }
}

/// The port reported by `onServerRunning`.
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    func set(_ value: Int) { lock.withLock { port = value } }
    func get() -> Int? { lock.withLock { port } }
}
