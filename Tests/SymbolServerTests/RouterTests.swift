import Foundation
import Hummingbird
import HummingbirdTesting
import SymbolStore
import TestSupport
import Testing

@testable import SymbolServer

/// The files a transaction of the fixture store recorded: the key and the file actually stored.
struct StoredEntry: CustomStringConvertible, Sendable {
    var fileName: String
    var index: String
    var storedName: String
    var path: String
    var description: String { "\(fileName)/\(index)/\(storedName)" }

    /// Every key of every transaction file in `generated/symstore/000Admin`.
    static func fixtureEntries() -> [StoredEntry] {
        let root = ServerFixtures.symstore
        let admin = root + "/000Admin"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: admin)) ?? []).filter {
            $0.count == 10 && $0.allSatisfy(\.isNumber)
        }
        var entries = [StoredEntry]()
        for name in names.sorted() {
            let text = (try? String(contentsOfFile: admin + "/" + name, encoding: .utf8)) ?? ""
            for entry in (try? TransactionEntry.parseAll(text)) ?? [] {
                let folder = "\(root)/\(entry.fileName)/\(entry.index)"
                for stored in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                    entries.append(
                        StoredEntry(fileName: entry.fileName, index: entry.index, storedName: stored, path: folder + "/" + stored)
                    )
                }
            }
        }
        return entries
    }
}

@Suite("Symbol server routes over the fixture store", .ownThread)
struct FixtureStoreRouteTests {
    let entries = StoredEntry.fixtureEntries()

    @Test func fixtureStoreHasBothKindsOfFiles() {
        #expect(TestEnvironment.hasSharedFixtures)
        #expect(entries.count == 6)
        #expect(entries.contains { $0.storedName.hasSuffix("_") })
        #expect(entries.contains { !$0.storedName.hasSuffix("_") })
    }

    /// Bodies from disk (no memory cache) and from memory (every prefix after the first).
    static let memoryBudgets = [0, 64 << 20]

