import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SymbolStore
import TestSupport
import Testing

@testable import CrashService

@Suite("Symbol store keys in object storage", .ownThread)
struct S3SymbolKeyTests {
    @Test(arguments: [
        (
            "/symbols/App.pdb/5A9832E5287241C1838ED98914E9B7FF1/App.pdb",
            "symbols/app.pdb/5a9832e5287241c1838ed98914e9b7ff1/app.pdb"
        ),
        ("/symbols/app.exe/5F1C2A3B7000/app.ex_", "symbols/app.exe/5f1c2a3b7000/app.ex_"),
        ("/symbols/a%20b.pdb/00/file.ptr", "symbols/a b.pdb/00/file.ptr"),
        ("/symbols/buildid/ABCDEF/debuginfo", "symbols/_.debug/elf-buildid-sym-abcdef/_.debug"),
    ])
    func requestPathsNameLowercaseKeys(path: String, key: String) {
        #expect(S3SymbolStore.requestedKey(path) == key)
    }

    @Test(arguments: [
        "/symbols/../00/a.pdb", "/symbols/a.pdb/%2e%2e/a.pdb", "/symbols/a%2Fb/00/x",
        "/symbols/buildid/abcdef/executable", "/symbols/a%00/00/a",
    ])
    func pathsThatNameNoKeyAreRefused(path: String) {
        #expect(S3SymbolStore.requestedKey(path) == nil)
    }

    @Test func adminRecordsKeepTheirSpelling() {
        #expect(S3SymbolStore.objectKey("000Admin/lastid.txt") == "symbols/000Admin/lastid.txt")
        #expect(S3SymbolStore.objectKey("pingme.txt") == "symbols/pingme.txt")
        #expect(S3SymbolStore.objectKey("App.pdb/ABC1/refs.ptr") == "symbols/app.pdb/abc1/refs.ptr")
    }

    @Test func theTransportReadsWhatThePublisherWrote() throws {
        let object = try #require(S3SymbolTransport.object(of: "s3://bucket/Team/symbols/App.pdb/5A98%2B1/App.pdb"))
        #expect(object.bucket == "bucket")
        #expect(object.key == "Team/symbols/app.pdb/5a98+1/app.pdb")
        #expect(S3SymbolTransport.object(of: "s3://bucket/a/b") == nil)
        #expect(S3SymbolTransport.object(of: "s3://bucket/x/../a/b") == nil)
    }

    @Test func symbolPathsNameS3StoresAsServers() throws {
        let path = try SymbolPath(parsing: "srv*/tmp/cache*s3://bucket/prefix/symbols")
        #expect(
            path.entries == [.server(.init(downstream: [.directory("/tmp/cache")], upstream: .url("s3://bucket/prefix/symbols")))]
        )
    }
}

/// `POST /symbols/upload`, `/symbols/` and workers with `--storage s3://…`, against moto on loopback.
@Suite("Symbol store in object storage", .serialized, .ownThread)
struct S3SymbolStoreTests {
    static let credentials = ObjectStorageTests.credentials

    /// A bucket on a fresh moto server, and a service configuration that keeps everything in it.
    static func setUp(_ moto: MotoServer, bucket: String, data: String) async throws -> (S3Client, CrashServiceConfiguration) {
        let s3 = S3Configuration(
            location: try #require(S3Location(url: "s3://\(bucket)/team")), endpoint: moto.endpoint, region: "us-east-1",
            credentials: Self.credentials)
        let client = S3Client(configuration: s3)
        try await client.createBucket()
        var configuration = ServiceFixtures.configuration(data: data, maxUploadBytes: 8 << 20)
        configuration.objectStorage = s3
        return (client, configuration)
    }

