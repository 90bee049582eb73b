import CompressNIO
import CrashService
import Foundation
import Hummingbird
import Logging
import NIOCore
import TestSupport

/// Request bodies as crash reporters build them.
struct Upload {
    var body: [UInt8]
    var contentType: String
    var gzip = false

    /// What Crashpad's uploader sends: annotations `prod`, `ver`, `guid`, `ptype` as form fields, the dump as
    /// `upload_file_minidump` named `<uuid>.dmp`, the whole body gzip-compressed (`Content-Encoding: gzip`).
    static func crashpad(
        dump: [UInt8], product: String = "TestApp", version: String = "1.2.3", extraFields: [(String, String)] = [],
        attachments: [(name: String, fileName: String, bytes: [UInt8])] = [], gzip: Bool = true
    ) -> Upload {
        // HTTPMultipartBuilder's boundary: a fixed prefix and suffix around 32 random alphanumerics.
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        let boundary = "---MultipartBoundary-" + String((0..<32).map { _ in alphabet.randomElement()! }) + "---"
        var body = [UInt8]()
        func field(_ name: String, _ value: String) {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        func file(_ name: String, _ fileName: String, _ bytes: [UInt8]) {
            body += Array(
                ("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(fileName)\"\r\n"
                    + "Content-Type: application/octet-stream\r\n\r\n").utf8)
            body += bytes
            body += Array("\r\n".utf8)
        }
        field("guid", UUID().uuidString.lowercased())
        field("prod", product)
        field("ptype", "browser")
        field("ver", version)
        for (name, value) in extraFields { field(name, value) }
        for attachment in attachments { file(attachment.name, attachment.fileName, attachment.bytes) }
        file("upload_file_minidump", UUID().uuidString.lowercased() + ".dmp", dump)
        body += Array("--\(boundary)--\r\n".utf8)
        return Upload(body: body, contentType: "multipart/form-data; boundary=\(boundary)", gzip: gzip)
    }

    /// The bytes on the wire: gzip-compressed by zlib, as Crashpad's GzipHTTPBodyStream does.
    var wireBody: ByteBuffer {
        var buffer = ByteBuffer(bytes: body)
        guard gzip else { return buffer }
        return try! buffer.compress(with: .gzip())
    }

    var headers: HTTPFields {
        var fields: HTTPFields = [.contentType: contentType]
        if gzip { fields[.contentEncoding] = "gzip" }
        return fields
    }
}

/// Test data folders and configurations.
enum ServiceFixtures {
    static let quietLogger: Logger = {
        var logger = Logger(label: "crash-service-tests", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = ProcessInfo.processInfo.environment["POSTMORTEM_TEST_LOGS"] == nil ? .critical : .info
        return logger
    }()

    static let readToken = AccessToken(secret: "read-token-0123456789", scopes: [.read])
    static let adminToken = AccessToken(secret: "admin-token-0123456789", scopes: [.admin])
    static let symbolsToken = AccessToken(secret: "symbols-token-0123456789", scopes: [.symbols])

    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "postmortem-serve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func configuration(data: String, role: ServiceRole = .all, maxUploadBytes: Int = 4 << 20) -> CrashServiceConfiguration
    {
        var symbols = SymbolLocationsFactory.localSymbols()
        symbols.fetch.progress = nil
        return CrashServiceConfiguration(
            dataDirectory: data, host: "127.0.0.1", port: 0, role: role, symbols: symbols, maxUploadBytes: maxUploadBytes,
            access: AccessPolicy(tokens: [readToken, adminToken, symbolsToken]),
            worker: WorkerSettings(
                concurrency: 2, lease: .seconds(5), maxAttempts: 2, retryBase: .milliseconds(100),
                pollInterval: .milliseconds(50), analysisTimeout: .seconds(60)),
            logger: quietLogger)
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Every fixture dump of the shared fixtures and the repository's test.dmp.
    static var fixtureDumps: [String] {
        TestEnvironment.sharedFiles(under: "rust-minidump/testdata", suffixes: [".dmp"])
            + TestEnvironment.sharedFiles(under: "generated/dumps", suffixes: [".dmp"])
            + [TestEnvironment.local("rust-minidump/test.dmp")]
    }
}
