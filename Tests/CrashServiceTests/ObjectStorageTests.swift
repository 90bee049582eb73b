import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@testable import CrashService

/// An S3-compatible server on loopback: moto's, from the test venv, which lives as long as its stdin is open.
final class MotoServer: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let endpoint: String

    /// Starts moto and waits until it listens; throws (failing the test) when it cannot.
    init() throws {
        let script = """
            import sys
            from moto.server import ThreadedMotoServer
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            print("listening on port", server.get_host_and_port()[1], flush=True)
            sys.stdin.read()
            server.stop()
            """
        process.executableURL = URL(fileURLWithPath: TestEnvironment.python)
        process.arguments = ["-c", script]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        do {
            try process.run()
        } catch {
            throw ProcessFailure(
                description: "cannot start moto with \(TestEnvironment.python) (run scripts/setup-venv.sh): \(error)")
        }
        // One line, or the traceback of a missing moto[server], then end of file.
        var text = ""
        let reader = output.fileHandleForReading
        while !text.contains("\n") {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: "listening on port "), let port = Int(text[range.upperBound...].prefix { $0.isNumber })
        else {
            process.terminate()
            throw ProcessFailure(description: "moto did not start (run scripts/setup-venv.sh): \(text)")
        }
        endpoint = "http://127.0.0.1:\(port)"
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

@Suite("AWS Signature V4", .ownThread)
struct SignatureV4Tests {
    /// AWS's S3 documentation example "GET Object" (single-chunk, signed Range header).
    @Test func matchesTheDocumentedGetObjectExample() {
        let signer = SignatureV4(
            credentials: AWSCredentials(
                accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        #expect(SignatureV4.timestamp(date) == "20130524T000000Z")
        let headers = signer.headers(
            method: "GET", host: "examplebucket.s3.amazonaws.com", encodedPath: "/test.txt", headers: ["Range": "bytes=0-9"],
            payloadHash: SignatureV4.emptyPayloadHash, date: date)
        let authorization = headers.first { $0.0 == "authorization" }?.1
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
        #expect(!headers.contains { $0.0 == "host" }, "the HTTP client sends Host itself")
    }

    /// botocore (the venv's, installed with moto) signs the same PUT: a key that needs encoding, a
    /// session token, a port in the host.
    @Test func agreesWithBotocore() throws {
        let script = """
            import datetime, sys
            from unittest import mock
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            class Fixed(datetime.datetime):
                @classmethod
                def utcnow(cls): return datetime.datetime(2026, 11, 22, 5, 6, 7)
                @classmethod
                def now(cls, tz=None): return datetime.datetime(2026, 11, 22, 5, 6, 7, tzinfo=tz)
            request = AWSRequest(method="PUT", url="http://127.0.0.1:9000/bucket/team/dumps/a%20b%2B%24.dmp",
                                 data=b"hello dump", headers={"Content-Length": "10"})
            request.context = {}
            with mock.patch("botocore.auth.datetime.datetime", Fixed):
                S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key+1", "session-token"), "s3", "eu-west-1").add_auth(request)
            sys.stdout.write(request.headers["Authorization"])
            """
        let result = try runProcess(TestEnvironment.python, ["-c", script])
        #expect(result.status == 0, "\(result.stderrText)")
        let signer = SignatureV4(
            credentials: AWSCredentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret/key+1", sessionToken: "session-token"),
            region: "eu-west-1")
        let date = Date(timeIntervalSince1970: 1_795_323_967)  // 2026-11-22T05:06:07Z
        let path = "/bucket/" + SignatureV4.encode("team/dumps/a b+$.dmp", keepSlash: true)
        #expect(path == "/bucket/team/dumps/a%20b%2B%24.dmp")
        let headers = signer.headers(
            method: "PUT", host: "127.0.0.1:9000", encodedPath: path, headers: ["Content-Length": "10"],
            payloadHash: SignatureV4.hexSHA256(Data("hello dump".utf8)), date: date)
        #expect(headers.first { $0.0 == "authorization" }?.1 == result.stdoutText)
    }

    @Test func encodesKeysAsSigV4Requires() {
        #expect(SignatureV4.encode("dumps/ab/x y+$~.dmp", keepSlash: true) == "dumps/ab/x%20y%2B%24~.dmp")
        #expect(SignatureV4.encode("a/b", keepSlash: false) == "a%2Fb")
        #expect(SignatureV4.emptyPayloadHash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test(arguments: [
        ("s3://crash-dumps", "crash-dumps", ""), ("s3://crash-dumps/team/prod/", "crash-dumps", "team/prod"),
        ("S3://my.bucket-1/p", "my.bucket-1", "p"),
    ])
    func parsesStorageURLs(url: String, bucket: String, prefix: String) throws {
        let location = try #require(S3Location(url: url))
        #expect(location.bucket == bucket)
        #expect(location.prefix == prefix)
    }

    @Test(arguments: ["s3://", "s3://ab", "s3://Upper", "http://bucket", "s3://bad_name/x"])
    func refusesOtherURLs(url: String) {
        #expect(S3Location(url: url) == nil)
    }
}

/// Dumps kept in a real S3-compatible server on loopback.
@Suite("Object storage over loopback", .serialized, .ownThread)
struct ObjectStorageTests {
    static let credentials = AWSCredentials(accessKeyID: "postmortem-test", secretAccessKey: "postmortem-test-secret")

    @Test func aSubmittedDumpIsStoredInS3AndProcessedFromThere() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let location = try #require(S3Location(url: "s3://postmortem-dumps/team/prod"))
        let s3 = S3Configuration(location: location, endpoint: moto.endpoint, region: "eu-west-1", credentials: Self.credentials)
        let client = S3Client(configuration: s3)
        try await client.createBucket()

        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = ServiceFixtures.configuration(data: data)
        configuration.objectStorage = s3
        let app = try buildCrashService(configuration: configuration)
        try await app.test(.live) { http in
            let base = "http://127.0.0.1:\(try #require(http.port))"
            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let note = Array("a note attached to the crash".utf8)
            let upload = Upload.crashpad(dump: dump, attachments: [("upload_file_note", "note.txt", note)])
            let (status, answer) = try await LiveClient.submit(upload, to: base)
            #expect(status == 200, "\(answer)")
            let id = try #require(LiveServiceTests.crashID(answer))
            let uuid = try #require(UUID(uuidString: id))

            // Acknowledged means the objects are in the bucket, byte for byte, under the prefix.
            let stored = try await client.get(key: S3DumpStorage.objectKey(for: .dump(reportID: uuid)), maxBytes: 64 << 20)
            #expect(stored.map(Array.init) == dump)
            let attachment = try await client.get(
                key: S3DumpStorage.objectKey(for: .attachment(reportID: uuid, index: 0)), maxBytes: 1 << 20)
            #expect(attachment.map(Array.init) == note)
            let unprefixed = S3Client(
                configuration: S3Configuration(
                    location: try #require(S3Location(url: "s3://postmortem-dumps")), endpoint: moto.endpoint,
                    region: "eu-west-1", credentials: Self.credentials))
            let full = "team/prod/" + S3DumpStorage.objectKey(for: .dump(reportID: uuid))
            #expect(try await unprefixed.get(key: full, maxBytes: 64 << 20) != nil)
            #expect(!FileManager.default.fileExists(atPath: data + "/dumps"), "dumps were written to the data folder")

            // A worker downloads it, analyzes it, and removes its temporary copy.
            let report = try #require(try await LiveServiceTests.settle([id], base: base).first)
            #expect(report.status == .processed, "\(report.failure ?? "")")
            #expect(report.signature == "`anonymous namespace'::CrashFunction")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: data + "/tmp")) ?? []
            #expect(files.isEmpty, "downloads left behind: \(files)")

            // The API serves the dump from S3 too.
            let (dumpStatus, body) = try await LiveClient.get("\(base)/api/reports/\(id)/dump")
            #expect(dumpStatus == 200)
            #expect(Array(body.readableBytesView) == dump)
        }
    }

    /// `postmortem serve --storage … --s3-endpoint …` with credentials from the environment.
    @Test func theCommandLineStoresDumpsInS3() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let s3 = S3Configuration(
            location: try #require(S3Location(url: "s3://cli-dumps")), endpoint: moto.endpoint, region: "us-east-1",
            credentials: Self.credentials)
        let client = S3Client(configuration: s3)
        try await client.createBucket()
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = try ServeProcess(
            data: data,
            arguments: [
                "--storage", "s3://cli-dumps/p", "--s3-endpoint", moto.endpoint, "--symbol-path",
                TestEnvironment.local("symbols"),
            ],
            environment: [
                "AWS_ACCESS_KEY_ID": Self.credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": Self.credentials.secretAccessKey,
            ])
        defer { server.terminate() }
        let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
        let (status, answer) = try await LiveClient.submit(.crashpad(dump: dump), to: server.base)
        #expect(status == 200, "\(answer) \(server.output)")
        let id = try #require(LiveServiceTests.crashID(answer))
        let key = "p/" + S3DumpStorage.objectKey(for: .dump(reportID: try #require(UUID(uuidString: id))))
        #expect(try await client.get(key: key, maxBytes: 64 << 20).map(Array.init) == dump)
        let report = try #require(try await LiveServiceTests.settle([id], base: server.base).first)
        #expect(report.signature == "`anonymous namespace'::CrashFunction", "\(report.failure ?? "")")
    }

    @Test func uploadsAreRefusedWhenTheObjectCannotBeStored() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        // Never created: every PUT fails, so nothing may be acknowledged or queued.
        let s3 = S3Configuration(
            location: try #require(S3Location(url: "s3://no-such-bucket")), endpoint: moto.endpoint, region: "us-east-1",
            credentials: Self.credentials)
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = ServiceFixtures.configuration(data: data)
        configuration.objectStorage = s3
        let parts = try ServiceParts(configuration: configuration)
        let app = buildCrashService(parts: parts)
        try await app.test(.live) { http in
            let base = "http://127.0.0.1:\(try #require(http.port))"
            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let (status, answer) = try await LiveClient.submit(.crashpad(dump: dump), to: base)
            #expect(status == 503)
            #expect(answer == "Discarded=storage_unavailable\n")
            #expect(try await parts.database.statusCounts().values.reduce(0, +) == 0)
        }
    }

    @Test func retentionDeletesTheObjectsAndKeepsTheReport() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let s3 = S3Configuration(
            location: try #require(S3Location(url: "s3://postmortem-retention/prod")), endpoint: moto.endpoint,
            region: "us-east-1", credentials: Self.credentials)
        let client = S3Client(configuration: s3)
        try await client.createBucket()
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = ServiceFixtures.configuration(data: data)
        configuration.objectStorage = s3
        let parts = try ServiceParts(configuration: configuration)
        try await buildCrashService(parts: parts).test(.live) { http in
            let base = "http://127.0.0.1:\(try #require(http.port))"
            let dump = try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp"))
            let upload = Upload.crashpad(dump: dump, attachments: [("upload_file_note", "note.txt", Array("note".utf8))])
            let id = try #require(LiveServiceTests.crashID(try await LiveClient.submit(upload, to: base).text))
            let uuid = try #require(UUID(uuidString: id))
            let report = try #require(try await LiveServiceTests.settle([id], base: base).first)
            #expect(report.status == .processed, "\(report.failure ?? "")")
            let keys = [BlobKey.dump(reportID: uuid), .attachment(reportID: uuid, index: 0)].map(S3DumpStorage.objectKey)
            for key in keys { #expect(try await client.get(key: key, maxBytes: 64 << 20) != nil) }

            let sweeper = RetentionSweeper(
                database: parts.database, storage: parts.storage, settings: RetentionSettings(days: 1),
                metrics: parts.metrics, logger: ServiceFixtures.quietLogger)
            #expect(try await sweeper.sweep(now: Date().addingTimeInterval(2 * 86400)) == 1)
            for key in keys { #expect(try await client.get(key: key, maxBytes: 64 << 20) == nil, "\(key) is still stored") }
            #expect(try await LiveClient.get("\(base)/api/reports/\(id)/dump").status == 410)
            #expect(try await LiveClient.get("\(base)/api/reports/\(id)").status == 200)
            // Deleting what is already gone succeeds, so an interrupted sweep can run again.
            try await parts.storage.delete(.dump(reportID: uuid))
        }
    }
}
