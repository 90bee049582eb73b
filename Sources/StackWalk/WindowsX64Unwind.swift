import PortableExecutable

/// One frame of Windows x64 unwinding by `UNWIND_INFO` codes, as `RtlVirtualUnwind` does it: undo
/// the prolog operations that have run, then pop the return address (or a machine frame).
///
/// Semantics follow Microsoft's "x64 exception handling" documentation: codes are stored latest
/// first; a code takes effect once the pc is at or past its `CodeOffset` (only in the primary
/// function — a chained parent's prolog has always run); saved registers are found relative to the
/// establisher frame, which is the frame register minus 16 × `FrameOffset` once `UWOP_SET_FPREG`
/// has run, else the stack pointer.
enum WindowsX64Unwind {
    /// Walker register index of each unwind-code register number (RAX, RCX, RDX, RBX, RSP, RBP,
    /// RSI, RDI, R8-R15); the walker orders them rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8-r15.
    static let registerIndex: [Int] = [0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15]
    /// Registers the Windows x64 convention preserves across calls: rbx, rbp, rsi, rdi, r12-r15.
    static let nonvolatileIndices = [3, 4, 5, 6, 12, 13, 14, 15]
    /// The register indices of rsp and rip.
    static let rsp = 7
    static let rip = 16

    /// The walker index of an unwind-code register.
    static func index(of register: X64Register) -> Int? {
        register.rawValue < 16 ? registerIndex[Int(register.rawValue)] : nil
    }

    /// A caller's register set holding the nonvolatile registers of `registers` that are known.
    static func nonvolatile(of registers: RegisterSet) -> RegisterSet {
        var caller = RegisterSet(architecture: .amd64)
        for index in nonvolatileIndices { caller[index] = registers[index] }
        return caller
    }

    /// The caller of a frame without unwind info (a leaf function): nothing was pushed but the
    /// return address.
    static func unwindLeaf(callee: RegisterSet, memory: any StackMemory) -> RegisterSet? {
        guard let sp = callee[rsp], let returnAddress = memory.readUInt64(at: sp) else { return nil }
        var caller = nonvolatile(of: callee)
        caller[rip] = returnAddress
        caller[rsp] = sp &+ 8
        return caller
    }

    /// The establisher frame of `primary` at `prologOffset` bytes into its function.
    static func establisherFrame(primary: X64UnwindInfo, prologOffset: UInt64, registers: RegisterSet) -> UInt64? {
        guard let frameRegister = primary.frameRegister else { return registers[rsp] }
        let established: Bool
        if prologOffset >= UInt64(primary.sizeOfProlog) || primary.flags.contains(.chainInfo) {
            established = true
        } else if let setFP = primary.codes.first(where: { $0.operation == .setFramePointer }) {
            established = prologOffset >= UInt64(setFP.codeOffset)
        } else {
            established = false
        }
        guard established else { return registers[rsp] }
        guard let index = index(of: frameRegister), let value = registers[index] else { return nil }
        return value &- UInt64(primary.frameOffset) &* 16
    }

    /// The caller's registers after undoing `chain` (primary first) for a pc `prologOffset` bytes
    /// into the primary function; nil when a needed register or stack word is unknown.
    static func unwind(chain: [X64UnwindInfo], prologOffset: UInt64, callee: RegisterSet, memory: any StackMemory)
        -> RegisterSet?
    {
        guard let primary = chain.first,
            let frameBase = establisherFrame(primary: primary, prologOffset: prologOffset, registers: callee),
            var sp = callee[rsp]
        else { return nil }
        var context = callee
        for (position, info) in chain.enumerated() {
            let executedUpTo = position == 0 ? prologOffset : UInt64.max
            for code in info.codes where UInt64(code.codeOffset) <= executedUpTo {
                switch code.operation {
                case .pushNonvolatile(let register):
                    guard let value = memory.readUInt64(at: sp) else { return nil }
                    if let index = index(of: register), index != rsp { context[index] = value }
                    sp = sp &+ 8
                case .allocate(let size):
                    sp = sp &+ UInt64(size)
                case .setFramePointer:
                    guard let frameRegister = info.frameRegister, let index = index(of: frameRegister),
                        let value = context[index]
                    else { return nil }
                    sp = value &- UInt64(info.frameOffset) &* 16
                case .saveNonvolatile(let register, let offset):
                    guard let value = memory.readUInt64(at: frameBase &+ UInt64(offset)) else { return nil }
                    if let index = index(of: register), index != rsp { context[index] = value }
                case .pushMachineFrame(let withErrorCode):
                    // The processor pushed SS, RSP, EFLAGS, CS and RIP (and maybe an error code): the
                    // caller resumes at the interrupted instruction with the interrupted stack.
                    let base = withErrorCode ? sp &+ 8 : sp
                    guard let interruptedPC = memory.readUInt64(at: base),
                        let interruptedSP = memory.readUInt64(at: base &+ 24)
                    else { return nil }
                    var caller = nonvolatile(of: context)
                    caller[rip] = interruptedPC
                    caller[rsp] = interruptedSP
                    return caller
                case .saveXMM128, .epilog, .spare:
                    // XMM registers are not tracked; epilog descriptors and spare slots move nothing.
                    break
                }
            }
        }
        guard let returnAddress = memory.readUInt64(at: sp) else { return nil }
        var caller = nonvolatile(of: context)
        caller[rip] = returnAddress
        caller[rsp] = sp &+ 8
        return caller
    }
}
