import Foundation
import SymbolStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The files of a downstream store: each appears whole under its key or not at all.
///
/// Downloads and copies go to `<store>/.tmp/` (same file system, so `rename` is atomic)
/// and are renamed into `<file>/<key>/<file>` only once complete.
struct CacheStore: Sendable, Hashable {
    /// The store's root folder.
    var root: String

    /// The absolute path of `key` in this store (two-tier when `index2.txt` exists).
    func path(of key: StoreKey) -> String {
        root + "/" + key.relativePath(twoTier: LocalSymbolStore(root: root).isTwoTier)
    }

    /// A fresh temporary file name in `<root>/.tmp/` (the folder is created).
    func temporaryPath() throws(DownloadError) -> String {
        let folder = root + "/.tmp"
        try Self.makeDirectories(folder)
        return folder + "/\(getpid())-\(UUID().uuidString).part"
    }

    /// Moves the complete file at `temporary` to `key`'s place, replacing any older copy.
    func install(_ temporary: String, as key: StoreKey) throws(DownloadError) -> String {
        let target = path(of: key)
        try Self.makeDirectories((target as NSString).deletingLastPathComponent)
        guard rename(temporary, target) == 0 else {
            let text = String(cString: strerror(errno))
            unlink(temporary)
            throw .local("\(target): \(text)")
        }
        return target
    }

    /// Writes `bytes` as `key` through a temporary file.
    func write(_ bytes: [UInt8], as key: StoreKey) throws(DownloadError) -> String {
        let temporary = try temporaryPath()
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw .local("\(temporary): cannot write")
        }
        return try install(temporary, as: key)
    }

    /// Copies the file at `source` in as `key` through a temporary file.
    func copy(from source: String, as key: StoreKey) throws(DownloadError) -> String {
        let temporary = try temporaryPath()
        do {
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
        } catch {
            unlink(temporary)
            throw .local("copying \(source): \(error)")
        }
        return try install(temporary, as: key)
    }

    static func makeDirectories(_ path: String) throws(DownloadError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .local("\(path): \(error)")
        }
    }
}

/// Misses remembered per key in a downstream store: `<store>/.misses/<file>/<key>/<file>` holds
/// the Unix time of the miss and the server asked, so a key no server has is not asked for
/// again until the entry is older than the configured lifetime.
struct NegativeCache: Sendable {
    var store: CacheStore

    func entryPath(_ key: StoreKey) -> String {
        store.root + "/.misses/" + key.path
    }

    /// Whether a miss of `key` on `server` was recorded less than `lifetime` ago.
    func isFreshMiss(_ key: StoreKey, server: String, lifetime: Duration, now: Date = Date()) -> Bool {
        guard lifetime > .zero, let data = FileManager.default.contents(atPath: entryPath(key)) else { return false }
        let fields = String(decoding: data, as: UTF8.self).split(separator: " ", maxSplits: 1)
        guard fields.count == 2, let time = Double(fields[0]),
            String(fields[1]).trimmingCharacters(in: .whitespacesAndNewlines) == server
        else { return false }
        let age = now.timeIntervalSince1970 - time
        return age >= 0 && age < Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
    }

    /// Records a miss of `key` on `server` now (atomically; failures only lose the memo).
    func recordMiss(_ key: StoreKey, server: String, now: Date = Date()) {
        let path = entryPath(key)
        let folder = (path as NSString).deletingLastPathComponent
        guard (try? CacheStore.makeDirectories(folder)) != nil, let temporary = try? store.temporaryPath() else { return }
        let text = "\(Int64(now.timeIntervalSince1970)) \(server)\n"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// Forgets a miss (the file was found after all).
    func clear(_ key: StoreKey) {
        unlink(entryPath(key))
    }
}
