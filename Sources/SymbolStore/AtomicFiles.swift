#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// File writes for publishing: each file appears whole (temp file, rename) or not at all.
///
/// Writes are durable one by one (fsync before the rename) unless `durable` is false; a publisher
/// writing many such files makes them durable together with `syncFileSystem(of:)` before it records
/// the transaction, one journal commit instead of one per file.
enum AtomicFiles {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func errnoText(_ path: String) -> String { "\(path): \(String(cString: strerror(errno)))" }

    /// Writes `bytes` to `path` through a temporary file in the same folder and `rename`.
    static func write(_ bytes: [UInt8], to path: String, durable: Bool = true) throws(Failure) {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: errnoText(temporary)) }
        var written = 0
        let ok: Bool = bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += result
            }
            return !durable || fsync(fd) == 0
        }
        close(fd)
        guard ok else {
            unlink(temporary)
            throw Failure(description: errnoText(path))
        }
        guard rename(temporary, path) == 0 else {
            let text = errnoText(path)
            unlink(temporary)
            throw Failure(description: text)
        }
    }

    /// Copies the file at `source` to `path` in 1 MiB pieces (never whole in memory),
    /// through a temporary file and `rename`.
    static func copy(from source: String, to path: String, durable: Bool = true) throws(Failure) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw Failure(description: errnoText(source)) }
        defer { close(input) }
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw Failure(description: errnoText(temporary)) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var failed: String?
        copying: while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failed = errnoText(source)
                break
            }
            if count == 0 { break }
            var written = 0
            while written < count {
                let result = chunk.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + written, count - written) }
                if result < 0 {
                    if errno == EINTR { continue }
                    failed = errnoText(temporary)
                    break copying
                }
                written += result
            }
        }
        if failed == nil && durable && fsync(output) != 0 { failed = errnoText(temporary) }
        close(output)
        if failed == nil && rename(temporary, path) != 0 { failed = errnoText(path) }
        if let failed {
            unlink(temporary)
            throw Failure(description: failed)
        }
    }

    /// Writes text as UTF-8.
    static func write(_ text: String, to path: String, durable: Bool = true) throws(Failure) {
        try write(Array(text.utf8), to: path, durable: durable)
    }

    /// Makes every write so far to the file system holding `path` durable, renames and new folders included.
    static func syncFileSystem(of path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: errnoText(path)) }
        defer { close(fd) }
        if let syncfs = syncFileSystemCall {
            guard syncfs(fd) == 0 else { throw Failure(description: errnoText(path)) }
        } else {
            sync()
        }
    }

    /// Linux's `syncfs(2)`, which the C library declares only for `_GNU_SOURCE` and Swift's Glibc
    /// module therefore leaves out; nil elsewhere, where `sync()` stands in for it.
    private static let syncFileSystemCall: (@convention(c) (Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
    }()

    /// Creates `path` and its missing parents; true when this call created `path` itself.
    @discardableResult
    static func makeDirectories(_ path: String) throws(Failure) -> Bool {
        // Most folders of a publish share all but their last one or two components with earlier
        // ones: try the folder itself first and climb only as far as parents are missing.
        if mkdir(path, 0o755) == 0 { return true }
        if errno == EEXIST { return false }
        guard errno == ENOENT else { throw Failure(description: errnoText(path)) }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        guard !parent.isEmpty, parent != path else { throw Failure(description: errnoText(path)) }
        try makeDirectories(parent)
        if mkdir(path, 0o755) == 0 { return true }
        guard errno == EEXIST else { throw Failure(description: errnoText(path)) }
        return false
    }

    /// The file's bytes, or nil when it does not exist.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            out += chunk[0..<count]
        }
        return out
    }

    static func readText(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Sets the file's access and modification times to `seconds` since 1970, creating it when missing.
    static func touch(_ path: String, seconds: Int) throws(Failure) {
        if !exists(path) { try write([UInt8](), to: path) }
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else { throw Failure(description: errnoText(path)) }
    }

    /// Removes a file or a folder tree.
    static func removeTree(_ path: String) {
        if isDirectory(path) {
            for name in listDirectory(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Names in a folder, without `.` and `..`, sorted.
    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// An exclusive `flock` on a file, held until `unlock`: publishers of one store serialize on it.
final class StoreLock {
    private let fd: Int32

    /// Blocks until the lock on `path` (created when missing) is held.
    init(path: String) throws(AtomicFiles.Failure) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AtomicFiles.Failure(description: AtomicFiles.errnoText(path)) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let text = AtomicFiles.errnoText(path)
            close(fd)
            throw AtomicFiles.Failure(description: text)
        }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
