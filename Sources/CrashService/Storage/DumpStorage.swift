import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a stored file is: a report's dump or one of its attachments. Names on disk come from these
/// generated ids only, never from anything a client sent.
public enum BlobKey: Sendable, Hashable {
    case dump(reportID: UUID)
    case attachment(reportID: UUID, index: Int)
}

/// Where dumps and attachments live: files under the data folder (`LocalDumpStorage`) or objects in
/// S3-compatible storage (`S3DumpStorage`).
public protocol DumpStorage: Sendable {
    /// Stores `bytes` under `key` durably: when this returns the file survives a crash of the machine.
    func put(_ bytes: Data, at key: BlobKey) async throws
    /// Runs `body` with a local path holding the stored file (the analyzer memory-maps files; remote
    /// storage downloads a temporary copy, removed afterwards); nil when no such file is stored.
    func withLocalFile<T: Sendable>(_ key: BlobKey, _ body: @Sendable (String) async throws -> T) async throws -> T?
    /// Deletes the stored file (retention); a file that is not stored is not an error, so a sweep
    /// interrupted half-way can simply run again.
    func delete(_ key: BlobKey) async throws
}

/// `DumpStorage` in a folder: `dumps/<2 hex>/<uuid>.dmp`, `attachments/<2 hex>/<uuid>/<index>`.
///
/// A file is written to `tmp/`, synced, renamed into place, and its folder synced, so it appears
/// whole or not at all and the rename itself is durable.
public struct LocalDumpStorage: DumpStorage {
    public let root: String

    /// Uses (and creates) `root`.
    public init(root: String) throws {
        self.root = root
        for folder in ["dumps", "attachments", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
    }

    func path(for key: BlobKey) -> String {
        switch key {
        case .dump(let id):
            let name = id.uuidString.lowercased()
            return "\(root)/dumps/\(name.prefix(2))/\(name).dmp"
        case .attachment(let id, let index):
            let name = id.uuidString.lowercased()
            return "\(root)/attachments/\(name.prefix(2))/\(name)/\(index)"
        }
    }

    /// The file's path, nil when it is not stored.
    public func localPath(for key: BlobKey) -> String? {
        let path = path(for: key)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    public func withLocalFile<T: Sendable>(_ key: BlobKey, _ body: @Sendable (String) async throws -> T) async throws -> T? {
        guard let path = localPath(for: key) else { return nil }
        return try await body(path)
    }

    public func put(_ bytes: Data, at key: BlobKey) async throws {
        // fsync blocks its thread: kept off the concurrency pool that serves requests.
        try await blocking { try write(bytes, at: key) }
    }

    public func delete(_ key: BlobKey) async throws {
        let path = path(for: key)
        try await blocking {
            guard unlink(path) == 0 || errno == ENOENT else {
                throw StorageError("unlink \(path): \(String(cString: strerror(errno)))")
            }
            // A report's attachments share a folder of their own; the last one out removes it (rmdir
            // refuses while others remain, which is what we want).
            if case .attachment = key { _ = rmdir((path as NSString).deletingLastPathComponent) }
        }
    }

    func write(_ bytes: Data, at key: BlobKey) throws {
        let destination = path(for: key)
        let folder = (destination as NSString).deletingLastPathComponent
        try makeDurableFolder(folder)
        let temporary = "\(root)/tmp/\(UUID().uuidString.lowercased())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw StorageError("cannot create \(temporary)")
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            defer { try? handle.close() }
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StorageError("rename to \(destination): \(reason)")
        }
        try syncFolder(folder)
    }

    /// Creates `folder` and its missing parents, syncing each parent so the new entries are durable.
    private func makeDurableFolder(_ folder: String) throws {
        guard !FileManager.default.fileExists(atPath: folder) else { return }
        let parent = (folder as NSString).deletingLastPathComponent
        try makeDurableFolder(parent)
        guard mkdir(folder, 0o755) == 0 else {
            // Another upload created it first; sync the parent anyway, since it may not have yet.
            if errno == EEXIST { return try syncFolder(parent) }
            throw StorageError("mkdir \(folder): \(String(cString: strerror(errno)))")
        }
        try syncFolder(parent)
    }

    private func syncFolder(_ folder: String) throws {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StorageError("open \(folder): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StorageError("fsync \(folder): \(String(cString: strerror(errno)))") }
    }
}

/// A storage operation that failed.
public struct StorageError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
