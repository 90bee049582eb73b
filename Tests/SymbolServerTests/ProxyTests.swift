import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SymbolClient
import SymbolServer
import SymbolStore
import TestSupport
import Testing

/// Collects the access log lines of a server, so tests can count the requests it saw.
final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines = [String]()

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    /// Access log lines (`METHOD path status bytes duration`).
    var requests: [String] {
        lock.withLock { lines.filter { $0.hasPrefix("GET ") || $0.hasPrefix("HEAD ") } }
    }

    var logger: Logger {
        Logger(label: "proxy-test", factory: { _ in RecordingLogHandler(sink: self) })
    }

    /// The request count once the server has logged what it has answered: a body's line is
    /// written after its last byte, which the client may have read a moment before.
    func settledCount() async throws -> Int {
        try await Task.sleep(for: .milliseconds(200))
        return requests.count
    }
}

struct RecordingLogHandler: LogHandler {
    let sink: RequestLog
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        sink.append(message.description)
    }
}

/// An upstream whose answers the test chooses and which answers slowly, so that requests overlap.
final class ScriptedUpstream: @unchecked Sendable {
    private let lock = NSLock()
    private var files = [String: [UInt8]]()
    private var seen = [String]()
    let delay: Duration

    init(delay: Duration = .milliseconds(300)) {
        self.delay = delay
    }

    func put(_ bytes: [UInt8], at path: String) { lock.withLock { files[path.lowercased()] = bytes } }
    var requests: [String] { lock.withLock { seen } }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("**") { request, _ -> Response in
            let path = request.uri.path
            let bytes = self.lock.withLock { () -> [UInt8]? in
                self.seen.append(path)
                return self.files[path.lowercased()]
            }
            try await Task.sleep(for: self.delay)
            guard let bytes else { return Response(status: .notFound) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: ServerFixtures.quietLogger)
    }
}

@Suite("Symbol server as a caching proxy", .ownThread)
struct ProxyTests {
    static let dump = TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp")
    static let sources = TestEnvironment.shared("generated/pe/x64")
    static let published = ["fixture.exe", "fixture.pdb", "fixturedll.dll", "fixturedll.pdb"]

    /// Fetch settings for tests: quiet, one attempt, a short timeout.
    static func fetchConfiguration(missLifetime: Duration = .seconds(600)) -> FetchConfiguration {
        FetchConfiguration(
            connectTimeout: .seconds(5), readTimeout: .seconds(10), attempts: 1, negativeCacheLifetime: missLifetime,
            progress: nil)
    }

    static func proxy(_ path: String, cache: String? = nil, log: RequestLog? = nil, missLifetime: Duration = .seconds(600))
        throws -> some ApplicationProtocol
    {
        let upstream = try UpstreamConfiguration(
            path: SymbolPath(parsing: path), cache: cache, fetch: fetchConfiguration(missLifetime: missLifetime))
        return buildSymbolServer(
            configuration: SymbolServerConfiguration(
                stores: [], port: 0, logger: log?.logger ?? ServerFixtures.quietLogger, upstream: upstream))
    }

    /// `curl -o output url`, returning the status code.
    static func get(_ url: String, to output: String) async throws -> String {
        try await LiveServerTests.fetch(url, to: output)
    }

