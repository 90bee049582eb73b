import Foundation
import SymbolClient
import SymbolHTTP
import SymbolStore
import TestSupport
import Testing

/// Settings for loopback tests: short timeouts and backoff, no progress output, two attempts.
func testConfiguration(cache: String, attempts: Int = 2, negativeLifetime: Duration = .seconds(3600)) -> FetchConfiguration {
    FetchConfiguration(
        defaultDownstream: cache + "/default", connectTimeout: .seconds(2), readTimeout: .milliseconds(400),
        requestTimeout: .seconds(5), attempts: attempts, initialBackoff: .milliseconds(20),
        maximumBackoff: .milliseconds(100), parallelDownloads: 2, maximumDownloadSize: 16 << 20,
        negativeCacheLifetime: negativeLifetime, progress: nil, transport: HTTPSymbolTransport.factory)
}

/// Fetches `key` along `path` with a fresh fetcher, shut down afterwards.
func fetchOnce(_ key: StoreKey, path: String, configuration: FetchConfiguration) async throws -> FetchOutcome {
    let fetcher = SymbolFetcher(path: try SymbolPath(parsing: path), configuration: configuration)
    let outcome = await fetcher.fetch(key)
    await fetcher.shutdown()
    return outcome
}

@Suite("SymbolFetcher over a loopback store", .ownThread)
struct SymbolFetcherTests {
    let fixture = TestEnvironment.shared("generated/pe/x64/fixture.exe")

    @Test("a first fetch fills the cache, a second one asks nobody")
    func cacheFillsThenHits() async throws {
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        let keys = try Scratch.store(with: ["fixture.exe"], in: root)
        let key = try #require(keys["fixture.exe"])
        let server = try LoopbackServer(root: root)
        defer { server.stop() }
        let path = "srv*\(cache)*\(server.url)"

        let first = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: cache))
        #expect(first == .found(path: cache + "/" + key.path, source: server.url + "/" + key.path))
        #expect(FileManager.default.contentsEqual(atPath: cache + "/" + key.path, andPath: fixture))
        #expect(server.requests == ["/" + key.path])

        let second = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: cache))
        #expect(second == .found(path: cache + "/" + key.path, source: cache))
        #expect(server.requests.count == 1)
        #expect(Scratch.files(under: cache) == [key.path])
    }

    @Test("a cascade fills every downstream store, and a nearer store is refilled from a farther one")
    func cascade() async throws {
        let root = try Scratch.folder("store")
        let near = try Scratch.folder("near")
        let far = try Scratch.folder("far")
        let key = try #require(try Scratch.store(with: ["fixturedll.pdb"], in: root)["fixturedll.pdb"])
        let server = try LoopbackServer(root: root)
        defer { server.stop() }
        let path = "srv*\(near)*\(far)*\(server.url)"

        let first = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: near))
        #expect(first.path == near + "/" + key.path)
        #expect(Scratch.files(under: near) == [key.path])
        #expect(Scratch.files(under: far) == [key.path])

        try FileManager.default.removeItem(atPath: near + "/" + key.path)
        let second = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: near))
        #expect(second == .found(path: near + "/" + key.path, source: far))
        #expect(Scratch.files(under: near) == [key.path])
        #expect(server.requests.count == 1)
    }

    @Test("local folders come before servers, in path order")
    func localFirst() async throws {
        let folder = try Scratch.folder("folder")
        let cache = try Scratch.folder("cache")
        let key = try #require(try Scratch.store(with: ["fixture.exe"], in: folder)["fixture.exe"])
        let server = try LoopbackServer(root: folder)
        defer { server.stop() }
        let outcome = try await fetchOnce(
            key, path: "srv*\(cache)*\(server.url);\(folder)", configuration: testConfiguration(cache: cache))
        #expect(outcome == .found(path: folder + "/" + key.path, source: folder))
        #expect(server.requests.isEmpty)
    }

    @Test("a file the server holds only compressed (_) is downloaded and expanded")
    func compressedOnly() async throws {
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        let compressed = TestEnvironment.shared("generated/symstore/fixture.exe/D794C92A5000/fixture.ex_")
        try Scratch.put(
            try Data(contentsOf: URL(fileURLWithPath: compressed)), at: "fixture.exe/D794C92A5000/fixture.ex_", in: root)
        let expected = try Cabinet(path: compressed).extractSingleFile(limit: 1 << 24).bytes
        let key = StoreKey(fileName: "fixture.exe", index: "D794C92A5000", storedName: "fixture.exe")
        let server = try LoopbackServer(root: root)
        defer { server.stop() }

        let outcome = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: testConfiguration(cache: cache))
        #expect(outcome.path == cache + "/" + key.path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: cache + "/" + key.path))) == expected)
        #expect(server.requests == ["/" + key.path, "/" + key.compressed.path])
        #expect(Scratch.files(under: cache) == [key.path])
    }

    @Test("a file.ptr holding a URL is followed; one holding MSG: is reported")
    func pointers() async throws {
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        let key = StoreKey(fileName: "fixture.exe", index: "08625E115000", storedName: "fixture.exe")
        let other = StoreKey(fileName: "secret.pdb", index: "0123456789ABCDEF0123456789ABCDEF1", storedName: "secret.pdb")
        try Scratch.put(try Data(contentsOf: URL(fileURLWithPath: fixture)), at: "elsewhere/fixture.exe", in: root)
        let server = try LoopbackServer(root: root)
        defer { server.stop() }
        try Scratch.put(Data("\(server.url)/elsewhere/fixture.exe\r\n".utf8), at: key.pointer.path, in: root)
        try Scratch.put(Data("MSG: ask the build team\n".utf8), at: other.pointer.path, in: root)
        let path = "srv*\(cache)*\(server.url)"

        let followed = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: cache))
        #expect(followed == .found(path: cache + "/" + key.path, source: server.url + "/elsewhere/fixture.exe"))
        #expect(FileManager.default.contentsEqual(atPath: cache + "/" + key.path, andPath: fixture))
        let message = try await fetchOnce(other, path: path, configuration: testConfiguration(cache: cache))
        #expect(message == .message("ask the build team"))
    }

    @Test("a local file.ptr with a path is followed")
    func localPointer() async throws {
        let folder = try Scratch.folder("folder")
        let key = StoreKey(fileName: "fixture.exe", index: "08625E115000", storedName: "fixture.exe")
        try Scratch.put(Data(fixture.utf8), at: key.pointer.path, in: folder)
        let outcome = try await fetchOnce(key, path: folder, configuration: testConfiguration(cache: folder))
        #expect(outcome == .found(path: fixture, source: folder))
    }
}

