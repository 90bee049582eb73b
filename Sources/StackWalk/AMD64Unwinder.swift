/// Finds callers on amd64: Windows x64 unwind data, then Breakpad CFI, then the frame-pointer chain
/// (not on Windows), then stack scanning.
///
/// The frame-pointer and scanning heuristics are rust-minidump's (which follow Breakpad's), so walks
/// without unwind data match what minidump-stackwalk prints: those frames recover only rip, rsp and
/// (when it can be trusted) rbp.
struct AMD64Unwinder: CallerUnwinder {
    /// The frame pointer is trusted to lead to the next frame within this many bytes when a scan
    /// recovers it (rust-minidump's bound; generous for x64 frames).
    static let maximumFrameGap: UInt64 = 128 * 1024

    func caller(of frames: [StackFrame], walker: StackWalker) -> StackFrame? {
        let callee = frames[frames.count - 1]
        // Unwind data is trusted as it stands, except for a return address that no code can have
        // (seen in Breakpad's linux_overflow.dmp, where a smashed stack feeds CFI ASCII text).
        if let frame = walker.windowsX64Caller(of: callee), !StackWalker.isNonCanonical(frame.pc) { return frame }
        if let frame = walker.cfiCaller(of: callee), !StackWalker.isNonCanonical(frame.pc) { return frame }
        // On Windows the frame register may point anywhere into the frame (UNWIND_INFO.FrameOffset),
        // so a bare rbp chain proves nothing there.
        if !walker.hasWindowsX64Modules, let frame = walker.amd64FramePointerCaller(of: callee) { return frame }
        // The context frame's locals may hide the first return address deep down: scan further there.
        let words = callee.trust == .context ? walker.limits.maximumInitialScanWords : walker.limits.maximumScanWords
        return walker.amd64ScanCaller(of: callee, words: words)
    }
}

extension StackWalker {
    /// The caller found by Windows x64 unwind data in the callee's module image: the epilog when
    /// frame 0 stands in one, else the unwind codes of its `RUNTIME_FUNCTION`, else (no entry) a
    /// leaf function's return address at `[rsp]`.
    func windowsX64Caller(of callee: StackFrame) -> StackFrame? {
        guard let moduleIndex = modules.index(containing: callee.lookupAddress) else { return nil }
        let module = modules.modules[moduleIndex]
        let table = windowsX64FunctionTable(module: moduleIndex)
        let lookupRVA = callee.lookupAddress - module.base
        let registers: RegisterSet?
        switch table.lookup(rva: lookupRVA) {
        case .unknown:
            return nil
        case .leaf:
            registers = WindowsX64Unwind.unwindLeaf(callee: callee.registers, memory: memory)
        case .function(let function):
            guard let image = table.image, let chain = try? image.unwindChain(for: function), let primary = chain.first else {
                return nil
            }
            let functionStart = module.base &+ UInt64(function.beginAddress)
            let prologOffset = callee.pc &- functionStart
            // Only the context frame can stand in an epilog: a caller's pc is a return address, and
            // the codes describe the stack after a call the same way an epilog would.
            if callee.trust == .context, prologOffset >= UInt64(primary.sizeOfProlog),
                function.endAddress > function.beginAddress
            {
                let remaining = UInt64(function.endAddress) - min(UInt64(function.endAddress), lookupRVA)
                let count = Int(min(UInt64(WindowsX64Epilog.codeWindow), remaining))
                if count > 0, let code = module.image?.bytes(atRVA: lookupRVA, count: count) {
                    switch WindowsX64Epilog.unwind(
                        code: code, pc: callee.pc, functionStart: functionStart,
                        functionEnd: module.base &+ UInt64(function.endAddress), frameRegister: primary.frameRegister,
                        callee: callee.registers, memory: memory)
                    {
                    case .unwound(let caller): return StackFrame(registers: caller, trust: .cfi)
                    case .failed: return nil
                    case .notEpilog: break
                    }
                }
            }
            registers = WindowsX64Unwind.unwind(
                chain: chain, prologOffset: prologOffset, callee: callee.registers, memory: memory)
        }
        return registers.map { StackFrame(registers: $0, trust: .cfi) }
    }

    /// The caller through the rbp chain, with rust-minidump's checks: the frame pointers and stack
    /// pointers must be ordered, the caller's rbp must point at readable memory, and the return
    /// address must be canonical. The caller knows only rip, rsp and rbp.
    func amd64FramePointerCaller(of callee: StackFrame) -> StackFrame? {
        guard let fp = callee.registers.fp, let sp = callee.registers.sp, fp <= UInt64.max - 16,
            let callerPC = memory.readUInt64(at: fp + 8), let callerFP = memory.readUInt64(at: fp)
        else { return nil }
        let callerSP = fp + 16
        guard callerFP >= callerSP, memory.readUInt64(at: callerFP) != nil, !Self.isNonCanonical(callerPC),
            callerSP > sp, memory.readUInt64(at: callerSP) != nil
        else { return nil }
        var registers = RegisterSet(architecture: .amd64)
        registers.pc = callerPC
        registers.sp = callerSP
        registers.fp = callerFP
        return StackFrame(registers: registers, trust: .framePointer)
    }

    /// The caller found by scanning up from rsp for a plausible return address. rbp is carried over
    /// when the callee seems to have saved it just below the return address (a standard frame) or
    /// not to have touched it (it still points above the caller's stack pointer).
    func amd64ScanCaller(of callee: StackFrame, words: Int) -> StackFrame? {
        guard let sp = callee.registers.sp else { return nil }
        let calleeFP = callee.registers.fp
        for index in 0..<UInt64(max(0, words)) {
            let (offset, overflow) = index.multipliedReportingOverflow(by: 8)
            let (slot, overflow2) = sp.addingReportingOverflow(offset)
            guard !overflow, !overflow2, slot <= UInt64.max - 8, let candidate = memory.readUInt64(at: slot) else { return nil }
            guard !Self.isNonCanonical(candidate), candidate != 0, isPlausibleReturnAddress(candidate) else { continue }
            let callerSP = slot + 8
            var callerFP: UInt64?
            // On the first word there is no room for a saved frame pointer below the return address.
            if let calleeFP, index > 0 {
                let savedFPSlot = slot - 8
                if let savedFP = memory.readUInt64(at: savedFPSlot), calleeFP == savedFPSlot, savedFP > slot,
                    savedFP - savedFPSlot <= AMD64Unwinder.maximumFrameGap
                {
                    if memory.readUInt64(at: savedFP) != nil { callerFP = savedFP }
                } else if calleeFP >= callerSP {
                    callerFP = calleeFP
                }
            }
            var registers = RegisterSet(architecture: .amd64)
            registers.pc = candidate
            registers.sp = callerSP
            registers.fp = callerFP
            return StackFrame(registers: registers, trust: .scan)
        }
        return nil
    }

    /// Whether `address` lies in the hole between the lower and upper halves of a 48-bit address
    /// space, where no code or stack can be.
    static func isNonCanonical(_ address: UInt64) -> Bool {
        address > 0x7FFF_FFFF_FFFF && address < 0xFFFF_8000_0000_0000
    }
}
