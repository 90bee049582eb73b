/// One line of `000Admin/server.txt` or `history.txt`.
///
/// An addition: `0000000001,add,file,02/03/2015,13:13:44,"Product","Version","Comment",`
/// (`ptr` instead of `file` when pointers were stored); a deletion: `<new id>,del,<deleted id>`.
public struct TransactionRecord: Sendable, Hashable {
    /// What the transaction did.
    public enum Action: Sendable, Hashable {
        /// Files (or pointers, `isPointer`) were added.
        case add(isPointer: Bool, date: String, time: String, product: String, version: String, comment: String)
        /// The transaction `deletedID` was deleted.
        case delete(deletedID: Int)
    }

    /// The transaction id.
    public var id: Int
    /// What it did.
    public var action: Action

    public init(id: Int, action: Action) {
        self.id = id
        self.action = action
    }

    /// The line as symstore writes it (no line break).
    public var line: String {
        switch action {
        case .add(let isPointer, let date, let time, let product, let version, let comment):
            return
                "\(TransactionID.format(id)),add,\(isPointer ? "ptr" : "file"),\(date),\(time),\"\(product)\",\"\(version)\",\"\(comment)\","
        case .delete(let deletedID):
            return "\(TransactionID.format(id)),del,\(TransactionID.format(deletedID))"
        }
    }

    /// A line that could not be read, with its 1-based number.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses one line.
    public init(parsing text: Substring, lineNumber: Int = 1) throws(Malformed) {
        let fields = Self.splitQuoted(text)
        guard fields.count >= 3, let id = Int(fields[0]), id >= 0 else {
            throw Malformed(line: lineNumber, reason: "expected <id>,add|del,…")
        }
        self.id = id
        switch fields[1] {
        case "add":
            guard fields.count >= 8, fields[2] == "file" || fields[2] == "ptr" else {
                throw Malformed(line: lineNumber, reason: "an add record needs file|ptr, date, time, product, version, comment")
            }
            action = .add(
                isPointer: fields[2] == "ptr", date: fields[3], time: fields[4], product: fields[5], version: fields[6],
                comment: fields[7])
        case "del":
            guard let deleted = Int(fields[2]) else {
                throw Malformed(line: lineNumber, reason: "a del record needs the deleted id")
            }
            action = .delete(deletedID: deleted)
        default:
            throw Malformed(line: lineNumber, reason: "unknown action \(fields[1])")
        }
    }

    /// Parses every non-empty line of a `server.txt` or `history.txt`.
    public static func parseAll(_ text: String) throws(Malformed) -> [TransactionRecord] {
        var records = [TransactionRecord]()
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated()
        where !line.trimmingSpaces.isEmpty {
            records.append(try TransactionRecord(parsing: line, lineNumber: number + 1))
        }
        return records
    }

    /// Splits on commas outside double quotes, dropping the quotes.
    static func splitQuoted(_ text: Substring) -> [String] {
        var fields = [String]()
        var current = ""
        var quoted = false
        for character in text where character != "\r" {
            if character == "\"" {
                quoted.toggle()
            } else if character == "," && !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}

/// One line of a transaction file `000Admin/<id>`: `"<file>\<index>","<source path>"`.
public struct TransactionEntry: Sendable, Hashable {
    /// The stored file's name (first key component).
    public var fileName: String
    /// The key's index (second component).
    public var index: String
    /// The path the file was published from.
    public var sourcePath: String

    public init(fileName: String, index: String, sourcePath: String) {
        self.fileName = fileName
        self.index = index
        self.sourcePath = sourcePath
    }

    /// The line as Microsoft's symstore writes it (no line break).
    public var line: String { "\"\(fileName)\\\(index)\",\"\(sourcePath)\"" }

    /// Parses a transaction file's lines.
    ///
    /// The `symstore` package from PyPI (0.3.5) leaves out the closing quote of the source
    /// path (seen in the fixture store `generated/symstore/000Admin/0000000001`); both forms are read.
    public static func parseAll(_ text: String) throws(TransactionRecord.Malformed) -> [TransactionEntry] {
        var entries = [TransactionEntry]()
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated()
        where !line.trimmingSpaces.isEmpty {
            let fields = TransactionRecord.splitQuoted(line)
            guard fields.count == 2, let slash = fields[0].lastIndex(of: "\\") else {
                throw TransactionRecord.Malformed(line: number + 1, reason: "expected \"<file>\\<index>\",\"<source>\"")
            }
            entries.append(
                TransactionEntry(
                    fileName: String(fields[0][..<slash]), index: String(fields[0][fields[0].index(after: slash)...]),
                    sourcePath: fields[1]))
        }
        return entries
    }
}
