/// The content of a `file.ptr`: where the real file is, or a message for the user.
public enum FilePointer: Sendable, Hashable {
    /// A file system path (`\\server\share\foo.pdb`, `/mnt/syms/foo.pdb`), `PATH:` prefix removed.
    case path(String)
    /// An `http://` or `https://` URL.
    case url(String)
    /// `MSG: text`: nothing to fetch, a message to show.
    case message(String)

    /// Why a pointer file was rejected.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { "malformed file.ptr: \(reason)" }
    }

    /// Parses the text of a `file.ptr` (first line; surrounding white space ignored).
    public init(parsing text: String) throws(Malformed) {
        let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).first.map(String.init) ?? ""
        let trimmed = line.trimmingSpaces
        guard !trimmed.isEmpty else { throw Malformed(reason: "empty") }
        guard !trimmed.contains("\0") else { throw Malformed(reason: "contains NUL") }
        if trimmed.uppercased().hasPrefix("MSG:") {
            self = .message(String(trimmed.dropFirst(4)).trimmingSpaces)
            return
        }
        var target = trimmed
        if target.uppercased().hasPrefix("PATH:") { target = String(target.dropFirst(5)).trimmingSpaces }
        guard !target.isEmpty else { throw Malformed(reason: "PATH: with no path") }
        let lower = target.lowercased()
        self = lower.hasPrefix("http://") || lower.hasPrefix("https://") ? .url(target) : .path(target)
    }

    /// The text symstore writes for this pointer.
    public var text: String {
        switch self {
        case .path(let path): return path
        case .url(let url): return url
        case .message(let message): return "MSG: \(message)"
        }
    }
}

/// One line of a `refs.ptr`: which transaction stored the file, and how.
public struct StoreReference: Sendable, Hashable {
    /// The transaction id.
    public var transactionID: Int
    /// `true` for a pointer (`ptr`), `false` for a copied file (`file`).
    public var isPointer: Bool
    /// The source path a pointer points to (empty for copied files).
    public var path: String

    public init(transactionID: Int, isPointer: Bool, path: String) {
        self.transactionID = transactionID
        self.isPointer = isPointer
        self.path = path
    }

    /// `0000000026,ptr,\\server\path\x.dbg` or `0000000001,file,`.
    public var line: String {
        "\(TransactionID.format(transactionID)),\(isPointer ? "ptr" : "file"),\(path)"
    }

    /// Parses the lines of a `refs.ptr`; blank lines are skipped, a malformed line throws with its number.
    public static func parse(_ text: String) throws(FilePointer.Malformed) -> [StoreReference] {
        var references = [StoreReference]()
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated()
        {
            let line = raw.trimmingSpaces
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, let id = Int(fields[0]), id >= 0, fields[1] == "file" || fields[1] == "ptr" else {
                throw FilePointer.Malformed(reason: "refs.ptr line \(number + 1): expected <id>,file|ptr,<path>")
            }
            references.append(
                StoreReference(transactionID: id, isPointer: fields[1] == "ptr", path: fields.count > 2 ? String(fields[2]) : ""))
        }
        return references
    }
}

/// Transaction ids as symstore spells them: ten decimal digits.
public enum TransactionID {
    /// `%010d`.
    public static func format(_ id: Int) -> String {
        let digits = String(id)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }
}

extension StringProtocol {
    /// The text without leading and trailing ASCII spaces, tabs and line breaks (by Unicode
    /// scalar, so that `\r\n` and a space followed by a combining mark are handled).
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) })
        else {
            return ""
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[first...last])
        return String(out)
    }
}