@Suite("SymbolFetcher against a faulty server", .ownThread)
struct SymbolFetcherFaultTests {
    let fixture = TestEnvironment.shared("generated/pe/x64/fixture.exe")
    let key = StoreKey(fileName: "fixture.exe", index: "08625E115000", storedName: "fixture.exe")

    /// A store holding fixture.exe under `key`, served with `behavior`.
    func serve(_ behavior: @escaping LoopbackServer.Behavior) throws -> (LoopbackServer, cache: String) {
        let root = try Scratch.folder("store")
        try Scratch.put(try Data(contentsOf: URL(fileURLWithPath: fixture)), at: key.path, in: root)
        return (try LoopbackServer(root: root, behavior: behavior), try Scratch.folder("cache"))
    }

    /// Nothing under the cache but `.tmp/` (empty) and, when `key` is nil, nothing at all.
    func expectNoPartialFile(in cache: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Scratch.files(under: cache).filter { !$0.hasPrefix(".misses/") } == [], sourceLocation: sourceLocation)
    }

    @Test("500 then success: retried")
    func serverErrorRetried() async throws {
        let (server, cache) = try serve { _, count in count == 1 ? .status(500) : nil }
        defer { server.stop() }
        let outcome = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: testConfiguration(cache: cache))
        #expect(outcome.path == cache + "/" + key.path)
        #expect(server.requests == ["/" + key.path, "/" + key.path])
        #expect(FileManager.default.contentsEqual(atPath: cache + "/" + key.path, andPath: fixture))
    }

    @Test("a server that hangs past the timeout: retried, then given up cleanly")
    func hang() async throws {
        // The server stays silent far longer than the client's read timeout (400 ms), so only the
        // timeout can end each attempt. No bound on elapsed time: with both cores busy running
        // other suites, the test's own tasks can wait seconds for a thread.
        let (server, cache) = try serve { _, _ in .hang(seconds: 10) }
        defer { server.stop() }
        let outcome = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: testConfiguration(cache: cache))
        guard case .failed(let errors) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(errors.count == 1 && errors.allSatisfy { $0.contains("readTimeout") }, "\(errors)")
        #expect(server.requests == ["/" + key.path, "/" + key.path])
        expectNoPartialFile(in: cache)
        // A failure is not a miss: nothing remembered, the next fetch asks again.
        #expect(!FileManager.default.fileExists(atPath: cache + "/.misses/" + key.path))
    }

    @Test("a connection dropped mid-body, then success: retried, the complete file lands")
    func droppedThenSuccess() async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let (server, cache) = try serve { _, count in
            count == 1 ? .dropped(contentLength: data.count, sent: data.prefix(1000)) : nil
        }
        defer { server.stop() }
        let outcome = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: testConfiguration(cache: cache))
        #expect(outcome.path == cache + "/" + key.path)
        #expect(server.requests.count == 2)
        #expect(FileManager.default.contentsEqual(atPath: cache + "/" + key.path, andPath: fixture))
        #expect(Scratch.files(under: cache) == [key.path])
    }

    @Test("a connection always dropped mid-body or a truncated body: given up, no partial file", arguments: [false, true])
    func brokenBodies(truncated: Bool) async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let (server, cache) = try serve { path, _ in
            guard path == "/" + self.key.path else { return nil }
            return truncated
                ? .truncated(contentLength: data.count, sent: data.prefix(1000))
                : .dropped(contentLength: data.count, sent: data.prefix(1000))
        }
        defer { server.stop() }
        let outcome = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: testConfiguration(cache: cache))
        guard case .failed = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(server.requests == ["/" + key.path, "/" + key.path])
        expectNoPartialFile(in: cache)
    }

    @Test("404 is not retried; the miss is remembered, and forgotten when its time is up")
    func notFound() async throws {
        let (server, cache) = try serve { _, _ in .status(404) }
        defer { server.stop() }
        let path = "srv*\(cache)*\(server.url)"
        let outcome = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: cache))
        guard case .missing = outcome else {
            Issue.record("expected a miss, got \(outcome)")
            return
        }
        #expect(server.requests == ["/" + key.path, "/" + key.compressed.path, "/" + key.pointer.path])
        #expect(FileManager.default.fileExists(atPath: cache + "/.misses/" + key.path))

        _ = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: cache))
        #expect(server.requests.count == 3)
        _ = try await fetchOnce(key, path: path, configuration: testConfiguration(cache: cache, negativeLifetime: .zero))
        #expect(server.requests.count == 6)
        expectNoPartialFile(in: cache)
    }

    @Test("parallel fetches of many keys, each asked twice, make one request per key")
    func parallel() async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let (server, cache) = try serve { path, _ in path.hasSuffix("/fixture.exe") ? .body(data) : nil }
        defer { server.stop() }
        let keys = (0..<8).map { StoreKey(fileName: "fixture.exe", index: "0000000\($0)5000", storedName: "fixture.exe") }
        let fetcher = SymbolFetcher(
            path: try SymbolPath(parsing: "srv*\(cache)*\(server.url)"), configuration: testConfiguration(cache: cache))
        let outcomes = await fetcher.fetchAll(keys + keys)
        await fetcher.shutdown()
        #expect(outcomes.count == 8)
        #expect(outcomes.values.allSatisfy { $0.path != nil })
        #expect(server.requests.count == 8)
    }
}

