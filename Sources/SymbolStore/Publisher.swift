import BinaryReading
import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Publishes files into a symbol store and deletes transactions, writing `000Admin` the way
/// symstore does.
///
/// Every file is written atomically (temporary file + rename). Publishers of one store
/// serialize on an `flock` of `000Admin/.postmortem.lock`. The order of writes keeps the
/// store consistent when a publisher is killed at any point: stored files first, then the
/// transaction file, `server.txt`, `history.txt`, and `lastid.txt` last, so that an
/// interrupted transaction is never recorded and its id is reused by the next one.
public struct StorePublisher: Sendable {
    /// Options of an `add` transaction (symstore's `/r`, `/t`, `/v`, `/c`, `/compress`, `/p`).
    public struct AddOptions: Sendable {
        /// Descend into sub-folders of folders given (`/r`).
        public var recursive = false
        /// Product name (`/t`).
        public var product = ""
        /// Version (`/v`).
        public var version = ""
        /// Comment (`/c`).
        public var comment = ""
        /// Store files as MSZIP cabinets (`/compress`): `foo.pd_`.
        public var compress = false
        /// Store a `file.ptr` naming the source path instead of a copy (`/p`).
        public var pointer = false
        /// Key casing.
        public var casing = KeyCasing.asIs
        /// The transaction's time in seconds since 1970 (now when nil).
        public var time: Int? = nil

        public init(
            recursive: Bool = false, product: String = "", version: String = "", comment: String = "", compress: Bool = false,
            pointer: Bool = false, casing: KeyCasing = .asIs, time: Int? = nil
        ) {
            self.recursive = recursive
            self.product = product
            self.version = version
            self.comment = comment
            self.compress = compress
            self.pointer = pointer
            self.casing = casing
            self.time = time
        }
    }

    /// What an `add` did.
    public struct AddResult: Sendable {
        /// The new transaction's id.
        public var transactionID: Int
        /// The entries written, in order.
        public var entries: [TransactionEntry]
        /// Files that were skipped because their kind is unknown.
        public var skipped: [SkippedFile]
    }

    /// A file `add` did not publish, and why.
    public struct SkippedFile: Sendable, Hashable {
        public var path: String
        public var reason: String
    }

    /// Errors of publishing.
    public enum PublishError: Error, Sendable, CustomStringConvertible {
        case io(String)
        case noFiles
        case unknownTransaction(Int)
        case malformedAdmin(String)

        public var description: String {
            switch self {
            case .io(let message): return message
            case .noFiles: return "no files to publish"
            case .unknownTransaction(let id): return "no live transaction \(TransactionID.format(id))"
            case .malformedAdmin(let message): return "000Admin: \(message)"
            }
        }
    }

    /// The store's root folder.
    public let root: String

    public init(root: String) {
        self.root = root
    }

    var adminFolder: String { root + "/000Admin" }

    /// Writes the files of entries that share one key folder, and the folder's refs.ptr after each.
    ///
    /// Files are not made durable one by one: the publisher syncs the file system once before it
    /// records the transaction.
    static func store(
        _ group: [(path: String, source: String, key: StoreKey, folder: String)], transaction id: Int, options: AddOptions,
        dosDate: UInt16, dosTime: UInt16
    ) throws(AtomicFiles.Failure) {
        guard let folder = group.first?.folder else { return }
        // A folder made now holds no refs.ptr to read.
        var references =
            try AtomicFiles.makeDirectories(folder)
            ? [] : (AtomicFiles.readText(folder + "/refs.ptr")).flatMap { try? StoreReference.parse($0) } ?? []
        for (path, source, key, _) in group {
            if options.pointer {
                try AtomicFiles.write(FilePointer.path(source).text, to: folder + "/file.ptr", durable: false)
            } else if options.compress {
                guard let contents = AtomicFiles.read(path) else {
                    throw AtomicFiles.Failure(description: "cannot read \(path)")
                }
                let cabinet = CabinetWriter.mszipCabinet(
                    name: key.storedName, contents: contents, dosDate: dosDate, dosTime: dosTime)
                try AtomicFiles.write(cabinet, to: folder + "/" + StoreKey.compressedName(key.storedName), durable: false)
            } else {
                try AtomicFiles.copy(from: path, to: folder + "/" + key.storedName, durable: false)
            }
            references.append(StoreReference(transactionID: id, isPointer: options.pointer, path: options.pointer ? source : ""))
            try AtomicFiles.write(references.map { $0.line + "\r\n" }.joined(), to: folder + "/refs.ptr", durable: false)
        }
    }

