import Foundation
import SymbolStore

/// One store root as the server sees it: paths are found case-insensitively and must
/// resolve, symlinks followed, to a regular file inside the root.
struct ServedStore: Sendable {
    let root: String

    /// The store root with symlinks resolved, used for the containment check.
    var resolvedRoot: String? { Self.realPath(root) }

    /// The file stored at exactly `key` (no compressed or pointer fallback: SymSrv clients ask
    /// for `foo.pd_` and `file.ptr` themselves after a 404).
    func file(for key: StoreKey) -> ServedFile? {
        let twoTier = FileManager.default.fileExists(atPath: root + "/index2.txt")
        let components = key.relativePath(twoTier: twoTier).split(separator: "/").map(String.init)
        return resolve(components)
    }

    /// The ELF file for a debuginfod request: `_.debug/elf-buildid-sym-<hex>/_.debug` for
    /// debug info, `<file>/elf-buildid-<hex>/<file>` for an executable; when the file name is
    /// unknown, the first-level folders (second-level in two-tier stores) are scanned for the key folder.
    func elfFile(buildID: String, debugInfo: Bool) -> ServedFile? {
        let index = debugInfo ? "elf-buildid-sym-\(buildID)" : "elf-buildid-\(buildID)"
        if debugInfo, let hit = file(for: StoreKey(fileName: "_.debug", index: index, storedName: "_.debug")) {
            return hit
        }
        let twoTier = FileManager.default.fileExists(atPath: root + "/index2.txt")
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
    func resolve(_ components: [String]) -> ServedFile? {
        guard let base = resolvedRoot else { return nil }
        var path = root
        for component in components {
            let exact = path + "/" + component
            if Self.exists(exact) {
                path = exact
                continue
            }
            let lower = component.lowercased()
            guard let match = Self.entries(of: path).first(where: { $0.lowercased() == lower }) else { return nil }
            path += "/" + match
        }
        guard let real = Self.realPath(path), real.hasPrefix(base.hasSuffix("/") ? base : base + "/") else { return nil }
        var info = stat()
        guard stat(real, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        let nanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        return ServedFile(path: real, size: Int(info.st_size), modified: nanoseconds)
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

/// A regular file found in a store.
struct ServedFile: Sendable, Equatable {
    /// Its path with symlinks resolved.
    let path: String
    let size: Int
    /// Modification time in nanoseconds since 1970.
    let modified: Int64

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
