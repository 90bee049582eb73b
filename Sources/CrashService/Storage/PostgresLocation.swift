import Foundation
import PostgresNIO

/// A PostgreSQL server and database given as a libpq-style URL:
/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require|verify-full`.
///
/// User and password may be percent-encoded. `sslmode` follows libpq: `prefer` (the default) and
/// `require` encrypt without checking the certificate, `verify-full` checks it and the host name.
public struct PostgresLocation: Sendable {
    /// The client configuration the URL describes.
    public var configuration: PostgresClient.Configuration
    /// `host:port/database`, for messages (never the password).
    public var endpoint: String

    /// Parses `url`; throws `MalformedPostgresURL` saying what is wrong.
    public init(url text: String) throws(MalformedPostgresURL) {
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme)
        else { throw MalformedPostgresURL("expected postgres://user:password@host:port/database") }
        guard let host = url.host, !host.isEmpty else { throw MalformedPostgresURL("no host") }
        guard let user = url.user, !user.isEmpty else { throw MalformedPostgresURL("no user name") }
        let port = url.port ?? 5432
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        var tls = PostgresClient.Configuration.TLS.prefer(Self.unverified)
        for item in url.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "disable"): tls = .disable
            case ("sslmode", "prefer"), ("sslmode", "allow"): tls = .prefer(Self.unverified)
            case ("sslmode", "require"): tls = .require(Self.unverified)
            case ("sslmode", "verify-full"): tls = .require(.makeClientConfiguration())
            case ("sslmode", let mode):
                throw MalformedPostgresURL("sslmode '\(mode)' is not disable, prefer, require or verify-full")
            case (let name, _): throw MalformedPostgresURL("unknown parameter '\(name)'")
            }
        }
        // URLComponents keeps brackets around IPv6 literals; the resolver wants them bare.
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        configuration = PostgresClient.Configuration(
            host: bareHost, port: port, username: url.percentEncodedUser?.removingPercentEncoding ?? user,
            password: url.percentEncodedPassword?.removingPercentEncoding, database: database.isEmpty ? nil : database,
            tls: tls)
        endpoint = "\(host):\(port)/\(database.isEmpty ? user : database)"
    }

    /// libpq's `prefer` and `require`: encrypted, certificate not checked.
    private static var unverified: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return configuration
    }
}

/// A `--database` value that is not a usable PostgreSQL URL.
public struct MalformedPostgresURL: Error, CustomStringConvertible {
    public var description: String

    init(_ reason: String) { description = "--database: \(reason)" }
}