    static func text(_ client: S3Client, _ key: String) async throws -> String? {
        try await client.get(key: key, maxBytes: 1 << 20).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func uploadsArePublishedIntoTheBucketAndServedFromIt() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let moto = try MotoServer()
        defer { moto.stop() }
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (client, configuration) = try await Self.setUp(moto, bucket: "symbols-served", data: data)
        try await buildCrashService(configuration: configuration).test(.live) { http in
            let base = "http://127.0.0.1:\(try #require(http.port))"
            let pdb = try ServiceFixtures.bytes(SymbolUploadTests.pdb)
            let exe = try ServiceFixtures.bytes(SymbolUploadTests.exe)
            let sym = try ServiceFixtures.bytes(SymbolUploadTests.sym)
            let (status, text) = try await SymbolUploadTests.upload(
                base, files: [("fixture.pdb", pdb), ("fixture.exe", exe), ("test_app.sym", sym)])
            #expect(status == 200, "\(text)")
            let answer = try SymbolUploadTests.published(text)
            #expect(answer.transaction == "0000000001")
            #expect(answer.published.map(\.key).last == SymbolUploadTests.symKey)

            // Acknowledged means stored: each file, its refs.ptr, and the admin records, in symstore's layout.
            for (file, bytes) in zip(answer.published, [pdb, exe, sym]) {
                let key = "symbols/" + file.key.lowercased()
                #expect(try await client.get(key: key, maxBytes: 64 << 20).map(Array.init) == bytes, "\(key)")
                let folder = key.split(separator: "/").dropLast().joined(separator: "/")
                let refs = try await Self.text(client, folder + "/refs.ptr")
                #expect(refs == "0000000001,file,\r\n", "\(folder)")
            }
            #expect(try await Self.text(client, "symbols/000Admin/lastid.txt") == "0000000001")
            let entries = try #require(try await Self.text(client, "symbols/000Admin/0000000001"))
            #expect(entries.split(separator: "\n").count == 3)
            #expect(entries.contains("\"test_app.pdb\\5A9832E5287241C1838ED98914E9B7FF1\""))
            let server = try #require(try await Self.text(client, "symbols/000Admin/server.txt"))
            #expect(server.hasPrefix("0000000001,add,file,"))
            #expect(try await Self.text(client, "symbols/000Admin/history.txt") == server.trimmingCharacters(in: .newlines))
            #expect(!FileManager.default.fileExists(atPath: data + "/symbols"), "the store was written to the data folder")

            // A second transaction takes the next id and keeps the first one's references.
            let again = try await SymbolUploadTests.upload(base, files: [("test_app.sym", sym)])
            #expect(try SymbolUploadTests.published(again.text).transaction == "0000000002")
            let symFolder =
                "symbols/" + SymbolUploadTests.symKey.lowercased().split(separator: "/").dropLast().joined(separator: "/")
            #expect(try await Self.text(client, symFolder + "/refs.ptr") == "0000000001,file,\r\n0000000002,file,\r\n")
            #expect(try await Self.text(client, "symbols/000Admin/lastid.txt") == "0000000002")
            let records = try TransactionRecord.parseAll(try #require(try await Self.text(client, "symbols/000Admin/server.txt")))
            #expect(records.map(\.id) == [1, 2])

            // Served from the bucket in any letter case, with ranges; the compressed and pointer forms are asked for after a 404.
            let token = ServiceFixtures.readToken.secret
            for (file, bytes) in zip(answer.published, [pdb, exe, sym]) {
                let served = try await SymbolUploadTests.send("GET", "\(base)/symbols/\(file.key)", token: token)
                #expect(served.status == 200)
                #expect(Array(served.body.readableBytesView) == bytes, "\(file.key) differs from the upload")
                let upper = try await SymbolUploadTests.send("HEAD", "\(base)/symbols/\(file.key.uppercased())", token: token)
                #expect(upper.status == 200)
                #expect(upper.headers.contains { $0.0.lowercased() == "content-length" && $0.1 == String(bytes.count) })
                #expect(upper.headers.contains { $0.0.lowercased() == "etag" })
            }
            var ranged = HTTPClientRequest(url: "\(base)/symbols/\(answer.published[0].key)")
            ranged.headers.add(name: "Authorization", value: "Bearer \(token)")
            ranged.headers.add(name: "Range", value: "bytes=0-3")
            let partial = try await LiveClient.client.execute(ranged, timeout: .seconds(30))
            #expect(partial.status == .partialContent)
            #expect(Array(try await partial.body.collect(upTo: 1 << 20).readableBytesView) == Array(pdb.prefix(4)))
            let compressed = answer.published[0].key.dropLast() + "_"
            #expect(try await SymbolUploadTests.send("GET", "\(base)/symbols/\(compressed)", token: token).status == 404)
            let pointer = answer.published[0].key.split(separator: "/").dropLast().joined(separator: "/") + "/file.ptr"
            #expect(try await SymbolUploadTests.send("HEAD", "\(base)/symbols/\(pointer)", token: token).status == 404)
            #expect(
                try await SymbolUploadTests.send("GET", "\(base)/symbols/\(answer.published[0].key)", token: nil).status == 401)
        }
    }

