import Foundation

/// One regular expression from a signature list, compiled.
///
/// A pattern matches a normalized frame when it matches at the frame's start, as Python's
/// `re.match` does in Socorro (end a pattern with `$` to require the whole frame). The syntax is
/// the part of Python's that such lists use (see ``SignatureRegex``); anything beyond it is
/// refused when the list is loaded.
public struct SignaturePattern: Sendable, Equatable, CustomStringConvertible {
    /// The pattern as written.
    public let source: String
    /// Text every match starts with: the pattern's leading literal characters. A frame without it
    /// cannot match, so most frames are turned away without running (or even compiling) the regex.
    let literalPrefix: String
    private let compiled: CompiledRegex

    /// Compiles `source`; throws ``SignatureListError`` when it is not a valid expression.
    public init(_ source: String) throws(SignatureListError) {
        self.source = source
        literalPrefix = Self.literalPrefix(of: source)
        compiled = CompiledRegex(source)
        do {
            _ = try compiled.regex()
        } catch {
            throw SignatureListError(list: nil, line: nil, pattern: source, reason: "\(error)")
        }
    }

    /// A pattern known to be valid (the built-in lists, which the tests compile): compiled on first use,
    /// so a run pays only for the patterns some frame could match.
    init(trusted source: String) {
        self.source = source
        literalPrefix = Self.literalPrefix(of: source)
        compiled = CompiledRegex(source)
    }

    /// Whether the pattern matches at the start of `text`.
    public func matches(_ text: String) -> Bool {
        guard text.hasPrefix(literalPrefix), let regex = try? compiled.regex() else { return false }
        return regex.matchesPrefix(text)
    }

    /// The pattern as written.
    public var description: String { source }

    /// Patterns are equal when they are written the same.
    public static func == (left: SignaturePattern, right: SignaturePattern) -> Bool { left.source == right.source }

    /// The characters a match must begin with: the leading run of plain characters, minus the last one
    /// when a quantifier makes it optional; empty for patterns with an alternation anywhere (a `|` can
    /// start a branch with other text) or that open with a group, class or flag.
    static func literalPrefix(of pattern: String) -> String {
        // Bytes, not Characters: grapheme iteration and Character hashing made this the costliest
        // step of loading the built-in lists. A non-ASCII byte ends the prefix (a shorter prefix is
        // still a correct filter).
        var prefix = [UInt8]()
        for byte in pattern.utf8 {
            if byte == UInt8(ascii: "|") { return "" }
        }
        for byte in pattern.utf8 {
            guard byte < 0x80 else { break }
            if metacharacters.contains(byte) {
                if byte == UInt8(ascii: "?") || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "{"), !prefix.isEmpty {
                    prefix.removeLast()
                }
                break
            }
            prefix.append(byte)
        }
        return String(decoding: prefix, as: UTF8.self)
    }
}

private let metacharacters: [UInt8] = Array(#"\^$.?*+()[]{}"#.utf8)

/// A regular expression compiled once, on first use, by whichever thread asks first.
final class CompiledRegex: @unchecked Sendable {
    private let source: String
    private let lock = NSLock()
    private var result: Result<SignatureRegex, SignatureRegexError>?

    init(_ source: String) { self.source = source }

    func regex() throws(SignatureRegexError) -> SignatureRegex {
        lock.lock()
        defer { lock.unlock() }
        if let result { return try result.get() }
        let compiled = Result { () throws(SignatureRegexError) in try SignatureRegex(source) }
        result = compiled
        return try compiled.get()
    }
}

/// A pattern that does not compile, with where it came from.
public struct SignatureListError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which list (`irrelevant`, `prefix`, `sentinel`, `line-number`) or file.
    public var list: String?
    /// The 1-based line in that list.
    public var line: Int?
    /// The offending pattern.
    public var pattern: String
    /// What the regular-expression engine said.
    public var reason: String

    /// `list line N: invalid pattern P: reason`.
    public var description: String {
        let place = [list, line.map { "line \($0)" }].compactMap { $0 }.joined(separator: " ")
        return (place.isEmpty ? "" : place + ": ") + "invalid pattern \(pattern): \(reason)"
    }
}

