import Foundation
import NIOCore
import TestSupport
import Testing

@testable import CrashService

@Suite("Multipart bodies", .ownThread)
struct MultipartTests {
    @Test func readsCrashpadBodies() throws {
        let dump: [UInt8] = [0x4D, 0x44, 0x4D, 0x50, 0x0D, 0x0A, 0x2D, 0x2D]  // includes CRLF and dashes
        let upload = Upload.crashpad(dump: dump, attachments: [("log", "app.log", Array("hello".utf8))], gzip: false)
        let boundary = try #require(Multipart.boundary(contentType: upload.contentType))
        let parts = try Multipart.parse(upload.body, boundary: boundary)
        #expect(parts.map(\.name) == ["guid", "prod", "ptype", "ver", "log", "upload_file_minidump"])
        let dumpPart = try #require(parts.last)
        #expect(Array(upload.body[dumpPart.range]) == dump)
        #expect(dumpPart.fileName?.hasSuffix(".dmp") == true)
        #expect(dumpPart.contentType == "application/octet-stream")
        #expect(String(decoding: upload.body[parts[1].range], as: UTF8.self) == "TestApp")
    }

    @Test func boundaryParameters() {
        #expect(Multipart.boundary(contentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(Multipart.boundary(contentType: "Multipart/Form-Data; charset=utf-8; boundary=\"a;b c\"") == "a;b c")
        #expect(Multipart.boundary(contentType: "multipart/form-data") == nil)
        #expect(Multipart.boundary(contentType: "multipart/mixed; boundary=abc") == nil)
        #expect(Multipart.boundary(contentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 71)) == nil)
    }

    @Test func quotedNamesAndPreamble() throws {
        let body = Array(
            "preamble\r\n--B\r\nContent-Disposition: form-data; name=\"a\\\"b\"; filename=\"../../etc/passwd\"\r\n\r\nx\r\n--B--"
                .utf8)
        let parts = try Multipart.parse(body, boundary: "B")
        #expect(parts.count == 1)
        #expect(parts[0].name == "a\"b")
        #expect(parts[0].fileName == "../../etc/passwd")
    }

    @Test(arguments: [
        "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno closing boundary",
        "--B\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--B--",
        "--B\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nnot form-data\r\n--B--",
        "--B\r\nbroken header line\r\n\r\nx\r\n--B--",
        "no boundary at all",
        "--Bjunk\r\n",
    ])
    func malformedBodiesAreRefused(_ text: String) {
        #expect(throws: MultipartError.self) { try Multipart.parse(Array(text.utf8), boundary: "B") }
    }
}

@Suite("Upload parsing", .ownThread)
struct SubmissionParserTests {
    static let dump = Array("MDMP fake dump bytes".utf8)

    func parse(_ upload: Upload, encoding: String? = nil, maxBytes: Int = 1 << 20) throws(SubmissionRejection) -> Submission {
        try SubmissionParser.parse(
            body: upload.wireBody, contentType: upload.contentType,
            contentEncoding: encoding ?? (upload.gzip ? "gzip" : nil), maxBytes: maxBytes)
    }

