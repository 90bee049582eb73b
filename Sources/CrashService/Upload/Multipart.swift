/// One part of a `multipart/form-data` body: its form field name, file name, content type and bytes.
public struct FormPart: Sendable, Equatable {
    public var name: String
    /// The `filename` parameter; present for file parts.
    public var fileName: String?
    public var contentType: String?
    /// Where the part's content is in the body.
    public var range: Range<Int>
}

/// Why a multipart body could not be read.
public struct MultipartError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A `multipart/form-data` reader (RFC 7578) over a body held in memory; parts are ranges into it.
public enum Multipart {
    /// Caps that keep a hostile body from making us do unbounded work.
    static let maxParts = 1000
    static let maxHeaderBytes = 16 * 1024

    /// The `boundary` parameter of a `multipart/form-data` content type; nil when the type is another
    /// or the parameter is missing.
    public static func boundary(contentType: String) -> String? {
        let pieces = splitParameters(contentType)
        guard let type = pieces.first, type.lowercased() == "multipart/form-data" else { return nil }
        guard let boundary = parameters(pieces.dropFirst())["boundary"], (1...70).contains(boundary.utf8.count) else {
            return nil
        }
        return boundary
    }

    /// Splits `body` into its parts.
    public static func parse(_ body: [UInt8], boundary: String) throws(MultipartError) -> [FormPart] {
        let dashBoundary = Array(("--" + boundary).utf8)
        let delimiter = Array(("\r\n--" + boundary).utf8)
        // The first boundary may start the body (no CRLF before it); a preamble before it is ignored.
        var position: Int
        if body.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else if let found = find(delimiter, in: body, from: 0) {
            position = found + delimiter.count
        } else {
            throw MultipartError("no boundary line")
        }
        var parts = [FormPart]()
        while true {
            // After a boundary: `--` ends the body, else optional whitespace and CRLF start a part.
            if body[position..<min(position + 2, body.count)].elementsEqual("--".utf8) { return parts }
            while position < body.count, body[position] == UInt8(ascii: " ") || body[position] == UInt8(ascii: "\t") {
                position += 1
            }
            guard body[position..<min(position + 2, body.count)].elementsEqual("\r\n".utf8) else {
                throw MultipartError("boundary not followed by a line break at byte \(position)")
            }
            position += 2
            guard parts.count < maxParts else { throw MultipartError("more than \(maxParts) parts") }
            guard let headerEnd = find(Array("\r\n\r\n".utf8), in: body, from: position - 2, limit: maxHeaderBytes) else {
                throw MultipartError("part headers not terminated within \(maxHeaderBytes) bytes at byte \(position)")
            }
            // A part without headers has its blank line right after the boundary's CRLF.
            let headers = headerEnd > position ? try parseHeaders(body[position..<headerEnd]) : [:]
            let contentStart = headerEnd + 4
            guard let contentEnd = find(delimiter, in: body, from: contentStart) else {
                throw MultipartError("part at byte \(position) has no closing boundary")
            }
            guard let disposition = headers["content-disposition"] else {
                throw MultipartError("part at byte \(position) has no Content-Disposition")
            }
            let pieces = splitParameters(disposition)
            let values = parameters(pieces.dropFirst())
            guard pieces.first?.lowercased() == "form-data", let name = values["name"] else {
                throw MultipartError("part at byte \(position) is not form-data with a name")
            }
            parts.append(
                FormPart(
                    name: name, fileName: values["filename"], contentType: headers["content-type"],
                    range: contentStart..<contentEnd))
            position = contentEnd + delimiter.count
        }
    }

    /// Header lines of one part, names lowercased.
    static func parseHeaders(_ bytes: ArraySlice<UInt8>) throws(MultipartError) -> [String: String] {
        var headers = [String: String]()
        guard !bytes.isEmpty else { return headers }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":") else { throw MultipartError("malformed part header '\(line.prefix(80))'") }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }

    /// Splits a header value at `;` outside quoted strings.
    static func splitParameters(_ value: String) -> [String] {
        var pieces = [String]()
        var current = ""
        var quoted = false
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
            } else if quoted && character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
                current.append(character)
            } else if character == ";" && !quoted {
                pieces.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        pieces.append(current.trimmingCharacters(in: .whitespaces))
        return pieces
    }

    /// `key=value` and `key="quoted \"value\""` pairs, keys lowercased.
    static func parameters(_ pieces: some Sequence<String>) -> [String: String] {
        var values = [String: String]()
        for piece in pieces {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let key = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = Substring(piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces))
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = value.dropFirst().dropLast()
                var unescaped = ""
                var escaped = false
                for character in value {
                    if !escaped && character == "\\" {
                        escaped = true
                        continue
                    }
                    unescaped.append(character)
                    escaped = false
                }
                values[key] = unescaped
            } else {
                values[key] = String(value)
            }
        }
        return values
    }

    /// The first index of `needle` in `haystack` at or after `start` (and, with `limit`, starting
    /// within `limit` bytes of it).
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int, limit: Int = .max) -> Int? {
        guard let first = needle.first, needle.count <= haystack.count else { return nil }
        let last = min(haystack.count - needle.count, start > Int.max - limit ? Int.max : start + limit)
        var index = max(start, 0)
        while index <= last {
            if haystack[index] == first {
                var matched = 1
                while matched < needle.count && haystack[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }
}
