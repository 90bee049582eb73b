import Dispatch

/// Runs analyses on threads of their own.
///
/// The analyzer walks threads synchronously; on the shared concurrency pool (one thread per core)
/// that would stall request handling for as long as a walk takes. A task executor preference moves
/// the whole analysis, its child tasks included, onto this executor's dispatch queue.
@available(macOS 15, *)
final class AnalysisThreads: TaskExecutor, @unchecked Sendable {
    static let shared = AnalysisThreads()

    private let queue = DispatchQueue(label: "postmortem.analysis", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

/// Runs `body` with the analysis threads preferred (where task executors exist).
func offSharedPool<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    if #available(macOS 15, *) {
        return try await withTaskExecutorPreference(AnalysisThreads.shared) { try await body() }
    }
    return try await body()
}

/// Runs blocking work (file writes with fsync) on a dispatch thread, so the shared pool keeps serving.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
