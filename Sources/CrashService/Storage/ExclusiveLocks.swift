import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock` of a file, taken without blocking a thread: tasks of one process exclude each
/// other too, since each opens the file anew.
struct FileLock {
    private let descriptor: Int32

    /// Why a lock was not had.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Waits until the lock on `path` (created when missing) is held, polling; throws after `timeout`.
    static func acquire(_ path: String, timeout: Duration) async throws -> FileLock {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        let deadline = ContinuousClock.now + timeout
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            guard error == EWOULDBLOCK || error == EINTR, ContinuousClock.now < deadline, !Task.isCancelled else {
                close(descriptor)
                throw Failure(
                    description:
                        "cannot lock \(path): \(error == EWOULDBLOCK ? "held too long" : String(cString: strerror(error)))")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return FileLock(descriptor: descriptor)
    }

    /// Releases the lock.
    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// One holder at a time among the tasks of this process, first come first served: taken before the
/// lock other processes see, so that waiting tasks hold no database connection and poll no file.
actor TaskLock {
    private var held = false
    private var waiters = [CheckedContinuation<Void, Never>]()

    func acquire() async {
        guard held else {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        // The lock passes straight to the first waiter, so none can be overtaken.
        if waiters.isEmpty { held = false } else { waiters.removeFirst().resume() }
    }

    /// One lock per `ServiceLock`.
    static func table() -> [ServiceLock: TaskLock] {
        Dictionary(uniqueKeysWithValues: ServiceLock.allCases.map { ($0, TaskLock()) })
    }
}

/// Runs `body`, in the caller's isolation, as the only holder of `lock`.
func withTaskLock<T: Sendable>(
    _ lock: TaskLock, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
) async throws -> T {
    await lock.acquire()
    do {
        let value = try await body()
        await lock.release()
        return value
    } catch {
        await lock.release()
        throw error
    }
}