    // MARK: add

    /// Publishes `paths` (files, or folders whose files are published) as one transaction.
    public func add(_ paths: [String], options: AddOptions = AddOptions()) throws(PublishError) -> AddResult {
        var identified = [(path: String, identity: FileIdentity)]()
        var skipped = [SkippedFile]()
        for path in expand(paths, recursive: options.recursive) {
            do {
                identified.append((path, try FileIdentity.read(path: path)))
            } catch {
                skipped.append(SkippedFile(path: path, reason: "\(error)"))
            }
        }
        guard !identified.isEmpty else { throw .noFiles }
        let now = options.time ?? Int(time(nil))
        do {
            try AtomicFiles.makeDirectories(adminFolder)
            let lock = try StoreLock(path: adminFolder + "/.postmortem.lock")
            defer { withExtendedLifetime(lock) {} }
            let twoTier = AtomicFiles.exists(root + "/index2.txt")
            let id = try nextID()
            try dropUncommittedRecords(from: id)
            var entries = [TransactionEntry]()
            let (dosDate, dosTime) = Self.dosDateTime(now)
            // Entries of different key folders are independent: their folders are written on every core
            // (creating files and folders is most of a publish, and compression the rest of a compressed
            // one). Entries sharing a folder go in order, since each rewrites the folder's refs.ptr.
            var folders = [String: Int]()
            var groups = [[(path: String, source: String, key: StoreKey, folder: String)]]()
            for (path, identity) in identified {
                let key = StoreKey(identity, casing: options.casing)
                let folder =
                    root + "/" + (twoTier ? StoreKey.tierPrefix(key.fileName) + "/" : "") + key.fileName + "/" + key.index
                let source = Self.absolute(path)
                if let group = folders[folder] {
                    groups[group].append((path, source, key, folder))
                } else {
                    folders[folder] = groups.count
                    groups.append([(path, source, key, folder)])
                }
                entries.append(TransactionEntry(fileName: key.fileName, index: key.index, sourcePath: source))
            }
            let failure = FirstFailure()
            let work = groups
            DispatchQueue.concurrentPerform(iterations: groups.count) { index in
                guard !failure.happened else { return }
                do throws(AtomicFiles.Failure) {
                    try Self.store(
                        work[index], transaction: id, options: options, dosDate: dosDate, dosTime: dosTime)
                } catch {
                    failure.record(error)
                }
            }
            if let error = failure.error { throw error }
            try AtomicFiles.syncFileSystem(of: root)
            // Admin records last: the transaction file, the live list, the history, then the id.
            try AtomicFiles.write(entries.map { $0.line + "\n" }.joined(), to: adminFolder + "/" + TransactionID.format(id))
            let (date, clock) = Self.dateAndTime(now)
            let record = TransactionRecord(
                id: id,
                action: .add(
                    isPointer: options.pointer, date: date, time: clock, product: options.product, version: options.version,
                    comment: options.comment))
            try appendServerLine(record.line)
            try appendHistoryLine(record.line)
            try AtomicFiles.write(TransactionID.format(id), to: adminFolder + "/lastid.txt")
            try AtomicFiles.touch(root + "/pingme.txt", seconds: now)
            return AddResult(transactionID: id, entries: entries, skipped: skipped)
        } catch let error as PublishError {
            throw error
        } catch {
            throw .io("\(error)")
        }
    }

    // MARK: del

