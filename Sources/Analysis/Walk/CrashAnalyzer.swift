import BinaryReading
import Foundation
import KernelDump
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
    /// Analyzes the dump at `path`: a minidump, a full user-mode dump (`USERDUMP`/`USERDU64`), a
    /// Windows kernel dump (`PAGEDUMP`/`PAGEDU64`) or an Android microdump.
    public static func analyze(path: String, options: AnalysisOptions) async throws(AnalysisError) -> ProcessedCrash {
        let contents: DumpContents
        do {
            let file = try MappedFile(path: path)
            if UserDumpHeader.matches(file.bytes) {
                contents = DumpContents(userDump: try UserDumpFile(bytes: file.bytes))
            } else if file.bytes.count >= 4, file.bytes.prefix(4).elementsEqual("PAGE".utf8) {
                contents = DumpContents(kernelDump: try KernelDumpFile(bytes: file.bytes))
            } else if Self.isMicrodump(file.bytes) {
                contents = DumpContents(microdump: try Microdump(parsing: file.bytes))
            } else {
                contents = DumpContents(minidump: try MinidumpFile(bytes: file.bytes))
            }
        } catch {
            throw AnalysisError("\(path): \(error)")
        }
        return await analyze(contents: contents, path: path, options: options)
    }

    /// Whether the file is an Android microdump: text whose first 64 KiB hold the BEGIN line.
    static func isMicrodump(_ bytes: ByteView) -> Bool {
        let marker = Array("-----BEGIN BREAKPAD MICRODUMP-----".utf8)
        let head = bytes.prefix(min(bytes.count, 64 << 10)).array
        guard head.count >= marker.count, !head.starts(with: Array("MDMP".utf8)) else { return false }
        return (0...(head.count - marker.count)).contains {
            head[$0] == marker[0] && head[$0..<($0 + marker.count)].elementsEqual(marker)
        }
    }

    /// Analyzes an opened minidump; `path` locates binaries stored beside it.
    public static func analyze(minidump dump: MinidumpFile, path: String, options: AnalysisOptions) async -> ProcessedCrash {
        await analyze(contents: DumpContents(minidump: dump), path: path, options: options)
    }

    /// Resolves the modules' binaries and symbols, then walks and symbolizes.
    public static func analyze(contents: DumpContents, path: String, options: AnalysisOptions) async -> ProcessedCrash {
        let resolved = await ModuleResolver.resolve(
            modules: contents.modules, dumpPath: path, memory: contents.memory, locations: options.locations)
        return process(contents: contents, resolved: resolved, options: options)
    }

    /// The synchronous core: walks and symbolizes with modules already resolved (`resolved` in the
    /// order of `contents.modules`). Threads are walked concurrently.
    public static func process(contents: DumpContents, resolved: [ResolvedModule], options: AnalysisOptions) -> ProcessedCrash {
        var warnings = contents.warnings
        for module in resolved { warnings += module.warnings }
        let width = contents.pointerWidth
        let moduleSet = ModuleSet(resolved.map(\.walkModule))
        let symbolization = Symbolizer(modules: resolved, unloaded: contents.unloaded, pointerWidth: width)
        let exception = contents.exception
        var selected = contents.threads
        if options.threads == .crashing, let crashed = exception?.threadId, selected.contains(where: { $0.threadId == crashed }) {
            selected = selected.filter { $0.threadId == crashed }
        }
        let limits = options.limits
        let memory = contents.memory
        let work = selected
        let results = ResultSlots<ThreadReport>(count: work.count)
        DispatchQueue.concurrentPerform(iterations: work.count) { index in
            let thread = work[index]
            var report = ThreadReport(
                threadId: thread.threadId, threadName: thread.name, frameCount: 0, frames: [],
                lastErrorValue: thread.teb.flatMap { Self.lastError(teb: $0, memory: memory, pointerWidth: width) },
                warnings: thread.note.map { [$0] })
            if let context = thread.context {
                let registers = RegisterSet(context: context)
                let walker = StackWalker(architecture: registers.architecture, modules: moduleSet, memory: memory, limits: limits)
                let stack = walker.walk(context: registers)
                report.frames = stack.frames.enumerated().map { symbolization.report(frame: $1, index: $0) }
                report.frameCount = report.frames.count
                if !stack.warnings.isEmpty { report.warnings = (report.warnings ?? []) + stack.warnings }
            }
            results.set(index, report)
        }
        let reports = results.values

        let crashingIndex = exception.flatMap { exception in reports.firstIndex { $0.threadId == exception.threadId } }
        let pointerSize = width / 2
        var crashInfo = CrashInfo(crashingThread: crashingIndex)
        if let exception {
            let reason = CrashReason(
                code: exception.code, flags: exception.flags, address: exception.address, parameters: exception.parameters,
                platform: contents.platform.map(CrashPlatform.init) ?? .other,
                architecture: contents.processor ?? (width == 16 ? .amd64 : .x86))
            crashInfo.type = reason.reason
            crashInfo.address = hex0x(reason.address, width: width)
            crashInfo.exceptionCode = hex0x(exception.code, width: 8)
            crashInfo.exceptionParameters = exception.parameters.map { hex0x($0, width: width) }
            let inUnloaded = contents.unloaded.filter { reason.address >= $0.baseOfImage && reason.address < $0.endAddress }
            if !inUnloaded.isEmpty { crashInfo.addressInUnloadedModules = inUnloaded.map { Module.baseName($0.name) } }
        }
        if let dump = contents.minidump {
            do {
                if let raw = try dump.stream(AssertionInfo.self) { crashInfo.assertion = CrashAssertion(raw).description }
            } catch {
                warnings.append("assertion stream: \(error)")
            }
        }
        if let bugCheck = contents.bugCheck {
            crashInfo.type = bugCheck.code.description
            crashInfo.exceptionCode = hex0x(bugCheck.code.rawValue, width: 8)
            crashInfo.exceptionParameters = bugCheck.parameters.map { hex0x($0, width: width) }
            crashInfo.crashingThread = reports.isEmpty ? nil : 0
        }

        // The signature reads the crashing thread's frames, inlined calls before the frame holding them.
        var signature = SignatureGenerator.noCrashingThread
        var decisions: [SignatureFrameDecision]?
        if let index = crashInfo.crashingThread, index < reports.count {
            let result = SignatureGenerator().generate(
                frames: reports[index].frames.flatMap(Self.signatureFrames), pointerSize: pointerSize)
            signature = result.signature
            decisions = result.frames
        }
        // The WER bucket: the faulting instruction, which is the exception address on Windows and the
        // crashing thread's instruction pointer elsewhere (where the exception address is the data).
        var bucket: WERBucket?
        if let exception {
            let faultAddress =
                contents.platform?.isWindows == true
                ? exception.address
                : crashInfo.crashingThread.flatMap { reports[$0].frames.first?.registers?[contents.processor?.pcName ?? ""] }
                    .flatMap { UInt64($0.dropFirst(2), radix: 16) } ?? exception.address
            let werModules = contents.modules.map(WERBucket.Module.init)
            bucket = WERBucket(
                main: werModules.first, modules: werModules, exceptionCode: contents.bugCheck?.code.rawValue ?? exception.code,
                faultAddress: faultAddress, pointerSize: pointerSize)
        }
        return ProcessedCrash(
            status: "OK", crashInfo: crashInfo, systemInfo: contents.system, threadCount: reports.count, threads: reports,
            crashingThread: crashingIndex.map {
                CrashingThread(threadsIndex: $0, threadId: reports[$0].threadId, frames: reports[$0].frames)
            },
            mainModule: contents.modules.isEmpty ? nil : 0,
            modules: resolved.map { symbolization.moduleReport($0) },
            unloadedModules: contents.unloaded.map {
                UnloadedModuleReport(
                    baseAddr: hex0x($0.baseOfImage, width: width), endAddr: hex0x($0.endAddress, width: width),
                    filename: Module.baseName($0.name), codeId: $0.codeID)
            },
            signature: signature, signatureFrames: decisions, werBucket: bucket, warnings: warnings)
    }
}