@Suite("SymbolFetcher limits and progress", .ownThread)
struct SymbolFetcherLimitTests {
    let fixture = TestEnvironment.shared("generated/pe/x64/fixture.exe")
    let key = StoreKey(fileName: "fixture.exe", index: "08625E115000", storedName: "fixture.exe")

    @Test("a file larger than the maximum download size is refused at once, never retried or kept")
    func tooLarge() async throws {
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        try Scratch.put(try Data(contentsOf: URL(fileURLWithPath: fixture)), at: key.path, in: root)
        let server = try LoopbackServer(root: root)
        defer { server.stop() }
        var configuration = testConfiguration(cache: cache)
        configuration.maximumDownloadSize = 100
        let outcome = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: configuration)
        guard case .failed(let errors) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(errors.contains { $0.contains("limit of 100") })
        #expect(server.requests == ["/" + key.path])
        #expect(Scratch.files(under: cache) == [])
    }

    @Test("progress lines go to the configured sink")
    func progress() async throws {
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var lines = [String]()
        }
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        try Scratch.put(try Data(contentsOf: URL(fileURLWithPath: fixture)), at: key.path, in: root)
        let server = try LoopbackServer(root: root) { _, count in count == 1 ? .status(503) : nil }
        defer { server.stop() }
        let lines = Lines()
        var configuration = testConfiguration(cache: cache)
        configuration.progress = { line in lines.lock.withLock { lines.lines.append(line) } }
        _ = try await fetchOnce(key, path: "srv*\(cache)*\(server.url)", configuration: configuration)
        let seen = lines.lock.withLock { lines.lines }
        #expect(seen.contains { $0.hasPrefix("retrying \(server.url)/\(key.path)") })
        #expect(seen.contains { $0.hasPrefix("downloading \(server.url)/\(key.path)") })
    }
}
