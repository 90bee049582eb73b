import AsyncHTTPClient
import Foundation
import NIOCore
import SymbolClient
import SymbolHTTP

/// Symbol downloads from `s3://bucket/prefix` stores on a symbol path (`srv*CACHE*s3://bucket/symbols`),
/// signed for one S3-compatible endpoint; every other URL goes to the transport it wraps.
///
/// This is how workers, in process or in a child `postmortem analyze`, read the symbols an `api` process
/// published into object storage: the store is a symbol server whose files land in a local downstream
/// cache, where the analyzer maps them.
public final class S3SymbolTransport: SymbolTransport, @unchecked Sendable {
    // Sendable: `fallback` is created and read under `lock`; the rest is immutable.
    let endpoint: String
    let region: String
    let credentials: AWSCredentials
    private let makeFallback: (@Sendable (FetchConfiguration) -> any SymbolTransport)?
    private let configuration: FetchConfiguration
    private let lock = NSLock()
    private var fallback: (any SymbolTransport)?

    /// A transport signing for `endpoint` (nil: AWS's regional one); other URLs go to what `fallback` makes.
    public init(
        endpoint: String?, region: String, credentials: AWSCredentials, configuration: FetchConfiguration,
        fallback: (@Sendable (FetchConfiguration) -> any SymbolTransport)?
    ) {
        self.endpoint = endpoint ?? "https://s3.\(region).amazonaws.com"
        self.region = region
        self.credentials = credentials
        self.configuration = configuration
        self.makeFallback = fallback
    }

    private var other: (any SymbolTransport)? {
        lock.withLock {
            if fallback == nil { fallback = makeFallback?(configuration) }
            return fallback
        }
    }

    /// The store can gain any key at any time (a build uploads its symbols after its first crashes),
    /// so a miss there is asked again, as a local folder would be looked at again.
    public func remembersMisses(on url: String) -> Bool {
        guard Self.isS3(url) else { return other?.remembersMisses(on: url) ?? true }
        return false
    }

    public func shutdown() async {
        await lock.withLock { fallback }?.shutdown()
    }

    static func isS3(_ url: String) -> Bool { url.lowercased().hasPrefix("s3://") }

    /// The bucket and the object key of `s3://bucket/path`, percent-decoded, the key as `S3SymbolStore`
    /// spells it (its last three components, `file/index/name`, in lower case).
    static func object(of url: String) -> (bucket: String, key: String)? {
        let parts = url.dropFirst(5).split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 4 else { return nil }
        var components = [String]()
        for part in parts.dropFirst() {
            guard let decoded = String(part).removingPercentEncoding, decoded != ".", decoded != ".." else { return nil }
            components.append(decoded)
        }
        let key = components.dropLast(3) + components.suffix(3).map { $0.lowercased() }
        return (String(parts[0]), key.joined(separator: "/"))
    }

    public func get(_ url: String, to path: String, configuration fetch: FetchConfiguration) async throws(TransportError) {
        guard Self.isS3(url) else {
            guard let other else { throw .connection("\(url): no transport for this kind of URL") }
            return try await other.get(url, to: path, configuration: fetch)
        }
        guard let object = Self.object(of: url), let location = S3Location(url: "s3://" + object.bucket) else {
            throw .status(400, "\(url) names no object")
        }
        let client = S3Client(
            configuration: S3Configuration(location: location, endpoint: endpoint, region: region, credentials: credentials))
        let response: HTTPClientResponse
        do {
            response = try await client.response("GET", key: object.key)
        } catch {
            throw .connection("\(url): \(error)")
        }
        let code = response.status.code
        switch code {
        case 200: break
        // S3 answers 403 for a missing key when the credentials may not list the bucket.
        case 403, 404: throw .notFound
        case 408, 429, 500...599: throw .serverError(code, url)
        default: throw .status(code, url)
        }
        try await HTTPSymbolTransport.save(response, of: url, to: path, configuration: fetch)
    }
}

extension S3Configuration {
    /// The variables from which `FetchConfiguration.withS3Symbols(environment:)` signs for this endpoint:
    /// what a worker gives its child `postmortem analyze` (never arguments, which other users can read).
    public var symbolEnvironment: [String: String] {
        var variables = [
            "AWS_ACCESS_KEY_ID": credentials.accessKeyID, "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
            "AWS_ENDPOINT_URL_S3": endpoint, "AWS_REGION": region,
        ]
        variables["AWS_SESSION_TOKEN"] = credentials.sessionToken
        return variables
    }
}

extension FetchConfiguration {
    /// The configuration with `s3://` stores readable, signed for `s3`; other URLs keep the transport set before.
    public func withS3Symbols(_ s3: S3Configuration) -> FetchConfiguration {
        var configuration = self
        let fallback = transport
        configuration.transport = { settings in
            S3SymbolTransport(
                endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, configuration: settings,
                fallback: fallback)
        }
        return configuration
    }

    /// The configuration with `s3://` stores readable when `environment` holds credentials
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), for the endpoint of
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` and the region of `AWS_REGION` or `AWS_DEFAULT_REGION`.
    public func withS3Symbols(environment: [String: String]) -> FetchConfiguration {
        guard let credentials = AWSCredentials(environment: environment) else { return self }
        let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        // The bucket comes from each URL; the location only completes the configuration.
        guard let location = S3Location(url: "s3://any-bucket") else { return self }
        return withS3Symbols(S3Configuration(location: location, endpoint: endpoint, region: region, credentials: credentials))
    }
}