    /// A `fetch --json` report: module file name → (binary status, PDB status).
    static func fetchReport(_ symbolPath: String) async throws -> [String: (binary: String, pdb: String)] {
        let result = try await ServerFixtures.run(
            TestEnvironment.postmortemExecutable, ["fetch", dump, "--symbol-path", symbolPath, "--json", "--timeout", "10"])
        let json = try #require(
            try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any], "fetch: \(result.stderrText)")
        var report = [String: (binary: String, pdb: String)]()
        for module in json["modules"] as? [[String: Any]] ?? [] {
            let name = (module["filename"] as? String ?? "").split(separator: "\\").last.map(String.init) ?? ""
            let binary = (module["binary"] as? [String: Any])?["status"] as? String ?? ""
            let pdb = (module["pdb"] as? [String: Any])?["status"] as? String ?? ""
            report[name.lowercased()] = (binary, pdb)
        }
        return report
    }

    @Test("fetch through server B proxying server A fills both caches; a second fetch asks no server")
    func proxyChain() async throws {
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let store = work + "/store"
        let add = try await ServerFixtures.run(
            TestEnvironment.postmortemExecutable,
            ["symstore", "add", "-f"] + Self.published.map { Self.sources + "/" + $0 } + [
                "-s", store, "-t", "fixture", "--compress",
            ])
        #expect(add.status == 0, "symstore add: \(add.stderrText)")

        let logA = RequestLog()
        let logB = RequestLog()
        let serverA = buildSymbolServer(configuration: SymbolServerConfiguration(stores: [store], port: 0, logger: logA.logger))
        try await serverA.test(.live) { clientA in
            let portA = try #require(clientA.port)
            let serverB = try Self.proxy("srv*\(work)/cacheB*http://127.0.0.1:\(portA)", log: logB)
            try await serverB.test(.live) { clientB in
                let portB = try #require(clientB.port)
                let path = "srv*\(work)/cacheC*http://127.0.0.1:\(portB)"
                let report = try await Self.fetchReport(path)
                for name in ["fixture.exe", "fixturedll.dll"] {
                    let module = try #require(report[name], "\(name) not in the dump's modules")
                    #expect(module.binary == "found", "\(name)")
                    #expect(module.pdb == "found", "\(name)")
                }
                // Both caches hold the files expanded (A only has compressed ones).
                for name in Self.published {
                    let key = StoreKey(try FileIdentity.read(path: Self.sources + "/" + name))
                    let original = try ServerFixtures.bytes(Self.sources + "/" + name)
                    #expect(try ServerFixtures.bytes("\(work)/cacheB/\(key.path)") == original, "\(key)")
                    #expect(try ServerFixtures.bytes("\(work)/cacheC/\(key.path)") == original, "\(key)")
                }
                let seenByB = try await logB.settledCount()
                #expect(seenByB > 0)

                let again = try await Self.fetchReport(path)
                #expect(again["fixture.exe"]?.pdb == "found")
                #expect(try await logB.settledCount() == seenByB, "the second fetch went past cacheC")

                // Two misses of one key on B: A is asked once (plain, `_`, file.ptr), then not again.
                let output = work + "/out"
                let missing = "http://127.0.0.1:\(portB)/missing.pdb/0123456789ABCDEF0123456789ABCDEF1/missing.pdb"
                let beforeMiss = try await logA.settledCount()
                #expect(try await Self.get(missing, to: output) == "404")
                let afterFirst = try await logA.settledCount()
                #expect(afterFirst - beforeMiss == 3, "\(logA.requests.suffix(afterFirst - beforeMiss))")
                #expect(try await Self.get(missing, to: output) == "404")
                #expect(try await logA.settledCount() == afterFirst, "the miss was not remembered")
                // A variant request that no store has is not proxied at all.
                #expect(try await Self.get(String(missing.dropLast()) + "_", to: output) == "404")
                #expect(try await logA.settledCount() == afterFirst)
            }
        }
    }

    @Test("concurrent requests for one key share one upstream fetch")
    func coalescing() async throws {
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let upstream = ScriptedUpstream()
        let key = "/fixture.pdb/DE72AEE0C8234F214C4C44205044422E1/fixture.pdb"
        let expected = try ServerFixtures.bytes(Self.sources + "/fixture.pdb")
        upstream.put(expected, at: key)
        try await upstream.application().test(.live) { clientA in
            let portA = try #require(clientA.port)
            try await Self.proxy("srv*\(work)/cache*http://127.0.0.1:\(portA)").test(.live) { clientB in
                let portB = try #require(clientB.port)
                // One curl with eight parallel transfers: eight curl processes at once would
                // queue on Dispatch's few threads (runProcess blocks one each) and not overlap.
                var arguments = ["-sS", "--noproxy", "*", "--max-time", "20", "--parallel", "--parallel-immediate"]
                arguments += ["--parallel-max", "8", "-w", "%{http_code}\\n"]
                for index in 0..<8 { arguments += ["-o", "\(work)/out\(index)", "http://127.0.0.1:\(portB)\(key)"] }
                let result = try await ServerFixtures.run(LiveServerTests.curl, arguments)
                let statuses = result.stdoutText.split(separator: "\n").map(String.init)
                #expect(statuses == Array(repeating: "200", count: 8))
                for index in 0..<8 { #expect(try ServerFixtures.bytes("\(work)/out\(index)") == expected) }
                #expect(upstream.requests == [key])
            }
        }
    }

    @Test("misses are remembered for the configured time only")
    func missLifetime() async throws {
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let upstream = ScriptedUpstream(delay: .zero)
        try await upstream.application().test(.live) { clientA in
            let portA = try #require(clientA.port)
            let proxy = try Self.proxy("srv*\(work)/cache*http://127.0.0.1:\(portA)", missLifetime: .seconds(5))
            try await proxy.test(.live) { clientB in
                let url = "http://127.0.0.1:\(try #require(clientB.port))/a.pdb/00000000000000000000000000000000A/a.pdb"
                #expect(try await Self.get(url, to: work + "/out") == "404")
                #expect(try await Self.get(url, to: work + "/out") == "404")
                #expect(upstream.requests.count == 3)
                // A lifetime long enough that two requests under a loaded machine fall inside it; entries
                // hold whole seconds, so five seconds may last almost six.
                try await Task.sleep(for: .milliseconds(6200))
                #expect(try await Self.get(url, to: work + "/out") == "404")
                #expect(upstream.requests.count == 6)
            }
        }
    }

    @Test("an upstream file.ptr naming a local path is not served")
    func pointerToLocalFile() async throws {
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let secret = work + "/secret.txt"
        try ServerFixtures.write(Array("not for clients".utf8), at: "secret.txt", in: work)
        let upstream = ScriptedUpstream(delay: .zero)
        upstream.put(Array("PATH:\(secret)".utf8), at: "/b.pdb/00000000000000000000000000000000B/file.ptr")
        try await upstream.application().test(.live) { clientA in
            let portA = try #require(clientA.port)
            try await Self.proxy("srv*\(work)/cache*http://127.0.0.1:\(portA)").test(.live) { clientB in
                let url = "http://127.0.0.1:\(try #require(clientB.port))/b.pdb/00000000000000000000000000000000B/b.pdb"
                let output = work + "/out"
                #expect(try await Self.get(url, to: output) == "502")
                #expect(!String(decoding: try ServerFixtures.bytes(output), as: UTF8.self).contains("not for clients"))
                #expect(!FileManager.default.fileExists(atPath: work + "/cache/b.pdb/00000000000000000000000000000000B/b.pdb"))
            }
        }
    }

    @Test("a folder upstream: compressed files are served expanded from the cache")
    func folderUpstream() async throws {
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let app = try Self.proxy(ServerFixtures.symstore, cache: work + "/cache")
        // The fixture store holds this PDB only as fixture.pd_ (MSZIP).
        let key = "fixture.pdb/4C63067AC98CEBCF4C4C44205044422E1/fixture.pdb"
        let compressed = ServerFixtures.symstore + "/" + String(key.dropLast()) + "_"
        let expected = try Cabinet(path: compressed).extractSingleFile(limit: 1 << 30).bytes
        try await app.test(.router) { client in
            try await client.execute(uri: "/" + key, method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(buffer: response.body) == expected)
            }
            try await client.execute(uri: "/" + key.uppercased(), method: .head) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/fixture.pdb/0000/fixture.pdb", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/%2e%2e/fixture.pdb/x/fixture.pdb", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
        #expect(try ServerFixtures.bytes(work + "/cache/" + key) == expected)
    }

    @Test("debuginfod: debug info is proxied by build id, executables (named by file) are not")
    func debuginfodThroughTheProxy() async throws {
        let work = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let id = ServerFixtures.crashBuildID
        try ServerFixtures.copy(
            ServerFixtures.crashDebugFile, to: "upstream/_.debug/elf-buildid-sym-\(id)/_.debug", in: work)
        try ServerFixtures.copy(ServerFixtures.crashExecutable, to: "upstream/crash/elf-buildid-\(id)/crash", in: work)
        let expected = try ServerFixtures.bytes(ServerFixtures.crashDebugFile)
        let app = try Self.proxy(work + "/upstream", cache: work + "/cache")
        try await app.test(.router) { client in
            try await client.execute(uri: "/buildid/\(id)/debuginfo", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Array(buffer: response.body) == expected)
            }
            try await client.execute(uri: "/buildid/\(id)/executable", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test("the cache is the --cache folder, else the upstream path's first downstream store")
    func cacheChoice() throws {
        let cascade = try SymbolPath(parsing: "srv*/tmp/near*/tmp/far*https://example.invalid/symbols")
        #expect(try UpstreamConfiguration(path: cascade).cache == "/tmp/near")
        #expect(try UpstreamConfiguration(path: cascade, cache: "/tmp/mine").cache == "/tmp/mine")
        let cached = try SymbolPath(parsing: "/plain;cache*/tmp/c;/other")
        #expect(try UpstreamConfiguration(path: cached).cache == "/tmp/c")
        #expect(throws: UpstreamConfiguration.Invalid.self) {
            try UpstreamConfiguration(path: SymbolPath(parsing: "/just/a/folder"))
        }
    }
}
