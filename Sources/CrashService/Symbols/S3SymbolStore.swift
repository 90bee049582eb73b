import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import SymbolStore

/// The service's symbol store in object storage, under `[prefix/]symbols/`: symstore's one-tier layout,
/// with key folders and stored names in lower case, since S3 keys are case-sensitive and SymSrv clients
/// ask in any case. `000Admin` keeps symstore's spelling.
///
/// An upload is published as one symstore transaction under the database's `.symbolStore` lock: the
/// admin records and the `refs.ptr` files the transaction touches are copied into a scratch store,
/// `StorePublisher` publishes there, and every file it wrote is PUT back in the order of a local
/// publish: key files and `refs.ptr`, then the transaction file, `server.txt`, `history.txt`, and
/// `lastid.txt` last, so an interrupted upload is never recorded and its id is taken again.
public struct S3SymbolStore: Sendable {
    /// The folder below the storage prefix that holds the store.
    public static let folder = "symbols"
    /// The admin records a transaction reads and rewrites.
    static let adminRecords = ["lastid.txt", "server.txt", "history.txt"]
    /// PUTs under way at once while a transaction is copied to the bucket.
    static let parallelPuts = 8

    public let client: S3Client

    /// A store in the bucket (and below the prefix) of `client`.
    public init(client: S3Client) {
        self.client = client
    }

