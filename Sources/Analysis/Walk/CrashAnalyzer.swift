import BinaryReading
import Foundation
import Minidump
import StackWalk
import Symbolication

/// Which threads `analyze` walks.
public enum ThreadSelection: String, Sendable, CaseIterable, Codable {
    /// Only the thread that crashed (all threads when none did).
    case crashing
    case all
}

/// What `analyze` is told: where symbols are, which threads, how much work a walk may do.
public struct AnalysisOptions: Sendable {
    public var locations: SymbolLocations
    public var threads: ThreadSelection
    public var limits: WalkLimits

    public init(
        locations: SymbolLocations = SymbolLocations(), threads: ThreadSelection = .all, limits: WalkLimits = WalkLimits()
    ) {
        self.locations = locations
        self.threads = threads
        self.limits = limits
    }
}

/// Why a dump could not be analyzed at all.
public struct AnalysisError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Turns a dump into a processed crash: every thread walked and symbolized, the crash explained,
/// the signature and bucket computed.
public enum CrashAnalyzer {
    /// Analyzes the minidump at `path`.
    public static func analyze(path: String, options: AnalysisOptions) async throws(AnalysisError) -> ProcessedCrash {
        let dump: MinidumpFile
        do {
            dump = try MinidumpFile(path: path)
        } catch {
            throw AnalysisError("\(path): \(error)")
        }
        return await analyze(minidump: dump, path: path, options: options)
    }

    /// Analyzes an opened minidump; `path` locates binaries stored beside it.
    public static func analyze(minidump dump: MinidumpFile, path: String, options: AnalysisOptions) async -> ProcessedCrash {
        let modules = (try? dump.stream(ModuleList.self))?.modules ?? []
        let memory = dump.memoryIndex()
        let resolved = await ModuleResolver.resolve(
            modules: modules, dumpPath: path, memory: memory, locations: options.locations)
        return process(minidump: dump, memory: memory, resolved: resolved, options: options)
    }

    /// The synchronous core: walks and symbolizes with modules already resolved (`resolved` in the
    /// order of the dump's module list). Threads are walked concurrently.
    public static func process(
        minidump dump: MinidumpFile, memory: MemoryIndex, resolved: [ResolvedModule], options: AnalysisOptions
    ) -> ProcessedCrash {
        var warnings = [String]()
        func read<S: MinidumpStream>(_ type: S.Type) -> S? {
            do {
                return try dump.stream(type)
            } catch {
                warnings.append("\(S.streamType): \(error)")
                return nil
            }
        }
        let system = read(SystemInfo.self)
        let modules = resolved.map(\.module)
        let unloaded = read(UnloadedModuleList.self)?.modules ?? []
        let threadList = read(ThreadList.self)?.threads ?? read(ThreadExList.self)?.threads ?? []
        let exception = read(ExceptionStream.self)
        let breakpadInfo = read(BreakpadInfo.self)
        let names = Dictionary(
            (read(ThreadNameList.self)?.names ?? []).map { ($0.threadId, $0.name) }, uniquingKeysWith: { first, _ in first })
        let width = pointerWidth(system: system, addresses: modules.map(\.endAddress))
        warnings += memory.warnings
        for module in resolved { warnings += module.warnings }
        let moduleSet = ModuleSet(resolved.map(\.walkModule))
        let symbolization = Symbolizer(modules: resolved, unloaded: unloaded, pointerWidth: width)

        // The crashing thread walks from the exception's context, the others from their own.
        let crashedThreadID = exception?.threadId
        let dumpThreadID = breakpadInfo?.validDumpThreadId
        var selected = threadList
        if options.threads == .crashing, let crashedThreadID, selected.contains(where: { $0.threadId == crashedThreadID }) {
            selected = selected.filter { $0.threadId == crashedThreadID }
        }
        let processor = system?.processorArchitecture
        var jobs = [(thread: Minidump.Thread, context: ThreadContext?, note: String?)]()
        for thread in selected {
            if thread.threadId == dumpThreadID, thread.threadId != crashedThreadID {
                jobs.append((thread, nil, "the thread that wrote the dump; its stack shows the dump writer, not the crash"))
                continue
            }
            let location =
                thread.threadId == crashedThreadID ? exception?.threadContext ?? thread.threadContext : thread.threadContext
            do {
                jobs.append((thread, try dump.threadContext(at: location, architecture: processor), nil))
            } catch {
                jobs.append((thread, nil, "its context cannot be read: \(error)"))
            }
        }
        let limits = options.limits
        let stackMemory = CapturedMemory(memory)
        let work = jobs
        let results = ResultSlots<ThreadReport>(count: work.count)
        DispatchQueue.concurrentPerform(iterations: work.count) { index in
            let job = work[index]
            var report = ThreadReport(
                threadId: job.thread.threadId, threadName: names[job.thread.threadId], frameCount: 0, frames: [],
                lastErrorValue: nil, warnings: job.note.map { [$0] })
            if let context = job.context {
                let registers = RegisterSet(context: context)
                let walker = StackWalker(
                    architecture: registers.architecture, modules: moduleSet, memory: stackMemory, limits: limits)
                let stack = walker.walk(context: registers)
                report.frames = stack.frames.enumerated().map { symbolization.report(frame: $1, index: $0) }
                report.frameCount = report.frames.count
                if !stack.warnings.isEmpty { report.warnings = (report.warnings ?? []) + stack.warnings }
            }
            results.set(index, report)
        }
        let reports = results.values

        let crashingIndex = crashedThreadID.flatMap { id in reports.firstIndex { $0.threadId == id } }
        let crashInfo = CrashInfo(
            type: exception.map { "0x" + hex($0.exceptionRecord.exceptionCode, width: 8) },
            address: exception.map { hex0x($0.exceptionRecord.exceptionAddress, width: width) },
            crashingThread: crashingIndex,
            exceptionCode: exception.map { hex0x($0.exceptionRecord.exceptionCode, width: 8) },
            exceptionParameters: exception.map { $0.exceptionRecord.parameters.map { hex0x($0, width: width) } })
        let systemDescription = SystemDescription(
            os: system?.platformId.description ?? "unknown",
            osVer: system.map { [$0.osVersion, $0.csdVersion].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ") },
            cpuArch: processor?.description ?? "unknown", cpuInfo: system?.cpuDescription,
            cpuCount: system.map { Int($0.numberOfProcessors) })
        let signature = crashingIndex.map { reports[$0].frames.first?.function ?? reports[$0].frames.first?.module ?? "" } ?? ""
        return ProcessedCrash(
            status: "OK", crashInfo: crashInfo, systemInfo: systemDescription, threadCount: reports.count, threads: reports,
            crashingThread: crashingIndex.map {
                CrashingThread(threadsIndex: $0, threadId: reports[$0].threadId, frames: reports[$0].frames)
            },
            mainModule: modules.isEmpty ? nil : 0,
            modules: resolved.map { symbolization.moduleReport($0) },
            unloadedModules: unloaded.map {
                UnloadedModuleReport(
                    baseAddr: hex0x($0.baseOfImage, width: width), endAddr: hex0x($0.endAddress, width: width),
                    filename: Module.baseName($0.name), codeId: $0.codeID)
            },
            signature: signature, werBucket: nil, warnings: warnings)
    }
}

/// Slots written once each by concurrent workers, read after they all finished.
final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return slots.compactMap { $0 }
    }
}