    /// Two `api` processes (two services over one database) publishing at once: one transaction each,
    /// no id taken twice, no record lost.
    @Test func concurrentUploadsOfTwoServicesAreSerialized() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (client, configuration) = try await Self.setUp(moto, bucket: "symbols-shared", data: data)
        let api = {
            var api = configuration
            api.role = .api
            return api
        }()
        let sym = try ServiceFixtures.bytes(SymbolUploadTests.sym)
        try await buildCrashService(configuration: api).test(.live) { first in
            try await buildCrashService(configuration: api).test(.live) { second in
                let bases = [first.port, second.port].map { "http://127.0.0.1:\($0!)" }
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<6 {
                        group.addTask {
                            let (status, text) = try await SymbolUploadTests.upload(
                                bases[index % 2], files: [("test_app.sym", sym)])
                            #expect(status == 200, "\(text)")
                            return try SymbolUploadTests.published(text).transaction
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(ids.sorted() == (1...6).map { TransactionID.format($0) })
                let records = try TransactionRecord.parseAll(
                    try #require(try await Self.text(client, "symbols/000Admin/server.txt")))
                #expect(records.map(\.id) == Array(1...6))
                let folder =
                    "symbols/" + SymbolUploadTests.symKey.lowercased().split(separator: "/").dropLast().joined(separator: "/")
                let references = try StoreReference.parse(try #require(try await Self.text(client, folder + "/refs.ptr")))
                #expect(references.map(\.transactionID) == Array(1...6))
            }
        }
    }

    /// A dump processed before its symbols were uploaded to S3, then reprocessed: its frames are named as
    /// when the same dump is processed with the symbols on local disk.
    @Test(arguments: [false, true])
    func workersFindSymbolsThatAreOnlyInObjectStorage(inChildProcess: Bool) async throws {
        let expected = try await Self.localFrames()
        #expect(expected.contains { $0.contains("CrashFunction") })
        let moto = try MotoServer()
        defer { moto.stop() }
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let (client, stored) = try await Self.setUp(moto, bucket: "symbols-workers", data: data)
        var configuration = stored
        configuration.symbols.symbolPath = SymbolPath(entries: [])
        if inChildProcess { configuration.worker.isolation = .childProcess(executable: TestEnvironment.postmortemExecutable) }
        try await buildCrashService(configuration: configuration).test(.live) { http in
            let base = "http://127.0.0.1:\(try #require(http.port))"
            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let id = try #require(LiveServiceTests.crashID(try await LiveClient.submit(.crashpad(dump: dump), to: base).text))
            let before = try #require(try await LiveServiceTests.settle([id], base: base).first)
            #expect(before.status == .processed, "\(before.failure ?? "")")
            #expect(before.signature?.contains("CrashFunction") == false, "\(before.signature ?? "")")

            // Every .sym file the local run finds, so the two runs can be compared frame by frame.
            let kernel32 = TestEnvironment.local("symbols/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym")
            let (uploaded, text) = try await SymbolUploadTests.upload(
                base,
                files: [
                    ("test_app.sym", try ServiceFixtures.bytes(SymbolUploadTests.sym)),
                    ("kernel32.sym", try ServiceFixtures.bytes(kernel32)),
                ])
            #expect(uploaded == 200, "\(text)")
            #expect(try await client.get(key: "symbols/" + SymbolUploadTests.symKey.lowercased(), maxBytes: 1 << 20) != nil)
            let bucket = try #require(before.bucketID)
            let requeued = try await SymbolUploadTests.send(
                "POST", "\(base)/api/reprocess?bucket=\(bucket)", token: ServiceFixtures.adminToken.secret)
            #expect(String(buffer: requeued.body) == "{\"requeued\":1,\"skipped_purged\":0}")

            // The miss before the upload was not remembered: the reprocessing reads the new file.
            let after = try #require(try await LiveServiceTests.settle([id], base: base).first)
            #expect(after.status == .processed, "\(after.failure ?? "")")
            #expect(after.signature == "`anonymous namespace'::CrashFunction", "\(after.signature ?? "")")
            #expect(try await SymbolUploadTests.frameNames(id, base: base) == expected)
            let cached = data + "/symbol-cache/" + SymbolUploadTests.symKey
            #expect(FileManager.default.fileExists(atPath: cached), "the worker kept no copy in its cache")
        }
    }

    /// The crashing thread's function names when the dump is processed with the symbols on local disk.
    static func localFrames() async throws -> [String] {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        return try await buildCrashService(configuration: ServiceFixtures.configuration(data: data)).test(.live) { http in
            let base = "http://127.0.0.1:\(try #require(http.port))"
            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let id = try #require(LiveServiceTests.crashID(try await LiveClient.submit(.crashpad(dump: dump), to: base).text))
            #expect(try await LiveServiceTests.settle([id], base: base).first?.status == .processed)
            return try await SymbolUploadTests.frameNames(id, base: base)
        }
    }
}

/// `postmortem serve` processes as on separate machines: their own data folders, one PostgreSQL
/// database, one bucket. Symbols two `api` processes accept are what a `worker` symbolizes with.
@Suite("Symbols shared through object storage by separate processes", .serialized, .ownThread)
struct S3SymbolProcessTests {
    @Test func aWorkerUsesSymbolsThatOtherProcessesAccepted() async throws {
        let expected = try await S3SymbolStoreTests.localFrames()
        let moto = try MotoServer()
        defer { moto.stop() }
        let s3 = S3Configuration(
            location: try #require(S3Location(url: "s3://shared-symbols")), endpoint: moto.endpoint, region: "us-east-1",
            credentials: ObjectStorageTests.credentials)
        try await S3Client(configuration: s3).createBucket()
        let folders = try (0..<3).map { _ in try ServiceFixtures.temporaryFolder() }
        defer { folders.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let environment = [
            "AWS_ACCESS_KEY_ID": ObjectStorageTests.credentials.accessKeyID,
            "AWS_SECRET_ACCESS_KEY": ObjectStorageTests.credentials.secretAccessKey,
        ]
        let symbolsToken = ["--token", "\(ServiceFixtures.symbolsToken.secret):symbols"]
        try await withPostgresServer { server in
            let shared = ["--database", server.url, "--storage", "s3://shared-symbols/prod", "--s3-endpoint", moto.endpoint]
            let apis = try folders.prefix(2).map { data in
                try ServeProcess(data: data, arguments: shared + symbolsToken + ["--role", "api"], environment: environment)
            }
            defer { apis.forEach { $0.terminate() } }
            // No symbol path of its own, and analyses in child processes (the default).
            let worker = try ServeProcess(
                data: folders[2], arguments: shared + ["--role", "worker", "--symbol-path", ""], environment: environment)
            defer { worker.terminate() }

            let kernel32 = TestEnvironment.local("symbols/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym")
            let first = try await SymbolUploadTests.upload(
                apis[0].base, files: [("test_app.sym", try ServiceFixtures.bytes(SymbolUploadTests.sym))])
            let second = try await SymbolUploadTests.upload(
                apis[1].base, files: [("kernel32.sym", try ServiceFixtures.bytes(kernel32))])
            #expect(first.status == 200, "\(first.text) \(apis[0].output)")
            #expect(second.status == 200, "\(second.text) \(apis[1].output)")
            #expect(
                Set([first.text, second.text].compactMap { try? SymbolUploadTests.published($0).transaction })
                    == ["0000000001", "0000000002"])

            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let id = try #require(
                LiveServiceTests.crashID(try await LiveClient.submit(.crashpad(dump: dump), to: apis[1].base).text))
            let report = try #require(try await LiveServiceTests.settle([id], base: apis[0].base).first)
            #expect(report.signature == "`anonymous namespace'::CrashFunction", "\(report.failure ?? "") \(worker.output)")
            #expect(try await SymbolUploadTests.frameNames(id, base: apis[0].base) == expected)
            for data in folders.prefix(2) { #expect(!FileManager.default.fileExists(atPath: data + "/symbols")) }
            #expect(FileManager.default.fileExists(atPath: folders[2] + "/symbol-cache/" + SymbolUploadTests.symKey))
        }
    }
}
