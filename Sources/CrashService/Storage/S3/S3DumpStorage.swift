import AsyncHTTPClient
import Foundation
import NIOCore

/// Where in object storage the service keeps its files: `s3://bucket[/prefix]`.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    /// Prepended to every object key, without slashes at either end ("" for none).
    public var prefix: String

    /// Parses `s3://bucket[/prefix]`; nil for anything else.
    public init?(url: String) {
        guard url.lowercased().hasPrefix("s3://") else { return nil }
        let rest = url.dropFirst(5)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = String(parts[0])
        // Bucket names are 3-63 lowercase letters, digits, dots and hyphens.
        guard (3...63).contains(bucket.count),
            bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") })
        else { return nil }
        self.bucket = bucket
        self.prefix = parts.count > 1 ? parts[1].split(separator: "/").joined(separator: "/") : ""
    }
}

/// An S3-compatible endpoint, the bucket and prefix in it, and how requests are signed.
public struct S3Configuration: Sendable {
    public var location: S3Location
    /// `scheme://host[:port]`; requests use path-style addressing (`/bucket/key`), which every
    /// S3-compatible server accepts.
    public var endpoint: String
    public var region: String
    public var credentials: AWSCredentials

    /// Creates a configuration; without `endpoint`, AWS's regional endpoint.
    public init(location: S3Location, endpoint: String? = nil, region: String, credentials: AWSCredentials) {
        self.location = location
        self.endpoint = (endpoint ?? "https://s3.\(region).amazonaws.com").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.region = region
        self.credentials = credentials
    }
}

/// A minimal S3 client: signed PUT and GET of whole objects through AsyncHTTPClient.
public struct S3Client: Sendable {
    public let configuration: S3Configuration
    let signer: SignatureV4
    let client: HTTPClient
    /// Requests that take longer than this fail (and an upload is then refused with 503).
    let timeout: TimeAmount = .seconds(120)

    /// Uses `client` (the shared client by default) for requests.
    public init(configuration: S3Configuration, client: HTTPClient = .shared) {
        self.configuration = configuration
        self.signer = SignatureV4(credentials: configuration.credentials, region: configuration.region)
        self.client = client
    }