    /// Deletes the live transaction `id`: removes the files no other live transaction holds,
    /// drops it from `server.txt` and records `<new id>,del,<id>` in `history.txt`.
    /// Returns the id of the deletion.
    @discardableResult
    public func delete(transactionID id: Int, time: Int? = nil) throws(PublishError) -> Int {
        do {
            try AtomicFiles.makeDirectories(adminFolder)
            let lock = try StoreLock(path: adminFolder + "/.postmortem.lock")
            defer { withExtendedLifetime(lock) {} }
            let live = try transactions()
            guard live.contains(where: { $0.id == id }) else { throw PublishError.unknownTransaction(id) }
            let twoTier = AtomicFiles.exists(root + "/index2.txt")
            let deletedEntries = try entries(of: id)
            var stillHeld = Set<String>()
            for record in live where record.id != id {
                for entry in (try? entries(of: record.id)) ?? [] { stillHeld.insert(entry.fileName + "\\" + entry.index) }
            }
            let newID = try nextID()
            // Files first, so that a store killed here still lists the transaction and a
            // second `del` finishes the job.
            for entry in deletedEntries {
                let parent = root + "/" + (twoTier ? StoreKey.tierPrefix(entry.fileName) + "/" : "") + entry.fileName
                let folder = parent + "/" + entry.index
                if stillHeld.contains(entry.fileName + "\\" + entry.index) {
                    let references = (AtomicFiles.readText(folder + "/refs.ptr")).flatMap { try? StoreReference.parse($0) } ?? []
                    let kept = references.filter { $0.transactionID != id }
                    try AtomicFiles.write(kept.map { $0.line + "\r\n" }.joined(), to: folder + "/refs.ptr")
                } else {
                    AtomicFiles.removeTree(folder)
                    if AtomicFiles.listDirectory(parent).isEmpty { rmdir(parent) }
                }
            }
            let remaining = live.filter { $0.id != id }.sorted { $0.id < $1.id }
            let lineBreak = (AtomicFiles.readText(adminFolder + "/server.txt") ?? "").contains("\r\n") ? "\r\n" : "\n"
            try AtomicFiles.write(remaining.map { $0.line + lineBreak }.joined(), to: adminFolder + "/server.txt")
            // Like the symstore package: the deleted transaction's file is kept as `<id>.deleted`.
            let transactionFile = adminFolder + "/" + TransactionID.format(id)
            if AtomicFiles.exists(transactionFile) { rename(transactionFile, transactionFile + ".deleted") }
            try appendHistoryLine(TransactionRecord(id: newID, action: .delete(deletedID: id)).line)
            try AtomicFiles.write(TransactionID.format(newID), to: adminFolder + "/lastid.txt")
            try AtomicFiles.touch(root + "/pingme.txt", seconds: time ?? Int(Glibc.time(nil)))
            return newID
        } catch let error as PublishError {
            throw error
        } catch {
            throw .io("\(error)")
        }
    }

    // MARK: query

    /// The answer of `query` for one file.
    public struct QueryResult: Sendable, Hashable {
        /// The file asked about.
        public var path: String
        /// Its key, nil when the file is of no kind a store holds.
        public var key: StoreKey?
        /// What the store holds under the key, nil when nothing.
        public var hit: LocalSymbolStore.Hit?
    }

    /// Where each file would be stored, and whether the store holds it (symstore `query`).
    public func query(_ paths: [String], casing: KeyCasing = .asIs, recursive: Bool = false) -> [QueryResult] {
        let store = LocalSymbolStore(root: root)
        return expand(paths, recursive: recursive).map { path in
            guard let identity = try? FileIdentity.read(path: path) else { return QueryResult(path: path, key: nil, hit: nil) }
            let key = StoreKey(identity, casing: casing)
            return QueryResult(path: path, key: key, hit: (try? store.lookup(key)) ?? nil)
        }
    }

    /// The live transactions (`server.txt`).
    public func transactions() throws(PublishError) -> [TransactionRecord] {
        guard let text = AtomicFiles.readText(adminFolder + "/server.txt") else { return [] }
        do {
            return try TransactionRecord.parseAll(text)
        } catch {
            throw .malformedAdmin("server.txt \(error)")
        }
    }

    /// Every transaction ever recorded (`history.txt`).
    public func history() throws(PublishError) -> [TransactionRecord] {
        guard let text = AtomicFiles.readText(adminFolder + "/history.txt") else { return [] }
        do {
            return try TransactionRecord.parseAll(text)
        } catch {
            throw .malformedAdmin("history.txt \(error)")
        }
    }

    /// The entries of transaction `id` (`000Admin/<id>`).
    public func entries(of id: Int) throws(PublishError) -> [TransactionEntry] {
        guard let text = AtomicFiles.readText(adminFolder + "/" + TransactionID.format(id)) else {
            throw .malformedAdmin("transaction file \(TransactionID.format(id)) is missing")
        }
        do {
            return try TransactionEntry.parseAll(text)
        } catch {
            throw .malformedAdmin("\(TransactionID.format(id)) \(error)")
        }
    }

    // MARK: helpers

    func nextID() throws(PublishError) -> Int {
        guard let text = AtomicFiles.readText(adminFolder + "/lastid.txt") else { return 1 }
        guard let last = Int(text.trimmingSpaces), last >= 0, last < 9_999_999_999 else {
            throw .malformedAdmin("lastid.txt holds \(text.prefix(20))")
        }
        return last + 1
    }

