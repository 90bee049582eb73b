/// Finds callers on arm64: Windows unwind data, Breakpad CFI, the frame-record chain, the link
/// register for a leaf at the crash, then stack scanning.
struct ARM64Unwinder: CallerUnwinder {
    func caller(of frames: [StackFrame], walker: StackWalker) -> StackFrame? {
        let callee = frames[frames.count - 1]
        if let frame = walker.windowsARM64Caller(of: callee) { return frame }
        if let frame = walker.cfiCaller(of: callee) { return frame }
        // Without unwind rules the crashing function may be a leaf that never pushed a frame record: x29
        // then still names its caller's record, and only lr knows the caller. Trying lr first costs at
        // worst one extra frame of the crashing function itself (when it has called something since
        // its prolog); the chain then continues from the unchanged x29. Breakpad's arm64 walker takes
        // the caller's pc from lr in the same way.
        if frames.count == 1, let frame = walker.linkRegisterCaller(of: callee) { return frame }
        if let frame = walker.framePointerCaller(of: callee) { return frame }
        let words = frames.count == 1 ? walker.limits.maximumInitialScanWords : walker.limits.maximumScanWords
        return walker.scanCaller(of: callee, words: words)
    }
}

extension StackWalker {
    /// The caller of a leaf frame, reached through the link register: same stack pointer, same frame
    /// pointer, pc from lr (stripped of any pointer signature). Nil when lr is unknown, not a plausible
    /// return address, or lies in the same unwind range as the pc (then the frame is not a leaf).
    func linkRegisterCaller(of callee: StackFrame) -> StackFrame? {
        guard let lrIndex = architecture.lrIndex, let lr = callee.registers[lrIndex], let sp = callee.registers.sp else {
            return nil
        }
        var returnAddress = stripPointerAuthentication(lr)
        // A Thumb return address has its low bit set; the instruction itself is at the even address.
        if architecture == .arm { returnAddress &= ~1 }
        guard returnAddress != callee.pc & ~1, isPlausibleReturnAddress(returnAddress) else { return nil }
        if let (module, rva) = moduleAndRVA(of: callee.pc), let record = module.rules?.cfi(at: rva),
            modules.module(containing: returnAddress)?.base == module.base,
            returnAddress - module.base >= record.address, returnAddress - module.base - record.address < record.size
        {
            return nil
        }
        var registers = callerRegisters(preservedFrom: callee.registers)
        registers[architecture.fpIndex] = callee.registers[architecture.fpIndex]
        registers.sp = sp
        registers.pc = architecture == .arm ? lr : returnAddress
        return StackFrame(registers: registers, trust: .framePointer)
    }
}
