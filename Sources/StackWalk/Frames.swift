/// How a frame was found, in the words of the minidump-stackwalk JSON schema.
public enum FrameTrust: String, Sendable, Codable, CaseIterable {
    /// The thread's own context (frame 0).
    case context
    /// Call frame information: Breakpad STACK CFI, STACK WIN/FPO programs, Windows unwind data.
    case cfi
    /// Stack scanning guided by CFI of the callee.
    case cfiScan = "cfi_scan"
    /// The frame-pointer chain.
    case framePointer = "frame_pointer"
    /// A plausible return address found by scanning the stack.
    case scan
    /// An inlined call, expanded from the symbols of a physical frame.
    case inline
    /// No trust at all (kept for readers of other tools' output).
    case none

    /// The phrase minidump_stackwalk prints after "Found by:".
    public var description: String {
        switch self {
        case .context: "given as instruction pointer in context"
        case .cfi: "call frame info"
        case .cfiScan: "call frame info with scanning"
        case .framePointer: "previous frame's frame pointer"
        case .scan: "stack scanning"
        case .inline: "inlining"
        case .none: "unknown"
        }
    }
}

/// One physical frame of a walked stack.
public struct StackFrame: Sendable, Equatable {
    /// The frame's registers: for frame 0 the context, for callers what unwinding recovered.
    public var registers: RegisterSet
    public var trust: FrameTrust

    public init(registers: RegisterSet, trust: FrameTrust) {
        self.registers = registers
        self.trust = trust
    }

    /// The program counter: for callers, the return address.
    public var pc: UInt64 { registers.pc ?? 0 }

    /// The address to symbolize: for callers an address inside the call instruction, so that a call
    /// that is the last instruction of a function (or of a line) is attributed to it rather than to what
    /// follows. x86 and amd64 step back one byte; ARM64 calls are 4 bytes; ARM return addresses carry
    /// the Thumb bit, which is cleared before stepping back over a 2-byte Thumb call (as Breakpad does).
    public var lookupAddress: UInt64 {
        guard trust != .context else { return pc }
        switch registers.architecture {
        case .x86, .amd64: return pc == 0 ? 0 : pc - 1
        case .arm64: return pc < 4 ? pc : pc - 4
        case .arm:
            let address = pc & ~1
            return address < 2 ? address : address - 2
        }
    }
}

/// Bounds on the work one walk may do.
public struct WalkLimits: Sendable, Equatable {
    /// Frames per thread.
    public var maximumFrames: Int
    /// Stack words examined per scan.
    public var maximumScanWords: Int
    /// Stack words examined per scan for frame 1, whose return address may lie deep below locals.
    public var maximumInitialScanWords: Int

    public init(maximumFrames: Int = 1024, maximumScanWords: Int = 40, maximumInitialScanWords: Int = 80) {
        self.maximumFrames = maximumFrames
        self.maximumScanWords = maximumScanWords
        self.maximumInitialScanWords = maximumInitialScanWords
    }
}

/// The result of walking one thread's stack.
public struct WalkedStack: Sendable, Equatable {
    public var frames: [StackFrame]
    /// Why the walk stopped early or what looked wrong (cycles, unreadable stack, the frame limit).
    public var warnings: [String]

    public init(frames: [StackFrame], warnings: [String]) {
        self.frames = frames
        self.warnings = warnings
    }
}
