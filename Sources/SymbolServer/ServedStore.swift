import Foundation
import SymbolStore
import Synchronization

/// One store root as the server sees it: paths are found case-insensitively and must
/// resolve, symlinks followed, to a regular file inside the root.
struct ServedStore: Sendable {
    let root: String
    /// Folder listings for case-insensitive matches, shared by every request to this store.
    private let listings: FolderListings

    init(root: String) {
        self.root = root
        listings = FolderListings()
    }

    /// The store root with symlinks resolved, used for the containment check.
    var resolvedRoot: String? {
        if let known = listings.resolvedRoot.withLock({ $0 }) { return known }
        guard let resolved = Self.realPath(root) else { return nil }
        listings.resolvedRoot.withLock { $0 = resolved }
        return resolved
    }

    /// The file stored at exactly `key` (no compressed or pointer fallback: SymSrv clients ask
    /// for `foo.pd_` and `file.ptr` themselves after a 404).
    func file(for key: StoreKey) -> ServedFile? {
        if Self.exists(root + "/index2.txt") {
            return resolve([StoreKey.tierPrefix(key.fileName), key.fileName, key.index, key.storedName])
        }
        return resolve([key.fileName, key.index, key.storedName])
    }

    /// The ELF file for a debuginfod request: `_.debug/elf-buildid-sym-<hex>/_.debug` for
    /// debug info, `<file>/elf-buildid-<hex>/<file>` for an executable; when the file name is
    /// unknown, the first-level folders (second-level in two-tier stores) are scanned for the key folder.
    func elfFile(buildID: String, debugInfo: Bool) -> ServedFile? {
        let index = debugInfo ? "elf-buildid-sym-\(buildID)" : "elf-buildid-\(buildID)"
        if debugInfo, let hit = file(for: StoreKey(fileName: "_.debug", index: index, storedName: "_.debug")) {
            return hit
        }
        let twoTier = Self.exists(root + "/index2.txt")
        var parents: [[String]] = [[]]
        if twoTier { parents = Self.entries(of: root).map { [$0] } }
        for parent in parents {
            let folder = ([root] + parent).joined(separator: "/")
            for name in Self.entries(of: folder) where !name.hasPrefix(".") && name != "000Admin" {
                // SSQP writes the key folder in lowercase, so it is probed exactly: listing every
                // file folder of a large store for each request would cost too much.
                guard Self.exists(folder + "/" + name + "/" + index) else { continue }
                if let hit = resolve(parent + [name, index, name]) { return hit }
            }
        }
        return nil
    }

    /// Walks `components` below the root, each matched exactly or else case-insensitively,
    /// and checks that the result is a regular file inside the root.
    ///
    /// Components never hold `/`, `.` or `..` (`RequestPath` refuses them), so a path made of
    /// them stays inside the root unless one of them is a symlink: only then is it resolved
    /// with `realpath` and checked against the resolved root.
    func resolve(_ components: [String]) -> ServedFile? {
        guard let base = resolvedRoot, !components.isEmpty else { return nil }
        var path = root
        var info = stat()
        var throughLink = false
        for component in components {
            var name = component
            if lstat(path + "/" + component, &info) != 0 {
                guard let match = listings.entry(in: path, matching: component),
                    lstat(path + "/" + match, &info) == 0
                else { return nil }
                name = match
            }
            path += "/" + name
            if info.st_mode & S_IFMT == S_IFLNK { throughLink = true }
        }
        if throughLink {
            guard let real = Self.realPath(path), real.hasPrefix(base.hasSuffix("/") ? base : base + "/"),
                stat(real, &info) == 0
            else { return nil }
            path = real
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        let nanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        return ServedFile(path: path, size: Int(info.st_size), modified: nanoseconds, inode: UInt64(info.st_ino))
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func entries(of folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Lowercased listings of store folders, each kept while the folder's modification time stays
/// the same: a miss or a request in other casing would otherwise list the folder every time,
/// and a store's top folder holds one entry per file name ever published.
///
/// File systems stamp modification times from a coarse clock (a few milliseconds), so a folder
/// changed just after it was listed can keep its time. A listing is therefore kept only when it
/// was read well after the folder's last change; a folder changed moments ago is listed again.
final class FolderListings: Sendable {
    private struct Listing {
        var modified: Int64
        /// Lowercased name → the first stored name (in sorted order) with that spelling.
        var names: [String: String]
    }

    /// Beyond this many folders the listings start over, which bounds the memory they hold.
    static let capacity = 4096
    /// How long after a folder's change its listing is trusted, in nanoseconds.
    static let settleTime: Int64 = 100_000_000
    private let listings = Mutex<[String: Listing]>([:])
    /// The store root with symlinks resolved, remembered once the root exists.
    let resolvedRoot = Mutex<String?>(nil)

    /// The entry of `folder` whose name equals `name` ignoring case, or nil.
    func entry(in folder: String, matching name: String) -> String? {
        var info = stat()
        guard stat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        let lower = name.lowercased()
        if let known = listings.withLock({ $0[folder] }), known.modified == modified { return known.names[lower] }
        var names = [String: String]()
        for entry in ServedStore.entries(of: folder) where names[entry.lowercased()] == nil {
            names[entry.lowercased()] = entry
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - modified > Self.settleTime {
            listings.withLock {
                if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
                $0[folder] = Listing(modified: modified, names: names)
            }
        }
        return names[lower]
    }
}

/// A regular file found in a store.
struct ServedFile: Sendable, Equatable {
    /// Its path, symlinks resolved where the request went through one.
    let path: String
    let size: Int
    /// Modification time in nanoseconds since 1970.
    let modified: Int64
    /// The inode, which tells a file replaced by rename from the one read before.
    var inode: UInt64 = 0

    /// A strong validator from size and modification time.
    var etag: String { "\"\(String(size, radix: 16))-\(String(modified, radix: 16))\"" }

    /// The modification time as an HTTP date (IMF-fixdate, RFC 9110 5.6.7).
    var lastModified: String {
        // Written by hand: a DateFormatter per request took 30% of the server's time on hits
        // (ICU builds its formatter anew), and one shared formatter is not thread-safe.
        var seconds = time_t(modified / 1_000_000_000)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "Thu, 01 Jan 1970 00:00:00 GMT" }
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