/// The editable lists that decide which frames make a signature.
///
/// Each list is text with one regular expression per line; blank lines and lines starting
/// with `#` are ignored, and surrounding whitespace is trimmed. The defaults below are written
/// in that same format, so a file replacing one of them reads exactly like it.
public struct SignatureLists: Sendable, Equatable {
    /// Frames to skip entirely (waits, exception dispatch, abort and panic machinery).
    public var irrelevant: [SignaturePattern]
    /// Frames that join the signature and let the walk continue to their caller (allocators, memcpy, CRT checks).
    public var prefix: [SignaturePattern]
    /// Frames where the signature starts when one is on the stack (pure-virtual call handlers, OOM aborts).
    public var sentinel: [SignaturePattern]
    /// C and C++ functions whose signature keeps the line number (`name:line`), such as interpreter loops.
    public var lineNumbers: [SignaturePattern]

    /// Lists from text in the list format.
    public init(irrelevant: String, prefix: String, sentinel: String, lineNumbers: String = "")
        throws(SignatureListError)
    {
        self.irrelevant = try Self.parse(irrelevant, list: "irrelevant")
        self.prefix = try Self.parse(prefix, list: "prefix")
        self.sentinel = try Self.parse(sentinel, list: "sentinel")
        self.lineNumbers = try Self.parse(lineNumbers, list: "line-number")
    }

    /// The built-in lists.
    ///
    /// Their patterns compile on first use (a test compiles every one), so a run does not pay for
    /// compiling patterns no frame can match.
    public static let defaults = SignatureLists(
        trusted: trustedPatterns(defaultIrrelevant), prefix: trustedPatterns(defaultPrefix),
        sentinel: trustedPatterns(defaultSentinel))

    private init(trusted irrelevant: [SignaturePattern], prefix: [SignaturePattern], sentinel: [SignaturePattern]) {
        self.irrelevant = irrelevant
        self.prefix = prefix
        self.sentinel = sentinel
        lineNumbers = []
    }

    /// The patterns of a built-in list, not compiled yet.
    static func trustedPatterns(_ text: String) -> [SignaturePattern] {
        text.split(separator: "\n").map(trimmed).filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { SignaturePattern(trusted: $0) }
    }

    /// The patterns of a list in the list format; `list` names it in errors.
    public static func parse(_ text: String, list: String) throws(SignatureListError) -> [SignaturePattern] {
        var patterns = [SignaturePattern]()
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = trimmed(rawLine)
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                patterns.append(try SignaturePattern(line))
            } catch {
                throw SignatureListError(list: list, line: number + 1, pattern: line, reason: error.reason)
            }
        }
        return patterns
    }

    /// The line without surrounding whitespace; Foundation's trimming goes through NSString, which
    /// cost more than all the rest of reading the built-in lists.
    static func trimmed(_ line: Substring) -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        guard let first = line.firstIndex(where: { !isSpace($0) }), let last = line.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(line[first...last])
    }

    /// Reads a list file (UTF-8, list format).
    public static func load(path: String) throws -> [SignaturePattern] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try parse(text, list: path)
    }

    /// The defaults with any list replaced by the file given for it.
    public static func loading(
        irrelevant: String? = nil, prefix: String? = nil, sentinel: String? = nil, lineNumbers: String? = nil
    ) throws -> SignatureLists {
        var lists = defaults
        if let irrelevant { lists.irrelevant = try load(path: irrelevant) }
        if let prefix { lists.prefix = try load(path: prefix) }
        if let sentinel { lists.sentinel = try load(path: sentinel) }
        if let lineNumbers { lists.lineNumbers = try load(path: lineNumbers) }
        return lists
    }
}
