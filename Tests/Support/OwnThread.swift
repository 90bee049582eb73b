import Foundation
import Testing

/// Runs each test on a thread of its own instead of Swift's cooperative pool.
///
/// The cooperative pool has one thread per core (two on CI). Most tests are synchronous and
/// hold their thread while they parse fixtures or wait for an oracle process; two of them at
/// once left no thread for anything asynchronous, so an in-process server under test stopped
/// answering and its client timed out. CI lost a run that way: curl waited 20 s on a loopback
/// server that was idle only for want of a thread. With every test on its own thread the pool
/// stays free for the tasks servers and clients start, and the operating system shares the
/// cores among the tests.
///
/// Every suite carries this trait (`TestHygieneTests` checks it). At most `TestSlots.limit`
/// tests run at once, so the machine is not flooded with threads. A `.timeLimit` counts the wait
/// for a slot too, which can last most of a run: the limits are hang detectors of ten minutes.
public struct OwnThreadTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // Suites nest, and a recursive trait reaches a test once per enclosing suite that names it.
        guard testCase != nil, !Self.isRunning else { return try await function() }
        await TestSlots.shared.acquire()
        let executor = SingleThreadExecutor(name: test.name)
        defer {
            executor.finish()
            Task { await TestSlots.shared.release() }
        }
        try await Self.$isRunning.withValue(true) {
            try await withTaskExecutorPreference(executor) { try await function() }
        }
    }

    @TaskLocal private static var isRunning = false
}

extension Trait where Self == OwnThreadTrait {
    /// Runs each test on a thread of its own (see `OwnThreadTrait`).
    public static var ownThread: Self { Self() }
}

/// A task executor that runs its jobs on one thread, started for it.
final class SingleThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs = [UnownedJob]()
    private var finished = false
    private var threadExited = false

    init(name: String) {
        let thread = Thread { [self] in serve() }
        thread.name = String(name.prefix(60))
        // Fixture walks recurse; give the thread the stack a main thread would have.
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if threadExited {
            // A task that outlived its test and still prefers this executor: run it on a thread of
            // its own rather than losing it.
            condition.unlock()
            Thread { job.runSynchronously(on: self.asUnownedTaskExecutor()) }.start()
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once it has run every job enqueued so far.
    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                threadExited = true
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

/// Bounds how many tests run at once; waiting for a slot does not hold a thread.
actor TestSlots {
    /// Twice the cores: tests that wait on servers or child processes leave the cores free to others.
    static let limit = max(2, ProcessInfo.processInfo.activeProcessorCount * 2)
    static let shared = TestSlots()

    private var available = TestSlots.limit
    private var waiting = [CheckedContinuation<Void, Never>]()

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            available += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