/// Names, lines and module offsets for walked frames.
struct Symbolizer: Sendable {
    let modules: [ResolvedModule]
    /// Indices into `modules` sorted by base address.
    let order: [Int]
    let unloaded: [UnloadedModule]
    let pointerWidth: Int

    init(modules: [ResolvedModule], unloaded: [UnloadedModule], pointerWidth: Int) {
        self.modules = modules
        order = modules.indices.sorted { modules[$0].module.baseOfImage < modules[$1].module.baseOfImage }
        self.unloaded = unloaded
        self.pointerWidth = pointerWidth
    }

    func module(containing address: UInt64) -> ResolvedModule? {
        var low = 0
        var high = order.count
        while low < high {
            let middle = (low + high) / 2
            if modules[order[middle]].module.baseOfImage <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let candidate = modules[order[low - 1]]
        return candidate.walkModule.contains(address) ? candidate : nil
    }

    func report(frame: StackFrame, index: Int) -> FrameReport {
        let address = frame.lookupAddress
        var report = FrameReport(
            frame: index, trust: frame.trust.rawValue, offset: hex0x(address, width: pointerWidth), missingSymbols: true)
        report.registers = Dictionary(
            frame.registers.recovered.map { ($0.name, hex0x($0.value, width: frame.registers.architecture.wordSize * 2)) },
            uniquingKeysWith: { first, _ in first })
        guard let module = module(containing: address) else {
            let inUnloaded = unloaded.filter { address >= $0.baseOfImage && address < $0.endAddress }.map {
                Module.baseName($0.name)
            }
            if !inUnloaded.isEmpty { report.unloadedModules = inUnloaded }
            return report
        }
        let rva = address - module.module.baseOfImage
        report.module = module.module.fileName
        report.moduleOffset = hex0x(rva, width: 8)
        report.missingSymbols = !module.hasSymbols
        guard let symbolizer = module.symbolizer else { return report }
        let found = symbolizer.frames(at: rva)
        guard let outer = found.last else { return report }
        report.function = outer.function
        report.functionOffset = hex0x(outer.functionOffset, width: 8)
        report.file = outer.file
        report.line = outer.line
        let inlined = found.dropLast()
        if !inlined.isEmpty {
            report.inlines = inlined.map { InlineFrame(function: $0.function, file: $0.file, line: $0.line) }
        }
        return report
    }

    func moduleReport(_ resolved: ResolvedModule) -> ModuleReport {
        let module = resolved.module
        return ModuleReport(
            baseAddr: hex0x(module.baseOfImage, width: pointerWidth), endAddr: hex0x(module.endAddress, width: pointerWidth),
            filename: module.fileName, codeId: ModuleIdentity(module: module).codeID,
            debugFile: module.codeView?.pdbName.map(Module.baseName), debugId: module.codeView?.debugID,
            version: module.versionInfo.isPresent ? module.versionInfo.fileVersion : nil,
            missingSymbols: !resolved.hasSymbols && !resolved.corruptSymbols, loadedSymbols: resolved.hasSymbols,
            corruptSymbols: resolved.corruptSymbols, symbolFile: resolved.symbolFile, binaryFile: resolved.binaryFile)
    }
}