    @Test(arguments: memoryBudgets)
    func everyKeyIsServedByteForByte(memoryCacheBytes: Int) async throws {
        let app = ServerFixtures.server([ServerFixtures.symstore], memoryCacheBytes: memoryCacheBytes)
        try await app.test(.router) { client in
            for entry in entries {
                let expected = try ServerFixtures.bytes(entry.path)
                for prefix in ["", "/symbols", "/a/b"] {
                    try await client.execute(uri: "\(prefix)/\(entry)", method: .get) { response in
                        #expect(response.status == .ok, "\(prefix)/\(entry)")
                        #expect(Array(response.body.readableBytesView) == expected, "\(entry)")
                        #expect(response.headers[.eTag] != nil)
                        #expect(response.headers[.lastModified]?.hasSuffix(" GMT") == true)
                    }
                }
                try await client.execute(uri: "/\(entry)", method: .head) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentLength] == String(expected.count), "\(entry)")
                    #expect(response.body.readableBytes == 0)
                }
            }
        }
    }

    @Test func compressedFilesAreServedOnlyUnderTheirOwnName() async throws {
        let compressed = entries.filter { $0.storedName.hasSuffix("_") }
        #expect(!compressed.isEmpty)
        let app = ServerFixtures.server([ServerFixtures.symstore])
        try await app.test(.router) { client in
            for entry in compressed {
                // SymSrv asks for the plain name first; a 404 sends it on to `foo.pd_`.
                try await client.execute(uri: "/\(entry.fileName)/\(entry.index)/\(entry.fileName)", method: .get) {
                    #expect($0.status == .notFound)
                }
                let stored = try ServerFixtures.bytes(entry.path)
                #expect(stored.starts(with: Array("MSCF".utf8)))
                try await client.execute(uri: "/\(entry)", method: .get) {
                    #expect($0.status == .ok)
                    #expect(Array($0.body.readableBytesView) == stored)
                }
            }
        }
    }

    @Test func lettersMayComeInAnyCase() async throws {
        let app = ServerFixtures.server([ServerFixtures.symstore])
        try await app.test(.router) { client in
            for entry in entries {
                let expected = try ServerFixtures.bytes(entry.path)
                for uri in [
                    "/\(entry.fileName.uppercased())/\(entry.index.lowercased())/\(entry.storedName.uppercased())",
                    "/\(entry.fileName.lowercased())/\(entry.index.uppercased())/\(entry.storedName.lowercased())",
                ] {
                    try await client.execute(uri: uri, method: .get) {
                        #expect($0.status == .ok, "\(uri)")
                        #expect(Array($0.body.readableBytesView) == expected)
                    }
                }
            }
        }
    }

    @Test(arguments: memoryBudgets)
    func rangesAndValidators(memoryCacheBytes: Int) async throws {
        let entry = try #require(entries.first { !$0.storedName.hasSuffix("_") })
        let expected = try ServerFixtures.bytes(entry.path)
        let app = ServerFixtures.server([ServerFixtures.symstore], memoryCacheBytes: memoryCacheBytes)
        try await app.test(.router) { client in
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.range: "bytes=2-9"]) {
                #expect($0.status == .partialContent)
                #expect($0.headers[.contentRange] == "bytes 2-9/\(expected.count)")
                #expect(Array($0.body.readableBytesView) == Array(expected[2...9]))
            }
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.range: "bytes=-4"]) {
                #expect($0.status == .partialContent)
                #expect(Array($0.body.readableBytesView) == Array(expected.suffix(4)))
            }
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.range: "bytes=\(expected.count - 3)-"]) {
                #expect($0.status == .partialContent)
                #expect(Array($0.body.readableBytesView) == Array(expected.suffix(3)))
            }
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.range: "bytes=\(expected.count)-"]) {
                #expect($0.status == .rangeNotSatisfiable)
                #expect($0.headers[.contentRange] == "bytes */\(expected.count)")
            }
            let etag = try await client.execute(uri: "/\(entry)", method: .head) { try #require($0.headers[.eTag]) }
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.ifNoneMatch: etag]) {
                #expect($0.status == .notModified)
                #expect($0.body.readableBytes == 0)
                #expect($0.headers[.eTag] == etag)
            }
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.ifNoneMatch: "\"other\", W/\(etag)"]) {
                #expect($0.status == .notModified)
            }
            try await client.execute(uri: "/\(entry)", method: .get, headers: [.ifNoneMatch: "\"other\""]) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test func missesAndHealth() async throws {
        let app = ServerFixtures.server([ServerFixtures.symstore])
        try await app.test(.router) { client in
            for uri in [
                "/fixture.exe/00000000AAAA/fixture.exe", "/nothing.pdb/ABC1/nothing.pdb", "/fixture.exe", "/",
                "/fixture.exe/08625E115000", "/000Admin/history.txt", "/buildid/\(ServerFixtures.crashBuildID)/executable",
                "/buildid/zz/executable",
            ] {
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .notFound, "\(uri)") }
            }
            try await client.execute(uri: "/health", method: .get) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == "ok")
            }
        }
    }

    static let traversals = [
        "/fixture.exe/../fixture.exe/08625E115000/fixture.exe",
        "/../../../../etc/passwd",
        "/fixture.exe/08625E115000/..",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2E%2E/%2E%2E/etc/passwd/x",
        "/fixture.exe/%2e%2e%2f%2e%2e%2fetc/passwd",
        "/etc%2fpasswd/x/y",
        "/fixture.exe/08625E115000/..%2f..%2f..%2fetc%2fpasswd",
        "/fixture.exe/08625E115000/..%5c..%5cpasswd",
        "/fixture.exe/08625E115000/fixture.exe%00.txt",
        "/fixture.exe/08625E115000/%",
        "/fixture.exe/08625E115000/%zz",
        "//etc/passwd",
        "/etc/passwd",
        "/proc/self/environ",
        "/tmp/x/y",
        "/./fixture.exe/./08625E115000/.",
        "/buildid/..%2f..%2f..%2f/executable",
        "/buildid/%2e%2e/executable",
    ]

    @Test(arguments: traversals)
    func traversalIsRefused(_ uri: String) async throws {
        let app = ServerFixtures.server([ServerFixtures.symstore])
        try await app.test(.router) { client in
            for method in [HTTPRequest.Method.get, .head] {
                try await client.execute(uri: uri, method: method) {
                    #expect($0.status == .badRequest || $0.status == .notFound, "\(method) \(uri): \($0.status)")
                }
            }
        }
    }
}

