import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SymbolStore
import TestSupport
import Testing

@testable import CrashService

/// `POST /symbols/upload` and `/symbols/<key>` over loopback, and reprocessing after an upload.
@Suite("Symbol upload over loopback", .serialized, .ownThread)
struct SymbolUploadTests {
    static let pdb = TestEnvironment.shared("generated/pe/x64/fixture.pdb")
    static let exe = TestEnvironment.shared("generated/pe/x64/fixture.exe")
    static let dll = TestEnvironment.shared("generated/pe/x64/fixturedll.dll")
    static let sym = TestEnvironment.local("symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym")
    static let symKey = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"

    struct Published: Decodable {
        struct File: Decodable {
            var file: String
            var key: String
        }
        var transaction: String
        var published: [File]
    }

    /// Sends a request; `token` nil sends none.
    static func send(
        _ method: String, _ url: String, token: String?, contentType: String? = nil, body: [UInt8]? = nil
    ) async throws -> (status: Int, body: ByteBuffer, headers: [(String, String)]) {
        var request = HTTPClientRequest(url: url)
        request.method = method == "POST" ? .POST : method == "HEAD" ? .HEAD : .GET
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await LiveClient.client.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), collected, response.headers.map { ($0.name, $0.value) })
    }

    static func upload(_ base: String, token: String? = ServiceFixtures.symbolsToken.secret, files: [(String, [UInt8])])
        async throws -> (status: Int, text: String)
    {
        let boundary = "symbols-" + UUID().uuidString
        var body = [UInt8]()
        for (name, bytes) in files {
            body += Array(
                ("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n"
                    + "Content-Type: application/octet-stream\r\n\r\n").utf8)
            body += bytes + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let answer = try await send(
            "POST", base + "/symbols/upload", token: token, contentType: "multipart/form-data; boundary=\(boundary)", body: body)
        return (answer.status, String(buffer: answer.body))
    }

    static func published(_ text: String) throws -> Published {
        try JSONDecoder().decode(Published.self, from: Data(text.utf8))
    }

    /// Every file below `folder`, relative to it.
    static func files(under folder: String) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? [])
    }

    @Test func uploadedFilesAreServedByteIdentical() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data, maxUploadBytes: 8 << 20))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let pdb = try ServiceFixtures.bytes(Self.pdb)
            let exe = try ServiceFixtures.bytes(Self.exe)
            let (status, text) = try await Self.upload(base, files: [("fixture.pdb", pdb), ("fixture.exe", exe)])
            #expect(status == 200, "\(text)")
            let answer = try Self.published(text)
            #expect(answer.transaction == "0000000001")
            #expect(answer.published.map(\.file) == ["fixture.pdb", "fixture.exe"])
            // The keys symstore gives the same files (the shared fixture store was written by it).
            for file in answer.published {
                let folder = TestEnvironment.shared(
                    "generated/symstore/" + file.key.split(separator: "/").dropLast().joined(separator: "/"))
                #expect(FileManager.default.fileExists(atPath: folder), "\(file.key) is not symstore's key")
            }
            for (file, bytes) in zip(answer.published, [pdb, exe]) {
                let served = try await Self.send("GET", "\(base)/symbols/\(file.key)", token: ServiceFixtures.readToken.secret)
                #expect(served.status == 200)
                #expect(Array(served.body.readableBytesView) == bytes, "\(file.key) differs from the upload")
                // Any letter case, as SymSrv clients ask.
                let upper = try await Self.send(
                    "HEAD", "\(base)/symbols/\(file.key.uppercased())", token: ServiceFixtures.readToken.secret)
                #expect(upper.status == 200)
                #expect(upper.headers.contains { $0.0.lowercased() == "content-length" && $0.1 == String(bytes.count) })
            }
            let missing = try await Self.send(
                "GET", "\(base)/symbols/fixture.pdb/00000000000000000000000000000000/fixture.pdb",
                token: ServiceFixtures.readToken.secret)
            #expect(missing.status == 404)
            #expect(try await Self.send("GET", "\(base)/symbols/\(answer.published[0].key)", token: nil).status == 401)

            // A raw body names its file with ?name=.
            let raw = try await Self.send(
                "POST", "\(base)/symbols/upload?name=fixturedll.dll", token: ServiceFixtures.symbolsToken.secret,
                contentType: "application/octet-stream", body: try ServiceFixtures.bytes(Self.dll))
            #expect(raw.status == 200)
            #expect(try Self.published(String(buffer: raw.body)).transaction == "0000000002")
            let history = try StorePublisher(root: data + "/symbols").transactions()
            #expect(history.map(\.id) == [1, 2])
        }
    }

    @Test func uploadsWithoutTheSymbolsScopeAreRefused() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let sym = try ServiceFixtures.bytes(Self.sym)
            #expect(try await Self.upload(base, token: nil, files: [("test_app.sym", sym)]).status == 401)
            #expect(
                try await Self.upload(base, token: ServiceFixtures.readToken.secret, files: [("test_app.sym", sym)]).status == 403
            )
            #expect(try await Self.upload(base, token: "not-a-token-0123456789", files: [("test_app.sym", sym)]).status == 401)
            // A trailing slash or doubled slashes reach the same route, and the same check.
            let slashed = try await Self.send(
                "POST", "\(base)//symbols/upload/?name=test_app.sym", token: ServiceFixtures.readToken.secret,
                contentType: "application/octet-stream", body: sym)
            #expect(slashed.status == 403 || slashed.status == 404)
            #expect(!FileManager.default.fileExists(atPath: data + "/symbols/test_app.pdb"))
            // An admin token holds every scope.
            #expect(
                try await Self.upload(base, token: ServiceFixtures.adminToken.secret, files: [("test_app.sym", sym)]).status
                    == 200)
        }
    }

    @Test func zipUploadsPublishEveryMemberInOneTransaction() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data, maxUploadBytes: 8 << 20))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let members = [
                ZipWriter.Member(name: "x64/", contents: [], deflate: false),
                ZipWriter.Member(name: "x64/fixturedll.dll", contents: try ServiceFixtures.bytes(Self.dll)),
                ZipWriter.Member(name: "x64/fixture.pdb", contents: try ServiceFixtures.bytes(Self.pdb), deflate: false),
                ZipWriter.Member(name: "breakpad/test_app.sym", contents: try ServiceFixtures.bytes(Self.sym)),
            ]
            let archive = ZipWriter.archive(members)
            let (status, text) = try await Self.upload(base, files: [("symbols.zip", archive)])
            #expect(status == 200, "\(text)")
            let answer = try Self.published(text)
            #expect(answer.transaction == "0000000001")
            #expect(answer.published.map(\.file) == ["fixturedll.dll", "fixture.pdb", "test_app.sym"])
            #expect(answer.published.last?.key == Self.symKey)
            for (file, member) in zip(answer.published, members.dropFirst()) {
                let served = try await Self.send("GET", "\(base)/symbols/\(file.key)", token: ServiceFixtures.readToken.secret)
                #expect(Array(served.body.readableBytesView) == member.contents, "\(file.key)")
            }
            // The same archive as a raw body.
            let raw = try await Self.send(
                "POST", "\(base)/symbols/upload", token: ServiceFixtures.symbolsToken.secret, contentType: "application/zip",
                body: archive)
            #expect(raw.status == 200)
            #expect(try Self.published(String(buffer: raw.body)).published.count == 3)
        }
    }

    @Test func traversalNamesMalformedFilesAndZipBombsAreRefused() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "the shared fixtures are required")
        let parent = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let data = parent + "/data"
        let app = try buildCrashService(configuration: ServiceFixtures.configuration(data: data, maxUploadBytes: 1 << 20))
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let sym = try ServiceFixtures.bytes(Self.sym)
            var refusals = [(String, Int, String)]()
            for name in ["../evil.sym", "..", "sub/evil.sym", "..\\evil.sym", "C:evil.sym", ".hidden.sym", "evil\u{1}.sym"] {
                let (status, text) = try await Self.upload(base, files: [(name, sym)])
                refusals.append((name, status, text))
            }
            for member in ["../../evil.sym", "/tmp/evil.sym", "a/../../evil.sym", "a\\..\\evil.sym"] {
                let archive = ZipWriter.archive([ZipWriter.Member(name: member, contents: sym)])
                let (status, text) = try await Self.upload(base, files: [("symbols.zip", archive)])
                refusals.append((member, status, text))
            }
            for (name, status, text) in refusals {
                #expect(status == 400, "\(name): \(status) \(text)")
                #expect(text.contains("\"error\""), "\(name): \(text)")
            }

            // Not a symbol file: 422, and nothing of the upload is published.
            let junk = try await Self.upload(
                base, files: [("test_app.sym", sym), ("fixture.pdb", Array(repeating: 0x41, count: 4096))])
            #expect(junk.status == 422, "\(junk.text)")
            #expect(junk.text.contains("fixture.pdb"))

            // Declared sizes over the budget (8 × the 1 MiB upload limit): refused before inflating.
            let zeros = [UInt8](repeating: 0, count: 9 << 20)
            let bomb = ZipWriter.archive([ZipWriter.Member(name: "zeros.sym", contents: zeros)])
            #expect(bomb.count < 1 << 20)
            let big = try await Self.upload(base, files: [("bomb.zip", bomb)])
            #expect(big.status == 413, "\(big.text)")
            // A member that inflates past its declared size is stopped at that size.
            let liar = ZipWriter.archive([ZipWriter.Member(name: "zeros.sym", contents: zeros, declaredSize: 1024)])
            let lying = try await Self.upload(base, files: [("liar.zip", liar)])
            #expect(lying.status == 400, "\(lying.text)")
            #expect(lying.text.contains("declared"))
            // A damaged member fails its CRC.
            var damaged = ZipWriter.archive([ZipWriter.Member(name: "test_app.sym", contents: sym, deflate: false)])
            damaged[30 + "test_app.sym".utf8.count + 100] ^= 0xFF
            #expect(try await Self.upload(base, files: [("damaged.zip", damaged)]).status == 400)

            #expect(Self.files(under: parent).allSatisfy { $0 == "data" || $0.hasPrefix("data/") })
            #expect(!FileManager.default.fileExists(atPath: data + "/symbols/test_app.pdb"))
            #expect(Self.files(under: data + "/tmp").isEmpty, "staging files left behind")
        }
    }

    /// A dump processed before its symbols were uploaded, then reprocessed: its frames gain names.
    @Test func reprocessingAfterAnUploadSymbolizesTheCrash() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = ServiceFixtures.configuration(data: data)
        configuration.symbols.symbolPath = SymbolPath(entries: [])
        let app = try buildCrashService(configuration: configuration)
        try await app.test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let (status, answer) = try await LiveClient.submit(.crashpad(dump: dump), to: base)
            #expect(status == 200)
            let id = try #require(LiveServiceTests.crashID(answer))
            let before = try #require(try await LiveServiceTests.settle([id], base: base).first)
            #expect(before.status == .processed)
            #expect(before.signature?.contains("CrashFunction") == false, "\(before.signature ?? "")")
            let bucket = try #require(before.bucketID)
            #expect(try await Self.frameNames(id, base: base).contains("`anonymous namespace'::CrashFunction()") == false)

            let (uploaded, text) = try await Self.upload(base, files: [("test_app.sym", try ServiceFixtures.bytes(Self.sym))])
            #expect(uploaded == 200, "\(text)")

            let reprocess = "\(base)/api/reprocess?bucket=\(bucket)"
            #expect(try await Self.send("POST", reprocess, token: ServiceFixtures.readToken.secret).status == 403)
            #expect(try await Self.send("POST", "\(base)/api/reprocess", token: ServiceFixtures.adminToken.secret).status == 400)
            let requeued = try await Self.send("POST", reprocess, token: ServiceFixtures.adminToken.secret)
            #expect(requeued.status == 200)
            #expect(String(buffer: requeued.body) == "{\"requeued\":1,\"skipped_purged\":0}")

            let after = try #require(try await LiveServiceTests.settle([id], base: base).first)
            #expect(after.status == .processed)
            #expect(after.signature == "`anonymous namespace'::CrashFunction", "\(after.signature ?? "")")
            #expect(after.bucketID != bucket)
            #expect(try await Self.frameNames(id, base: base).contains { $0.contains("CrashFunction") })

            // all=true takes every finished report.
            let all = try await Self.send("POST", "\(base)/api/reprocess?all=true", token: ServiceFixtures.adminToken.secret)
            #expect(String(buffer: all.body) == "{\"requeued\":1,\"skipped_purged\":0}")
            #expect(try await LiveServiceTests.settle([id], base: base).first?.signature == after.signature)
        }
    }

    /// The function names of the crashing thread's frames in the processed report.
    static func frameNames(_ id: String, base: String) async throws -> [String] {
        let (_, body) = try await LiveClient.get("\(base)/api/reports/\(id)")
        let document = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        let processed = document?["processed"] as? [String: Any]
        let crashing = processed?["crashing_thread"] as? [String: Any]
        let frames = crashing?["frames"] as? [[String: Any]] ?? []
        return frames.compactMap { $0["function"] as? String }
    }
}
