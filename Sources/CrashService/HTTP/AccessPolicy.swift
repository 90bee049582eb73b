import Foundation

/// What a token allows.
public enum TokenScope: String, Sendable, CaseIterable, Codable {
    /// Submit crash reports.
    case submit
    /// Upload symbols.
    case symbols
    /// Read buckets, reports and dumps, the dashboard and metrics.
    case read
    /// Everything.
    case admin
}

/// A bearer token and its scopes.
public struct AccessToken: Sendable, Equatable {
    public var secret: String
    public var scopes: Set<TokenScope>

    /// Creates a token.
    public init(secret: String, scopes: Set<TokenScope>) {
        self.secret = secret
        self.scopes = scopes
    }

    /// Parses `SECRET:SCOPE[,SCOPE...]` (the command line) or `SECRET SCOPE[,SCOPE...]` (a tokens file line).
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Files separate with whitespace (scopes may be spaced after commas); the command line with the last colon.
        guard let separator = trimmed.firstIndex(where: \.isWhitespace) ?? trimmed.lastIndex(of: ":") else { return nil }
        let secret = trimmed[..<separator].trimmingCharacters(in: .whitespaces)
        let names = trimmed[trimmed.index(after: separator)...].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        let scopes = names.compactMap(TokenScope.init(rawValue:))
        // Short secrets are guessable; an unknown scope is a typo that must not silently grant less.
        guard secret.count >= 16, !secret.contains(where: \.isWhitespace), !scopes.isEmpty, scopes.count == names.count
        else { return nil }
        self.init(secret: secret, scopes: Set(scopes))
    }

    /// Reads a tokens file: one token per line, `SECRET SCOPE[,SCOPE...]`; `#` starts a comment.
    public static func parseFile(_ text: String) throws(TokenFileError) -> [AccessToken] {
        var tokens = [AccessToken]()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard !content.allSatisfy(\.isWhitespace) else { continue }
            guard let token = AccessToken(parsing: String(content)) else { throw TokenFileError(line: number + 1) }
            tokens.append(token)
        }
        return tokens
    }
}

/// A tokens file line that is not `SECRET SCOPE[,SCOPE...]` with a secret of at least 16 characters.
public struct TokenFileError: Error, CustomStringConvertible {
    public var line: Int
    public var description: String {
        "line \(line): expected 'SECRET SCOPE[,SCOPE...]' (secret of 16+ characters; scopes submit, symbols, read, admin)"
    }
}

/// Who may do what: the tokens, and whether submitting needs one.
public struct AccessPolicy: Sendable {
    public var tokens: [AccessToken]
    /// Whether `POST /submit` is open to anyone (crash reporters usually cannot hold a secret).
    public var openSubmit: Bool

    /// Creates a policy.
    public init(tokens: [AccessToken] = [], openSubmit: Bool = true) {
        self.tokens = tokens
        self.openSubmit = openSubmit
    }

    /// The outcome of checking a request.
    public enum Decision: Equatable, Sendable {
        case allowed
        /// No credentials or unknown ones: 401.
        case unauthenticated
        /// A known token without the scope: 403.
        case forbidden
    }

    /// Checks an `Authorization` header (`Bearer TOKEN`, or `Basic` with the token as password, which
    /// browsers can send for the dashboard) against `scope`.
    public func decide(authorization: String?, scope: TokenScope) -> Decision {
        if scope == .submit && openSubmit { return .allowed }
        guard let secret = authorization.flatMap(Self.secret(from:)), let token = token(matching: secret) else {
            return .unauthenticated
        }
        return token.scopes.contains(scope) || token.scopes.contains(.admin) ? .allowed : .forbidden
    }

    static func secret(from header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch parts[0].lowercased() {
        case "bearer": return value
        case "basic":
            guard let decoded = Data(base64Encoded: value).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":")
            else { return nil }
            return String(decoded[decoded.index(after: colon)...])
        default: return nil
        }
    }

    /// Compares every token in full, so the time taken does not tell how much of a guess was right.
    private func token(matching secret: String) -> AccessToken? {
        var found: AccessToken?
        let given = Array(secret.utf8)
        for token in tokens {
            let expected = Array(token.secret.utf8)
            var difference = UInt8(expected.count == given.count ? 0 : 1)
            for index in expected.indices { difference |= expected[index] ^ (index < given.count ? given[index] : 0) }
            if difference == 0 { found = token }
        }
        return found
    }
}
