import Crypto
import Foundation

/// An access key pair, and the session token that temporary credentials carry.
public struct AWSCredentials: Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; nil without the first two.
    public init?(environment: [String: String]) {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"],
            !secret.isEmpty
        else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }
}

/// AWS Signature Version 4 for requests whose whole payload is hashed up front (single-chunk uploads).
public struct SignatureV4: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    /// The hash of an empty payload, which GET and HEAD requests sign.
    public static let emptyPayloadHash = hexSHA256(Data())

    /// Signs for `service` (`s3`) in `region`.
    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers a request needs besides `Host` (which the HTTP client sends and must equal `host`):
    /// `headers` as given, `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` with a session
    /// token, and `Authorization`. `encodedPath` is the path as sent, already percent-encoded.
    public func headers(
        method: String, host: String, encodedPath: String, query: [(String, String)] = [], headers: [String: String] = [:],
        payloadHash: String, date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var signed = [String: String]()
        for (name, value) in headers { signed[name.lowercased()] = value }
        signed["host"] = host
        signed["x-amz-date"] = stamp
        signed["x-amz-content-sha256"] = payloadHash
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        let authorization = self.authorization(
            method: method, encodedPath: encodedPath, query: query, headers: signed, payloadHash: payloadHash, timestamp: stamp)
        var result = signed.filter { $0.key != "host" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        result.append(("authorization", authorization))
        return result
    }

    /// The `Authorization` header for a request whose signed headers (names lowercase, `host` and
    /// `x-amz-date` among them) are `headers`; `timestamp` is `x-amz-date` (`YYYYMMDD'T'HHMMSS'Z'`).
    public func authorization(
        method: String, encodedPath: String, query: [(String, String)], headers: [String: String], payloadHash: String,
        timestamp: String
    ) -> String {
        let names = headers.keys.map { $0.lowercased() }.sorted()
        let canonicalHeaders: String = names.map { (name: String) -> String in
            // Values are trimmed and inner runs of spaces folded, as the specification asks.
            let value = headers[name]!.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            return "\(name):\(value)\n"
        }.joined()
        let signedHeaders = names.joined(separator: ";")
        let encodedQuery: [(String, String)] = query.map {
            (Self.encode($0.0, keepSlash: false), Self.encode($0.1, keepSlash: false))
        }
        let sortedQuery = encodedQuery.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        // Typed: GRDB's SQL is also expressible by an interpolated string literal.
        let canonicalQuery: String = sortedQuery.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }
            .joined(separator: "&")
        let path: String = encodedPath.isEmpty ? "/" : encodedPath
        let lines: [String] = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
        let canonicalRequest = lines.joined(separator: "\n")
        let day = String(timestamp.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign: [String] = ["AWS4-HMAC-SHA256", timestamp, scope, Self.hexSHA256(Data(canonicalRequest.utf8))]
        let stringToSign = toSign.joined(separator: "\n")
        let signature = Self.hex(Self.hmac(signingKey(day: day), Data(stringToSign.utf8)))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), "
            + "Signature=\(signature)"
    }

    /// `kSigning`: the secret chained through the day, region, service and `aws4_request`.
    func signingKey(day: String) -> Data {
        var key = Data("AWS4\(credentials.secretAccessKey)".utf8)
        for part in [day, region, service, "aws4_request"] { key = Self.hmac(key, Data(part.utf8)) }
        return key
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return String(format: "%04d", parts.year ?? 0) + two(parts.month) + two(parts.day) + "T" + two(parts.hour)
            + two(parts.minute) + two(parts.second) + "Z"
    }

    /// Percent-encodes all but RFC 3986's unreserved characters (and `/` in paths), as SigV4 requires.
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                result += "/"
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    /// The lowercase hex SHA-256 of `data`.
    public static func hexSHA256(_ data: Data) -> String { hex(Data(SHA256.hash(data: data))) }

    static func hmac(_ key: Data, _ message: Data) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
}