    /// Drops the `server.txt` and `history.txt` lines of a transaction whose publisher was killed
    /// before it wrote `lastid.txt` (ids from `id` on), so that reusing the id does not list it
    /// twice (found by killing `symstore add` between the two writes).
    func dropUncommittedRecords(from id: Int) throws(AtomicFiles.Failure) {
        for name in ["server.txt", "history.txt"] {
            let path = adminFolder + "/" + name
            guard let text = AtomicFiles.readText(path) else { continue }
            // By scalar: "\r\n" is one Character, so splitting Characters on "\n" would miss it.
            let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map {
                String(String.UnicodeScalarView($0))
            }
            let kept = lines.filter { line in
                guard let first = Int(line.prefix { $0 != "," }) else { return true }
                return first < id
            }
            guard kept.count != lines.count else { continue }
            try AtomicFiles.write(kept.joined(separator: "\n"), to: path)
        }
    }

    /// `server.txt`: one line per live transaction, each ending in a line break.
    /// A file that already uses CR LF (a store another tool started) keeps using it.
    func appendServerLine(_ line: String) throws(AtomicFiles.Failure) {
        let path = adminFolder + "/server.txt"
        let existing = AtomicFiles.readText(path) ?? ""
        try AtomicFiles.write(existing + line + (existing.contains("\r\n") ? "\r\n" : "\n"), to: path)
    }

    /// `history.txt`: lines separated by line breaks, none after the last one, as the
    /// symstore package writes it (seen in the fixture store's `history.txt`).
    func appendHistoryLine(_ line: String) throws(AtomicFiles.Failure) {
        let path = adminFolder + "/history.txt"
        let existing = AtomicFiles.readText(path) ?? ""
        // By byte: "\r\n" is one Character, so `hasSuffix("\n")` would miss it.
        let separator = existing.isEmpty || existing.utf8.last == 0x0A ? "" : (existing.contains("\r\n") ? "\r\n" : "\n")
        try AtomicFiles.write(existing + separator + line, to: path)
    }

    /// Files named by `paths`: files as given, folders expanded (sub-folders when `recursive`).
    func expand(_ paths: [String], recursive: Bool) -> [String] {
        var files = [String]()
        for path in paths {
            if AtomicFiles.isDirectory(path) {
                for name in AtomicFiles.listDirectory(path) {
                    let child = path + "/" + name
                    if AtomicFiles.isDirectory(child) {
                        if recursive { files += expand([child], recursive: true) }
                    } else {
                        files.append(child)
                    }
                }
            } else {
                files.append(path)
            }
        }
        return files
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    static func localTime(_ seconds: Int) -> tm {
        var value = time_t(seconds)
        var parts = tm()
        localtime_r(&value, &parts)
        return parts
    }

    static func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `%m/%d/%Y` and `%H:%M:%S` in local time, as symstore writes them.
    static func dateAndTime(_ seconds: Int) -> (date: String, time: String) {
        let parts = localTime(seconds)
        let date = "\(twoDigits(parts.tm_mon + 1))/\(twoDigits(parts.tm_mday))/\(parts.tm_year + 1900)"
        let time = "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec))"
        return (date, time)
    }

    /// MS-DOS date and time of a moment (local time).
    static func dosDateTime(_ seconds: Int) -> (UInt16, UInt16) {
        let parts = localTime(seconds)
        let year = max(0, Int(parts.tm_year) + 1900 - 1980)
        let date = UInt16(truncatingIfNeeded: year << 9 | Int(parts.tm_mon + 1) << 5 | Int(parts.tm_mday))
        let time = UInt16(truncatingIfNeeded: Int(parts.tm_hour) << 11 | Int(parts.tm_min) << 5 | Int(parts.tm_sec) / 2)
        return (date, time)
    }
}

/// The first error of a concurrent publish; the other workers stop taking folders once it is set.
private final class FirstFailure: @unchecked Sendable {
    private let queue = DispatchQueue(label: "postmortem.publish.failure")
    private var first: AtomicFiles.Failure?

    func record(_ error: AtomicFiles.Failure) { queue.sync { if first == nil { first = error } } }

    var happened: Bool { queue.sync { first != nil } }

    var error: AtomicFiles.Failure? { queue.sync { first } }
}
