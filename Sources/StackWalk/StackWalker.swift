/// Walks a thread's stack from its context to the outermost frame it can recover.
///
/// Each architecture's unwinder tries its sources in order (unwind data, CFI, frame pointer,
/// scanning) for one caller at a time; the walker owns the checks that keep a walk bounded and
/// honest: the frame limit, a stack pointer that must not go backwards, and repeated frames.
public struct StackWalker: Sendable {
    public let architecture: StackArchitecture
    public let modules: ModuleSet
    public let memory: any StackMemory
    public let limits: WalkLimits

    public init(architecture: StackArchitecture, modules: ModuleSet, memory: any StackMemory, limits: WalkLimits = WalkLimits()) {
        self.architecture = architecture
        self.modules = modules
        self.memory = memory
        self.limits = limits
    }

    /// Walks from `context`, the registers of the thread (or of the exception) at the crash.
    public func walk(context: RegisterSet) -> WalkedStack {
        var frames = [StackFrame(registers: context, trust: .context)]
        var warnings = [String]()
        guard context.pc != nil else {
            return WalkedStack(frames: frames, warnings: ["the context has no instruction pointer"])
        }
        let unwinder = Self.unwinder(for: architecture)
        var seen = Set<FramePosition>()
        seen.insert(FramePosition(frames[0]))
        while true {
            guard frames.count < limits.maximumFrames else {
                warnings.append("stopped at the limit of \(limits.maximumFrames) frames")
                break
            }
            guard let caller = unwinder.caller(of: frames, walker: self) else { break }
            guard let pc = caller.registers.pc, let sp = caller.registers.sp else { break }
            // A return address in the first page is the end of the chain (or garbage), never code.
            if pc < 0x1000 { break }
            let callee = frames[frames.count - 1]
            if let calleeSP = callee.registers.sp {
                if sp < calleeSP {
                    warnings.append(
                        "frame \(frames.count): the stack pointer went backwards (\(hex(sp)) below \(hex(calleeSP))); walk stopped"
                    )
                    break
                }
                // Only a leaf frame returning through the link register may leave the stack pointer unchanged.
                if sp == calleeSP, !(frames.count == 1 && architecture.lrIndex != nil) {
                    warnings.append("frame \(frames.count): the stack pointer did not move (\(hex(sp))); walk stopped")
                    break
                }
            }
            guard seen.insert(FramePosition(caller)).inserted else {
                warnings.append("frame \(frames.count): a cycle in the frame chain at pc \(hex(pc)), sp \(hex(sp)); walk stopped")
                break
            }
            frames.append(caller)
        }
        return WalkedStack(frames: frames, warnings: warnings)
    }

    static func unwinder(for architecture: StackArchitecture) -> any CallerUnwinder {
        switch architecture {
        case .x86: X86Unwinder()
        case .amd64: AMD64Unwinder()
        case .arm: ARMUnwinder()
        case .arm64: ARM64Unwinder()
        }
    }

    func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}

/// One architecture's way of finding the caller of the innermost frame in `frames`.
protocol CallerUnwinder: Sendable {
    /// The caller of `frames.last`, or nil when no source can recover one.
    func caller(of frames: [StackFrame], walker: StackWalker) -> StackFrame?
}

private struct FramePosition: Hashable {
    var pc: UInt64
    var sp: UInt64

    init(_ frame: StackFrame) {
        pc = frame.registers.pc ?? 0
        sp = frame.registers.sp ?? 0
    }
}
