import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Small store files kept in memory, so that a hit is answered without a trip to the file I/O
/// thread pool.
///
/// An entry is used only while the file still has the size, modification time and inode it was
/// read with; every request stats the file first, so a file replaced in the store (publishers
/// write a new file and rename it over the old) is read again. Least recently used entries go
/// first once the cache holds more than its budget.
final class FileContentCache: Sendable {
    private struct Entry {
        var file: ServedFile
        var bytes: ByteBuffer
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var total = 0
        var clock: UInt64 = 0
    }

    /// The most bytes held; 0 turns the cache off.
    let budget: Int
    /// Larger files are streamed from disk and never held.
    let largestFile: Int
    private let state = Mutex(State())

    init(budget: Int, largestFile: Int = 1 << 20) {
        self.budget = max(0, budget)
        self.largestFile = min(largestFile, self.budget)
    }

    /// The bytes held now.
    var heldBytes: Int { state.withLock { $0.total } }

    /// Whether `file` is small enough to be held.
    func admits(_ file: ServedFile) -> Bool { file.size > 0 && file.size <= largestFile }

    /// The bytes of `file` when they are held and still current.
    func cached(_ file: ServedFile) -> ByteBuffer? {
        state.withLock { state in
            guard var entry = state.entries[file.path], entry.file == file else { return nil }
            state.clock &+= 1
            entry.lastUse = state.clock
            state.entries[file.path] = entry
            return entry.bytes
        }
    }

    /// The bytes of `file`, read on the file I/O thread pool and kept; nil when the file changed
    /// since it was found (the caller then streams it).
    func load(_ file: ServedFile) async -> ByteBuffer? {
        if let bytes = cached(file) { return bytes }
        guard admits(file) else { return nil }
        let bytes = try? await NIOThreadPool.singleton.runIfActive { Self.read(file) }
        guard let bytes = bytes ?? nil else { return nil }
        insert(file, bytes)
        return bytes
    }

    private func insert(_ file: ServedFile, _ bytes: ByteBuffer) {
        state.withLock { state in
            if let old = state.entries.removeValue(forKey: file.path) { state.total -= old.bytes.readableBytes }
            while state.total + bytes.readableBytes > budget, !state.entries.isEmpty {
                // A linear scan, paid only when the budget is full.
                guard let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) else { break }
                state.entries.removeValue(forKey: oldest.key)
                state.total -= oldest.value.bytes.readableBytes
            }
            state.clock &+= 1
            state.entries[file.path] = Entry(file: file, bytes: bytes, lastUse: state.clock)
            state.total += bytes.readableBytes
        }
    }

    /// The whole file, or nil when it is no longer the file that was found.
    private static func read(_ file: ServedFile) -> ByteBuffer? {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { return nil }
        defer { try? handle.close() }
        var info = stat()
        guard fstat(handle.fileDescriptor, &info) == 0, Int(info.st_size) == file.size, UInt64(info.st_ino) == file.inode,
            Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec) == file.modified,
            let data = try? handle.read(upToCount: file.size), data.count == file.size
        else { return nil }
        var buffer = ByteBufferAllocator().buffer(capacity: file.size)
        buffer.writeBytes(data)
        return buffer
    }
}