@Suite("Symbol server routes over built stores", .ownThread)
struct BuiltStoreRouteTests {
    @Test func symlinksLeavingTheStoreAreRefused() async throws {
        let base = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = base + "/store"
        try ServerFixtures.write(Array("secret".utf8), at: "outside/secret.pdb", in: base)
        try ServerFixtures.write(Array("secret".utf8), at: "outside/K1/secret.pdb", in: base)
        try ServerFixtures.write(Array("inside".utf8), at: "in.pdb/AB1/in.pdb", in: store)
        let manager = FileManager.default
        try manager.createDirectory(atPath: store + "/evil.pdb/AB1", withIntermediateDirectories: true)
        try manager.createSymbolicLink(
            atPath: store + "/evil.pdb/AB1/evil.pdb", withDestinationPath: base + "/outside/secret.pdb")
        try manager.createDirectory(atPath: store + "/rel.pdb/AB1", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: store + "/rel.pdb/AB1/rel.pdb", withDestinationPath: "../../../outside/secret.pdb")
        try manager.createSymbolicLink(atPath: store + "/secret.pdb", withDestinationPath: base + "/outside")
        // A symlink that stays inside the store is followed.
        try manager.createDirectory(atPath: store + "/alias.pdb/AB1", withIntermediateDirectories: true)
        try manager.createSymbolicLink(
            atPath: store + "/alias.pdb/AB1/alias.pdb", withDestinationPath: store + "/in.pdb/AB1/in.pdb")

        let app = ServerFixtures.server([store])
        try await app.test(.router) { client in
            for uri in [
                "/evil.pdb/AB1/evil.pdb", "/rel.pdb/AB1/rel.pdb", "/secret.pdb/K1/secret.pdb", "/SECRET.PDB/k1/secret.pdb",
            ] {
                try await client.execute(uri: uri, method: .get) {
                    #expect($0.status == .notFound || $0.status == .badRequest, "\(uri)")
                    #expect(String(buffer: $0.body) != "secret")
                }
            }
            try await client.execute(uri: "/alias.pdb/ab1/alias.pdb", method: .get) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == "inside")
            }
        }
    }

    @Test func answersFollowFilesReplacedOrAddedInTheStore() async throws {
        let store = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: store) }
        try ServerFixtures.write(Array("one!".utf8), at: "a.pdb/AB1/a.pdb", in: store)
        // Old folders, so that their listings are kept and must be noticed to change.
        let old = Date(timeIntervalSinceNow: -3600)
        for folder in [store, store + "/a.pdb", store + "/a.pdb/AB1"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: folder)
        }
        let app = ServerFixtures.server([store])
        try await app.test(.router) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/A.PDB/ab1/a.pdb", method: .get) { #expect(String(buffer: $0.body) == "one!") }
            }
            // Publishers replace a file by renaming a new one over it; the size stays the same here.
            try ServerFixtures.write(Array("two!".utf8), at: "a.pdb/AB1/a.pdb.tmp", in: store)
            #expect(rename(store + "/a.pdb/AB1/a.pdb.tmp", store + "/a.pdb/AB1/a.pdb") == 0)
            try await client.execute(uri: "/a.pdb/AB1/a.pdb", method: .get) { #expect(String(buffer: $0.body) == "two!") }
            try await client.execute(uri: "/a.pdb/AB1/a.pdb", method: .get, headers: [.range: "bytes=1-2"]) {
                #expect($0.status == .partialContent)
                #expect(String(buffer: $0.body) == "wo")
            }
            // A miss in other casing, then the file arrives: the root's listing is read again.
            try await client.execute(uri: "/B.PDB/cd1/b.pdb", method: .get) { #expect($0.status == .notFound) }
            try ServerFixtures.write(Array("bee".utf8), at: "b.pdb/CD1/b.pdb", in: store)
            try await client.execute(uri: "/B.PDB/cd1/b.pdb", method: .get) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == "bee")
            }
            // And a file removed is no longer served from memory.
            try FileManager.default.removeItem(atPath: store + "/a.pdb/AB1/a.pdb")
            try await client.execute(uri: "/a.pdb/AB1/a.pdb", method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test func storesAreSearchedInOrderAndTwoTierStoresWork() async throws {
        let base = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try ServerFixtures.write(Array("first".utf8), at: "a/both.dll/5AB380779000/both.dll", in: base)
        try ServerFixtures.write(Array("second".utf8), at: "b/both.dll/5AB380779000/both.dll", in: base)
        try ServerFixtures.write(Array("only".utf8), at: "b/only.dll/5AB380779000/only.dll", in: base)
        try ServerFixtures.write([], at: "b/index2.txt", in: base)
        try ServerFixtures.write(Array("tiered".utf8), at: "b/ti/tiered.pdb/0123ABCD1/tiered.pdb", in: base)
        try ServerFixtures.write(Array("PATH:/mnt/symbols/ptr.pdb\r\n".utf8), at: "a/ptr.pdb/FEDC1/file.ptr", in: base)

        let app = ServerFixtures.server([base + "/a", base + "/b"])
        try await app.test(.router) { client in
            try await client.execute(uri: "/both.dll/5AB380779000/both.dll", method: .get) {
                #expect(String(buffer: $0.body) == "first")
            }
            try await client.execute(uri: "/only.dll/5AB380779000/only.dll", method: .get) {
                #expect($0.status == .notFound)  // b is two-tier: `on/only.dll/…` does not exist.
            }
            try await client.execute(uri: "/TIERED.PDB/0123abcd1/Tiered.pdb", method: .get) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == "tiered")
            }
            try await client.execute(uri: "/ptr.pdb/FEDC1/ptr.pdb", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/ptr.pdb/FEDC1/ptr.pd_", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/ptr.pdb/FEDC1/file.ptr", method: .get) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == "PATH:/mnt/symbols/ptr.pdb\r\n")
            }
        }
    }

    @Test func debuginfodBuildIDs() async throws {
        let store = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: store) }
        let id = ServerFixtures.crashBuildID
        try ServerFixtures.copy(ServerFixtures.crashExecutable, to: "crash/elf-buildid-\(id)/crash", in: store)
        try ServerFixtures.copy(ServerFixtures.crashDebugFile, to: "_.debug/elf-buildid-sym-\(id)/_.debug", in: store)
        let executable = try ServerFixtures.bytes(ServerFixtures.crashExecutable)
        let debug = try ServerFixtures.bytes(ServerFixtures.crashDebugFile)

        let app = ServerFixtures.server([store])
        try await app.test(.router) { client in
            for prefix in ["", "/symbols"] {
                try await client.execute(uri: "\(prefix)/buildid/\(id)/executable", method: .get) {
                    #expect($0.status == .ok)
                    #expect(Array($0.body.readableBytesView) == executable)
                }
                try await client.execute(uri: "\(prefix)/buildid/\(id.uppercased())/debuginfo", method: .get) {
                    #expect($0.status == .ok)
                    #expect(Array($0.body.readableBytesView) == debug)
                }
            }
            try await client.execute(uri: "/crash/elf-buildid-\(id)/crash", method: .head) {
                #expect($0.headers[.contentLength] == String(executable.count))
            }
            try await client.execute(uri: "/buildid/\(id.dropLast(2))00/executable", method: .get) {
                #expect($0.status == .notFound)
            }
        }
    }
}

