/// A request path, percent-decoded and checked segment by segment.
///
/// Anything that could name a file outside a store is refused before the file system is
/// touched: `.` and `..` segments (plain or percent-encoded), encoded `/` or `\`, NUL and
/// other control characters.
struct RequestPath: Sendable, Equatable {
    /// Why a path was refused (answered with 400).
    enum Rejection: Error, Equatable {
        case badEncoding
        case forbiddenSegment(String)
    }

    /// The decoded, non-empty segments.
    let segments: [String]

    init(raw: String) throws(Rejection) {
        var segments = [String]()
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            guard let decoded = Self.percentDecode(part) else { throw .badEncoding }
            if decoded == "." || decoded == ".." { throw .forbiddenSegment(decoded) }
            // Byte checks: Foundation's `contains(_: String)` searches through NSString, which
            // cost more than the rest of a miss.
            if decoded.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) {
                throw .forbiddenSegment(decoded)
            }
            if decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw .forbiddenSegment(decoded)
            }
            segments.append(decoded)
        }
        self.segments = segments
    }

    /// Decodes `%XX` escapes as UTF-8; nil for a truncated escape or invalid UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        if !text.utf8.contains(UInt8(ascii: "%")) { return String(text) }
        var bytes = [UInt8]()
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// What the path asks for.
    enum Target: Equatable {
        /// `<file>/<key>/<stored name>`, after any prefix.
        case symsrv(fileName: String, index: String, storedName: String)
        /// `buildid/<hex>/<artifact>`, after any prefix.
        case debuginfod(buildID: String, artifact: String)
        case none
    }

    var target: Target {
        let count = segments.count
        if count >= 3, segments[count - 3].lowercased() == "buildid",
            ["debuginfo", "executable"].contains(segments[count - 1].lowercased())
        {
            return .debuginfod(buildID: segments[count - 2].lowercased(), artifact: segments[count - 1].lowercased())
        }
        guard count >= 3 else { return .none }
        return .symsrv(fileName: segments[count - 3], index: segments[count - 2], storedName: segments[count - 1])
    }
}