    /// An S3 request that did not succeed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Stores `data` at `key` (below the configured prefix); returns once S3 answered 200.
    public func put(_ data: Data, key: String) async throws {
        let response = try await send("PUT", key: key, body: data)
        guard response.status == .ok else { throw try await failure("PUT", key, response) }
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// Streams the object at `key` into a new file at `path`; false when there is no such object.
    public func download(key: String, to path: String) async throws -> Bool {
        let response = try await send("GET", key: key, body: nil)
        if response.status == .notFound { return false }
        guard response.status == .ok else { throw try await failure("GET", key, response) }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw Failure(description: "cannot create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for try await chunk in response.body { try handle.write(contentsOf: Data(buffer: chunk)) }
        return true
    }

    /// The object at `key`, nil when there is none.
    public func get(key: String, maxBytes: Int) async throws -> Data? {
        let response = try await send("GET", key: key, body: nil)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw try await failure("GET", key, response) }
        return Data(buffer: try await response.body.collect(upTo: maxBytes))
    }

    /// Deletes the object at `key`; S3 answers 204 whether or not it existed.
    public func delete(key: String) async throws {
        let response = try await send("DELETE", key: key, body: nil)
        guard response.status == .noContent || response.status == .ok || response.status == .notFound else {
            throw try await failure("DELETE", key, response)
        }
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// Creates the bucket (tests and first-time setup); an existing bucket of ours is fine.
    public func createBucket() async throws {
        // Outside us-east-1, S3 wants the region named in the body as well as in the signature.
        let region = configuration.region
        let body =
            region == "us-east-1"
            ? Data()
            : Data(
                ("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    + "<LocationConstraint>\(region)</LocationConstraint></CreateBucketConfiguration>").utf8)
        let response = try await send("PUT", key: nil, body: body)
        guard response.status == .ok || response.status == .conflict else { throw try await failure("PUT", "", response) }
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// `/bucket/prefix/key`, percent-encoded as sent and signed; `/bucket` for the bucket itself.
    func encodedPath(key: String?) -> String {
        let location = configuration.location
        guard let key else { return "/" + SignatureV4.encode(location.bucket, keepSlash: false) }
        let full = location.prefix.isEmpty ? key : location.prefix + "/" + key
        return "/" + SignatureV4.encode(location.bucket, keepSlash: false) + "/" + SignatureV4.encode(full, keepSlash: true)
    }

    /// Sends a bodiless request (GET or HEAD) for `key` and returns the response as it arrives, body unread;
    /// `headers` (such as `Range`) are sent unsigned, which S3 allows for headers other than `x-amz-*`.
    public func response(_ method: String, key: String, headers: [(String, String)] = []) async throws -> HTTPClientResponse {
        try await send(method, key: key, body: nil, headers: headers)
    }

    func send(_ method: String, key: String?, body: Data?, headers unsigned: [(String, String)] = []) async throws
        -> HTTPClientResponse
    {
        guard let url = URL(string: configuration.endpoint), let host = url.host else {
            throw Failure(description: "the S3 endpoint \(configuration.endpoint) is not a URL")
        }
        let path = encodedPath(key: key)
        var request = HTTPClientRequest(url: configuration.endpoint + path)
        request.method = .init(rawValue: method)
        let payload = body ?? Data()
        // The Host header AsyncHTTPClient sends carries the port unless it is the scheme's default.
        let isDefaultPort =
            url.port == nil || (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443)
        let hostHeader = isDefaultPort ? host : "\(host):\(url.port!)"
        let extra = body.map { ["content-length": String($0.count)] } ?? [:]
        for (name, value) in signer.headers(
            method: method, host: hostHeader, encodedPath: path, headers: extra,
            payloadHash: SignatureV4.hexSHA256(payload), date: Date())
        where name != "content-length" {
            request.headers.add(name: name, value: value)
        }
        for (name, value) in unsigned { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        return try await client.execute(request, timeout: timeout)
    }

    func failure(_ method: String, _ key: String, _ response: HTTPClientResponse) async throws -> Failure {
        let text = String(buffer: try await response.body.collect(upTo: 64 << 10))
        // S3 explains refusals in an XML <Message>; the code alone says little.
        let message = text.range(of: "<Message>").flatMap { start in
            text.range(of: "</Message>").map { String(text[start.upperBound..<$0.lowerBound]) }
        }
        return Failure(
            description: "S3 \(method) \(key): \(response.status.code) \(message ?? response.status.reasonPhrase)")
    }
}

/// `DumpStorage` in an S3 bucket: objects `[prefix/]dumps/<2 hex>/<uuid>.dmp` and
/// `[prefix/]attachments/<2 hex>/<uuid>/<index>`. A put returns once S3 acknowledged the object;
/// workers download a dump to a temporary file under `scratch` for the analyzer, which maps files.
public struct S3DumpStorage: DumpStorage {
    public let client: S3Client
    public let scratch: String

    /// Uses (and creates) `scratch` for downloads.
    public init(client: S3Client, scratch: String) throws {
        self.client = client
        self.scratch = scratch
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// The object key of a stored file.
    public static func objectKey(for key: BlobKey) -> String {
        switch key {
        case .dump(let id):
            let name = id.uuidString.lowercased()
            return "dumps/\(name.prefix(2))/\(name).dmp"
        case .attachment(let id, let index):
            let name = id.uuidString.lowercased()
            return "attachments/\(name.prefix(2))/\(name)/\(index)"
        }
    }

    public func put(_ bytes: Data, at key: BlobKey) async throws {
        try await client.put(bytes, key: Self.objectKey(for: key))
    }

    public func delete(_ key: BlobKey) async throws {
        try await client.delete(key: Self.objectKey(for: key))
    }

    public func withLocalFile<T: Sendable>(_ key: BlobKey, _ body: @Sendable (String) async throws -> T) async throws -> T? {
        let path = scratch + "/download-" + UUID().uuidString.lowercased()
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard try await client.download(key: Self.objectKey(for: key), to: path) else { return nil }
        return try await body(path)
    }
}