@Suite("Request paths", .ownThread)
struct RequestPathTests {
    @Test func targets() throws {
        #expect(
            try RequestPath(raw: "/symbols/a.pdb/K1/a.pdb").target == .symsrv(fileName: "a.pdb", index: "K1", storedName: "a.pdb")
        )
        #expect(try RequestPath(raw: "/a%20b.pdb/K1/a%20b.pdb").segments == ["a b.pdb", "K1", "a b.pdb"])
        #expect(try RequestPath(raw: "/buildid/ABcd/Executable").target == .debuginfod(buildID: "abcd", artifact: "executable"))
        #expect(try RequestPath(raw: "/a/b").target == .none)
        #expect(throws: RequestPath.Rejection.self) { try RequestPath(raw: "/a/%2e%2E/b") }
        #expect(throws: RequestPath.Rejection.self) { try RequestPath(raw: "/a/%C0%AE%C0%AE/b") }
    }

    @Test func byteRanges() {
        #expect(ByteRange.parse("bytes=0-0", size: 10) == .range(0...0))
        #expect(ByteRange.parse("bytes=5-100", size: 10) == .range(5...9))
        #expect(ByteRange.parse("bytes=-3", size: 10) == .range(7...9))
        #expect(ByteRange.parse("bytes=-30", size: 10) == .range(0...9))
        #expect(ByteRange.parse("bytes=10-", size: 10) == .unsatisfiable)
        #expect(ByteRange.parse("bytes=0-1,3-4", size: 10) == .ignore)
        #expect(ByteRange.parse("items=0-1", size: 10) == .ignore)
        #expect(ByteRange.parse("bytes=4-2", size: 10) == .ignore)
    }
}