extension CrashAnalyzer {
    /// The thread's last Win32 error, named, when the dump captured its TEB: `LastErrorValue` sits at
    /// 0x68 in a 64-bit TEB and 0x34 in a 32-bit one.
    static func lastError(teb: UInt64, memory: any StackMemory, pointerWidth: Int) -> String? {
        let (address, overflow) = teb.addingReportingOverflow(pointerWidth == 16 ? 0x68 : 0x34)
        guard !overflow, let value = memory.readUInt32(at: address) else { return nil }
        return WindowsExceptionNames.errorName(value)
    }

    /// A physical frame as the signature sees it: its inlined calls (innermost first), then itself.
    static func signatureFrames(_ frame: FrameReport) -> [SignatureFrame] {
        let offset = UInt64(frame.offset.dropFirst(2), radix: 16) ?? 0
        let moduleOffset = frame.moduleOffset.flatMap { UInt64($0.dropFirst(2), radix: 16) }
        var frames = (frame.inlines ?? []).map {
            SignatureFrame(
                module: frame.module, function: $0.function, file: $0.file, line: $0.line.map { Int($0) },
                moduleOffset: moduleOffset, offset: offset, inlined: true)
        }
        frames.append(
            SignatureFrame(
                module: frame.module, function: frame.function, file: frame.file, line: frame.line.map { Int($0) },
                moduleOffset: moduleOffset, offset: offset, inlined: false))
        return frames
    }
}

extension ProcessorArchitecture {
    /// The name `RegisterSet` gives the instruction pointer.
    var pcName: String {
        switch self {
        case .x86, .x86OnWin64: "eip"
        case .amd64: "rip"
        default: "pc"
        }
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
        guard let index = lastIndex(in: order, atMost: address, key: { modules[$0].module.baseOfImage }) else { return nil }
        let candidate = modules[order[index]]
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
            debugFile: module.debugFile.map(Module.baseName), debugId: module.codeView?.debugID,
            version: module.versionInfo.isPresent ? module.versionInfo.fileVersion : nil,
            missingSymbols: !resolved.hasSymbols && !resolved.corruptSymbols, loadedSymbols: resolved.hasSymbols,
            corruptSymbols: resolved.corruptSymbols, symbolFile: resolved.symbolFile, binaryFile: resolved.binaryFile)
    }
}
