import Analysis
import BreakpadSymbols
import Foundation
import Minidump
import PortableExecutable
import StackWalk
import TestSupport

/// Builds walker inputs from a real minidump, for the unwinder tests over the fixtures.
struct MinidumpWalkHarness {
    let dump: MinidumpFile
    let memory: CapturedMemory
    let architecture: StackArchitecture
    let modules: [Module]

    init(path: String) throws {
        dump = try MinidumpFile(path: path)
        memory = CapturedMemory(dump.memoryIndex())
        modules = try dump.stream(ModuleList.self)?.modules ?? []
        let system = try dump.stream(SystemInfo.self)
        switch system?.processorArchitecture {
        case .x86?, .x86OnWin64?: architecture = .x86
        case .amd64?: architecture = .amd64
        case .arm?: architecture = .arm
        default: architecture = .arm64
        }
    }

    /// Walk modules with symbols from `symbolFiles` (module file name → .sym path) and images from
    /// `images` (module file name → PE path); every module also gets its captured pages as an image
    /// when no file is given.
    func moduleSet(symbolFiles: [String: String] = [:], images: [String: String] = [:]) throws -> ModuleSet {
        var walkModules = [WalkModule]()
        for module in modules {
            let name = String(module.name.split(whereSeparator: { $0 == "\\" || $0 == "/" }).last ?? "")
            let rules = try symbolFiles[name].map { try SymbolFile(path: $0) }
            let image: any ModuleImage =
                try images[name].map { MappedPEImage(try PEImage(path: $0)) }
                ?? CapturedImage(memory: memory.index, base: module.baseOfImage)
            walkModules.append(
                WalkModule(base: module.baseOfImage, size: UInt64(module.sizeOfImage), name: name, rules: rules, image: image))
        }
        return ModuleSet(walkModules)
    }

    /// The context to walk for the thread `threadID`: the exception's context when that thread crashed.
    func context(threadID: UInt32) throws -> RegisterSet? {
        let processor = try dump.stream(SystemInfo.self)?.processorArchitecture
        if let exception = try dump.stream(ExceptionStream.self), exception.threadId == threadID {
            return RegisterSet(context: try dump.threadContext(at: exception.threadContext, architecture: processor))
        }
        guard let thread = try dump.stream(ThreadList.self)?.threads.first(where: { $0.threadId == threadID }) else { return nil }
        return RegisterSet(context: try dump.threadContext(at: thread.threadContext, architecture: processor))
    }

    /// Walks one thread.
    func walk(threadID: UInt32, modules: ModuleSet, limits: WalkLimits = WalkLimits()) throws -> WalkedStack? {
        guard let context = try context(threadID: threadID) else { return nil }
        return StackWalker(architecture: architecture, modules: modules, memory: memory, limits: limits).walk(context: context)
    }

    /// "module + 0xrva" for each frame's pc, for comparisons with golden outputs.
    func describe(_ stack: WalkedStack, modules: ModuleSet) -> [String] {
        stack.frames.map { frame in
            guard let module = modules.module(containing: frame.pc) else { return "0x" + String(frame.pc, radix: 16) }
            return module.name + " + 0x" + String(frame.pc - module.base, radix: 16) + " (" + frame.trust.rawValue + ")"
        }
    }
}