@Suite("Read limiter", .ownThread)
struct ReadLimiterTests {
    @Test func noMoreReadersThanPermits() async throws {
        let limiter = ReadLimiter(permits: 2)
        let counter = InFlightCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await limiter.withPermit {
                        await counter.enter()
                        try await Task.sleep(for: .milliseconds(20))
                        await counter.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await counter.peak == 2)
        #expect(await counter.current == 0)
    }
}

actor InFlightCounter {
    var current = 0
    var peak = 0
    func enter() {
        current += 1
        peak = max(peak, current)
    }
    func leave() { current -= 1 }
}

@Suite("File content cache", .ownThread)
struct FileContentCacheTests {
    @Test func staysWithinItsBudgetDroppingTheLeastRecentlyUsed() async throws {
        let root = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["a", "b", "c"] {
            try ServerFixtures.write(Array(repeating: UInt8(ascii: "x"), count: 40), at: name, in: root)
        }
        try ServerFixtures.write(Array(repeating: 0, count: 101), at: "big", in: root)
        let store = ServedStore(root: root)
        let a = try #require(store.resolve(["a"]))
        let b = try #require(store.resolve(["b"]))
        let c = try #require(store.resolve(["c"]))
        let big = try #require(store.resolve(["big"]))
        let cache = FileContentCache(budget: 100, largestFile: 100)

        #expect(await cache.load(a)?.readableBytes == 40)
        #expect(await cache.load(b)?.readableBytes == 40)
        #expect(cache.cached(a) != nil)  // a is now used more recently than b
        #expect(await cache.load(c)?.readableBytes == 40)
        #expect(cache.heldBytes == 80)
        #expect(cache.cached(b) == nil)
        #expect(cache.cached(a) != nil && cache.cached(c) != nil)
        #expect(!cache.admits(big))
        #expect(await cache.load(big) == nil)
        #expect(cache.heldBytes == 80)
    }

    @Test func aFileChangedSinceItWasFoundIsNotHeld() async throws {
        let root = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try ServerFixtures.write(Array("first".utf8), at: "f", in: root)
        let found = try #require(ServedStore(root: root).resolve(["f"]))
        try ServerFixtures.write(Array("other".utf8), at: "g", in: root)
        #expect(rename(root + "/g", root + "/f") == 0)
        let cache = FileContentCache(budget: 100)
        #expect(await cache.load(found) == nil)
        #expect(cache.heldBytes == 0)
    }
}