    func reason(_ body: () throws -> Submission) -> String? {
        do {
            _ = try body()
            return nil
        } catch let rejection as SubmissionRejection {
            return rejection.reason
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func gzipCrashpadUpload() throws {
        let submission = try parse(.crashpad(dump: Self.dump, attachments: [("log", "a.log", [1, 2])]))
        #expect(Array(submission.body[submission.dump.range]) == Self.dump)
        #expect(submission.product == "TestApp")
        #expect(submission.version == "1.2.3")
        #expect(submission.annotations["ptype"] == "browser")
        #expect(submission.attachments.map(\.name) == ["log"])
    }

    @Test func extraJSONAnnotations() throws {
        let boundary = "X"
        let body = Array(
            ("--X\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\n"
                + #"{"ProductName":"Fox","Version":"9.0","Count":3,"Nested":{"a":1}}"#
                + "\r\n--X\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"d.dmp\"\r\n\r\nMDMP\r\n--X--\r\n")
                .utf8)
        let submission = try parse(Upload(body: body, contentType: "multipart/form-data; boundary=\(boundary)"))
        #expect(submission.product == "Fox")
        #expect(submission.version == "9.0")
        #expect(submission.annotations["Count"] == "3")
        #expect(submission.annotations["Nested"] == #"{"a":1}"#)
    }

    @Test func socorroReasons() {
        let upload = Upload.crashpad(dump: Self.dump, gzip: false)
        #expect(
            reason {
                try SubmissionParser.parse(
                    body: upload.wireBody, contentType: nil, contentEncoding: nil, maxBytes: 1 << 20)
            } == "malformed_no_content_type")
        #expect(
            reason {
                try SubmissionParser.parse(
                    body: upload.wireBody, contentType: "application/json", contentEncoding: nil, maxBytes: 1 << 20)
            } == "malformed_wrong_content_type")
        #expect(
            reason {
                try SubmissionParser.parse(
                    body: upload.wireBody, contentType: "multipart/form-data", contentEncoding: nil, maxBytes: 1 << 20)
            } == "malformed_no_boundary")
        #expect(reason { try parse(upload, encoding: "gzip") } == "malformed_bad_gzip")
        #expect(reason { try parse(upload, encoding: "br") } == "malformed_bad_content_encoding")
        #expect(reason { try parse(.crashpad(dump: [])) } == "malformed_no_minidump")
        #expect(
            reason { try parse(.crashpad(dump: Self.dump, extraFields: [("extra", "{}")])) } == "malformed_has_json_and_kv")
        var truncated = Upload.crashpad(dump: Self.dump, gzip: false)
        truncated.body.removeLast(10)
        #expect(reason { try parse(truncated) } == "malformed_invalid_payload_structure")
    }

    @Test func invalidExtraAndNoAnnotations() {
        func upload(_ fields: String) -> Upload {
            let body = Array(
                (fields
                    + "--X\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"d.dmp\"\r\n\r\nMDMP\r\n--X--")
                    .utf8)
            return Upload(body: body, contentType: "multipart/form-data; boundary=X")
        }
        #expect(
            reason { try parse(upload("--X\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\n{not json\r\n")) }
                == "malformed_invalid_json")
        #expect(
            reason { try parse(upload("--X\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\n[1]\r\n")) }
                == "malformed_invalid_json")
        #expect(reason { try parse(upload("")) } == "malformed_no_annotations")
    }

    @Test func decompressedSizeIsBounded() {
        // 1 MiB of zeros compresses to about a kilobyte: the limit applies to what it inflates to.
        let upload = Upload.crashpad(dump: [UInt8](repeating: 0, count: 1 << 20))
        #expect(upload.wireBody.readableBytes < 16 * 1024)
        #expect(reason { try parse(upload, maxBytes: 512 * 1024) } == "too_large")
    }
}

@Suite("Access tokens", .ownThread)
struct AccessPolicyTests {
    let policy = AccessPolicy(tokens: [ServiceFixtures.readToken, ServiceFixtures.adminToken])

    @Test func scopes() {
        #expect(policy.decide(authorization: nil, scope: .submit) == .allowed)
        #expect(policy.decide(authorization: nil, scope: .read) == .unauthenticated)
        #expect(policy.decide(authorization: "Bearer read-token-0123456789", scope: .read) == .allowed)
        #expect(policy.decide(authorization: "Bearer read-token-0123456789", scope: .symbols) == .forbidden)
        #expect(policy.decide(authorization: "Bearer admin-token-0123456789", scope: .symbols) == .allowed)
        #expect(policy.decide(authorization: "Bearer read-token-012345678", scope: .read) == .unauthenticated)
        #expect(policy.decide(authorization: "Bearer read-token-0123456789x", scope: .read) == .unauthenticated)
        let basic = "Basic " + Data("me:read-token-0123456789".utf8).base64EncodedString()
        #expect(policy.decide(authorization: basic, scope: .read) == .allowed)
        let closed = AccessPolicy(tokens: [ServiceFixtures.readToken], openSubmit: false)
        #expect(closed.decide(authorization: nil, scope: .submit) == .unauthenticated)
        #expect(closed.decide(authorization: "Bearer read-token-0123456789", scope: .submit) == .forbidden)
    }

    @Test func parsing() throws {
        #expect(AccessToken(parsing: "0123456789abcdef:read,admin")?.scopes == [.read, .admin])
        #expect(AccessToken(parsing: "short:read") == nil)
        #expect(AccessToken(parsing: "0123456789abcdef:reed") == nil)
        let tokens = try AccessToken.parseFile(
            "# comment\n\n0123456789abcdef read, symbols  # trailing\nfedcba9876543210 submit\n")
        #expect(
            tokens == [
                AccessToken(secret: "0123456789abcdef", scopes: [.read, .symbols]),
                AccessToken(secret: "fedcba9876543210", scopes: [.submit]),
            ])
        #expect(throws: TokenFileError.self) { try AccessToken.parseFile("0123456789abcdef\n") }
    }
}