    /// The object key (below the storage prefix) of a store path: `file/index/name` in lower case,
    /// `000Admin/…` and top-level files as named.
    public static func objectKey(_ relativePath: String) -> String {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: true)
        if components.count < 3 || components.first == "000Admin" { return folder + "/" + relativePath }
        return folder + "/" + relativePath.lowercased()
    }

    /// The store as a symbol path names it, `s3://bucket[/prefix]/symbols`, for `S3SymbolTransport`.
    public var url: String {
        let location = client.configuration.location
        return "s3://" + location.bucket + (location.prefix.isEmpty ? "" : "/" + location.prefix) + "/" + Self.folder
    }

    /// Publishes `files` as one transaction; returns its id once every object is stored.
    func publish(
        _ files: [UploadedSymbolFile], options: StorePublisher.AddOptions, scratch: String, database: any CrashDatabase
    ) async throws -> String {
        try await database.withExclusiveLock(.symbolStore) {
            let staging = scratch + "/s3-symbols-" + UUID().uuidString.lowercased()
            defer { try? FileManager.default.removeItem(atPath: staging) }
            let store = staging + "/store"
            try FileManager.default.createDirectory(atPath: store + "/000Admin", withIntermediateDirectories: true)
            for name in Self.adminRecords {
                _ = try await client.download(key: Self.objectKey("000Admin/" + name), to: store + "/000Admin/" + name)
            }
            // A folder that exists makes the publisher read its refs.ptr, so earlier transactions' references stay.
            let folders = Set(files.map { $0.key.fileName + "/" + $0.key.index }).sorted()
            for folder in folders {
                try FileManager.default.createDirectory(atPath: store + "/" + folder, withIntermediateDirectories: true)
                _ = try await client.download(key: Self.objectKey(folder + "/refs.ptr"), to: store + "/" + folder + "/refs.ptr")
            }
            let transaction = try await blocking {
                try SymbolRoutes.publish(files, store: store, scratch: staging, options: options)
            }
            try await putAll(
                folders.map { folder in Self.files(in: store + "/" + folder).map { folder + "/" + $0 } }, from: store)
            let records = ["000Admin/" + transaction, "000Admin/server.txt", "000Admin/history.txt", "000Admin/lastid.txt"]
            for path in records + ["pingme.txt"] {
                guard let data = FileManager.default.contents(atPath: store + "/" + path) else { continue }
                try await client.put(data, key: Self.objectKey(path))
            }
            return transaction
        }
    }

    /// The files of a key folder, `refs.ptr` last: it names the transaction whose file it follows.
    static func files(in folder: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return names.filter { $0 != "refs.ptr" } + names.filter { $0 == "refs.ptr" }
    }

    /// PUTs each group's files in order, several groups at a time.
    func putAll(_ groups: [[String]], from store: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            var pending = groups[...]
            func next() {
                guard let group = pending.popFirst() else { return }
                tasks.addTask {
                    for path in group {
                        guard let data = FileManager.default.contents(atPath: store + "/" + path) else {
                            throw S3Client.Failure(description: "cannot read the staged \(path)")
                        }
                        try await client.put(data, key: Self.objectKey(path))
                    }
                }
            }
            for _ in 0..<Self.parallelPuts { next() }
            while try await tasks.next() != nil { next() }
        }
    }

    // MARK: serving

    /// The object key a `/symbols/…` request path asks for: its last three segments (`file/index/name`,
    /// or debuginfod's `buildid/<hex>/debuginfo`); nil for a path that names no key or could leave the store.
    static func requestedKey(_ rawPath: String) -> String? {
        var segments = [String]()
        for part in rawPath.split(separator: "/", omittingEmptySubsequences: true) {
            guard let decoded = String(part).removingPercentEncoding, !decoded.isEmpty, decoded != ".", decoded != "..",
                !decoded.contains("/"), !decoded.contains("\\"),
                !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else { return nil }
            segments.append(decoded)
        }
        guard segments.count >= 3 else { return nil }
        let key = segments.suffix(3).map { $0.lowercased() }
        if key[0] == "buildid" {
            // Only debug files have a key without a file name; an executable's would need a bucket listing.
            guard key[2] == "debuginfo" else { return nil }
            return objectKey("_.debug/elf-buildid-sym-\(key[1])/_.debug")
        }
        return objectKey(key.joined(separator: "/"))
    }

    /// Answers GET or HEAD of a store file from the bucket; `Range` and the validators go to S3, whose
    /// status, length, range and ETag come back, and the body is streamed through.
    func respond(to request: Request) async throws -> Response {
        let isHead = request.method == .head
        guard let key = Self.requestedKey(request.uri.path) else { return Self.plain(.notFound, "not found\n", head: isHead) }
        let asked = [
            ("range", request.headers[.range]), ("if-range", request.headers[.ifRange]),
            ("if-none-match", request.headers[.ifNoneMatch]), ("if-modified-since", request.headers[.ifModifiedSince]),
            ("if-match", request.headers[.ifMatch]),
        ]
        let forwarded = asked.compactMap { name, value in value.map { (name, $0) } }
        let upstream: HTTPClientResponse
        do {
            upstream = try await client.response(isHead ? "HEAD" : "GET", key: key, headers: forwarded)
        } catch {
            return Self.plain(.serviceUnavailable, "the symbol store cannot be reached\n", head: isHead)
        }
        let code = Int(upstream.status.code)
        guard [200, 206, 304, 416].contains(code) else {
            _ = try? await upstream.body.collect(upTo: 1 << 20)
            // S3 answers 403 for a missing key when the caller may not list the bucket.
            if code == 404 || code == 403 { return Self.plain(.notFound, "not found\n", head: isHead) }
            return Self.plain(.serviceUnavailable, "the symbol store answered \(code)\n", head: isHead)
        }
        var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes"]
        headers[.contentLength] = upstream.headers.first(name: "content-length")
        headers[.contentRange] = upstream.headers.first(name: "content-range")
        headers[.eTag] = upstream.headers.first(name: "etag")
        headers[.lastModified] = upstream.headers.first(name: "last-modified")
        let status = HTTPResponse.Status(code: code)
        guard !isHead, code != 304 else { return Response(status: status, headers: headers) }
        let length = upstream.headers.first(name: "content-length").flatMap(Int.init)
        let body = upstream.body
        return Response(
            status: status, headers: headers,
            body: ResponseBody(contentLength: length) { writer in
                for try await buffer in body { try await writer.write(buffer) }
                try await writer.finish(nil)
            })
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String, head: Bool) -> Response {
        let headers: HTTPFields = [.contentType: "text/plain", .contentLength: String(text.utf8.count)]
        if head { return Response(status: status, headers: headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
