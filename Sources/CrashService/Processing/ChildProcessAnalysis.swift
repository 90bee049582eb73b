import Analysis
import Foundation

/// Where a worker runs each analysis.
public enum AnalysisIsolation: Sendable, Equatable {
    /// On this process's analysis threads. No process start per dump, but a dump that makes the
    /// analyzer trap ends the whole worker, and a hung analysis keeps its thread until the process ends.
    case inProcess
    /// In a child process per dump, `executable analyze --json …` (a `postmortem` executable): a
    /// trap ends that process only, and one that overruns the timeout is killed.
    case childProcess(executable: String)
}

/// One analysis in a child `postmortem analyze --json` process.
struct ChildProcessAnalysis: Sendable {
    let executable: String
    let options: AnalysisOptions
    /// The most anonymous memory (heap and stacks, not the mapped dump) the child may hold, in
    /// MiB, before it is killed; nil for no limit.
    var memoryLimitMB: Int? = nil
    /// Variables set for the child on top of this process's (the object storage's endpoint and credentials).
    var environment: [String: String] = [:]

    /// The `postmortem analyze` arguments that search what `options` names, for the dump at `dump`.
    static func arguments(options: AnalysisOptions, dump: String) -> [String] {
        let locations = options.locations
        var arguments = ["analyze", "--json", "--threads", options.threads.rawValue]
        arguments += ["--symbol-path", locations.symbolPath.text]
        let executables = locations.executablePath.entries.map { entry in
            switch entry {
            case .folder(let folder): return folder
            case .symbolServer(let text): return text
            }
        }
        if !executables.isEmpty { arguments += ["--exe-path", executables.joined(separator: ";")] }
        for mapping in locations.executablePath.mappings {
            arguments += ["--map-path", mapping.windowsPrefix + "=" + mapping.localFolder]
        }
        let timeout = locations.fetch.readTimeout.components.seconds
        if timeout > 0 { arguments += ["--timeout", String(timeout)] }
        return arguments + ["--", dump]
    }

    /// Runs the analysis of `dump`, killing the process once `timeout` has passed.
    func run(dump: String, timeout: Duration) async -> CrashWorker.Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Self.arguments(options: options, dump: dump)
        // The paths are passed explicitly; the variables would only add their entries a second time.
        var environment = ProcessInfo.processInfo.environment
        environment["_NT_EXECUTABLE_IMAGE_PATH"] = nil
        environment.merge(self.environment) { _, given in given }
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .transient("cannot start the analysis process \(executable): \(error)")
        }
        let watchdog = Watchdog(process: process)
        let limitKB = memoryLimitMB.map { $0 << 10 }
        let timer = Task {
            // The limit is watched from here rather than set in the child with setrlimit: a child
            // whose thread creation fails under RLIMIT_DATA waits in libdispatch forever instead of
            // failing, and a parent's check names the cause.
            let deadline = ContinuousClock.now + timeout
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if now >= deadline {
                    watchdog.expire()
                    return
                }
                guard let limitKB else {
                    try? await Task.sleep(until: deadline)
                    continue
                }
                if let used = Self.anonymousMemoryKB(of: process.processIdentifier), used > limitKB {
                    watchdog.exceed(usedKB: used)
                    return
                }
                try? await Task.sleep(for: min(.milliseconds(50), deadline - now))
            }
        }
        // Both pipes are drained at once, so a large report cannot block the child on a full pipe.
        let drained = try? await blocking {
            nonisolated(unsafe) var stderr = Data()
            let group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async {
                stderr = errors.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            let stdout = output.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            watchdog.exited()
            return (stdout, stderr)
        }
        let (stdout, stderr) = drained ?? (Data(), Data())
        timer.cancel()
        if let used = watchdog.exceededKB, let memoryLimitMB {
            // The same dump drives the analysis to the same size every time: not worth a retry.
            return .unreadable("the analysis used more than \(memoryLimitMB) MiB (\(used >> 10) MiB) and was stopped")
        }
        return Self.outcome(
            reason: process.terminationReason, status: process.terminationStatus, timedOut: watchdog.didExpire,
            stdout: stdout, stderr: stderr, dump: dump)
    }

    /// What the child's end says about the dump.
    static func outcome(
        reason: Process.TerminationReason, status: Int32, timedOut: Bool, stdout: Data, stderr: Data, dump: String
    ) -> CrashWorker.Outcome {
        let message = lastLine(of: stderr, dump: dump)
        if timedOut { return .timedOut }
        if reason == .uncaughtSignal {
            let name = signalName(status)
            return .unreadable("the analysis crashed (signal \(status), \(name))" + (message.isEmpty ? "" : ": \(message)"))
        }
        switch status {
        case 0:
            do {
                return .done(try JSONDecoder().decode(ProcessedCrash.self, from: stdout))
            } catch {
                return .transient("the analysis process printed no readable report: \(error)")
            }
        case 1:
            // Exit status 1 is malformed input: the same dump fails the same way on every attempt.
            return .unreadable(message.isEmpty ? "the dump cannot be analyzed" : message)
        default:
            return .transient("the analysis process exited with status \(status)" + (message.isEmpty ? "" : ": \(message)"))
        }
    }

    /// The child's last line on stderr, without the `postmortem: ` and dump path prefixes it prints.
    static func lastLine(of stderr: Data, dump: String) -> String {
        let text = String(decoding: stderr, as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }) else {
            return ""
        }
        var trimmed = String(line)
        for prefix in ["postmortem: ", dump + ": "] where trimmed.hasPrefix(prefix) { trimmed.removeFirst(prefix.count) }
        return String(trimmed.prefix(500))
    }

    /// The process's resident anonymous memory (`RssAnon` in /proc/PID/status) in KiB, or nil
    /// when it cannot be read (the process is gone, or the system has no /proc).
    static func anonymousMemoryKB(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            // "RssAnon:\t   1234 kB"
            return line.dropFirst("RssAnon:".count).split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
        }
        return nil
    }

    static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [
            SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
            SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM", SIGSYS: "SIGSYS", SIGXCPU: "SIGXCPU",
        ]
        return names[number] ?? "signal \(number)"
    }
}

/// Kills a child that overruns its time or memory, unless it has already been reaped (its pid may be reused).
private final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private let process: Process
    private var reaped = false
    private var expired = false
    private var exceeded: Int?

    init(process: Process) { self.process = process }

    func expire() {
        lock.withLock {
            guard !reaped, process.isRunning else { return }
            expired = true
            kill(process.processIdentifier, SIGKILL)
        }
    }

    /// Kills a child found holding `usedKB` of memory, over its limit.
    func exceed(usedKB: Int) {
        lock.withLock {
            guard !reaped, process.isRunning else { return }
            exceeded = usedKB
            kill(process.processIdentifier, SIGKILL)
        }
    }

    func exited() { lock.withLock { reaped = true } }

    /// The memory the child held when it was killed for it, in KiB.
    var exceededKB: Int? { lock.withLock { exceeded } }

    var didExpire: Bool { lock.withLock { expired } }
}
