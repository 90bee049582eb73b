/// Finds callers on 32-bit x86. In order:
/// 1. the STACK WIN record of the callee's function (FrameData program or FPO sizes) — `cfi`;
/// 2. Breakpad STACK CFI — `cfi`;
/// 3. the EBP chain — `frame_pointer`, when the return address it gives lies in a module, or when
///    it reaches the zeroed EBP and return address that end a Windows thread's chain;
/// 4. stack scanning for a return address that follows a call — `scan`;
/// 5. the EBP chain even into code outside every module (JIT code, unlisted modules) — `frame_pointer`.
struct X86Unwinder: CallerUnwinder {
    func caller(of frames: [StackFrame], walker: StackWalker) -> StackFrame? {
        let callee = frames[frames.count - 1]
        if let frame = walker.stackWinCaller(of: frames) { return frame }
        if let frame = walker.cfiCaller(of: callee) { return frame }
        let chained = walker.x86FramePointerCaller(of: callee)
        if let chained, walker.isPlausibleReturnAddress(chained.pc) || chained.isEndOfX86Chain { return chained }
        if let frame = walker.x86ScanCaller(of: callee) { return frame }
        return chained
    }
}

extension StackFrame {
    /// A frame whose EBP and return address are both zero: where RtlUserThreadStart ends the EBP
    /// chain (seen in every Windows x86 dump of the fixtures), so the walk is over rather than a
    /// reason to scan on into the thread's start arguments.
    var isEndOfX86Chain: Bool { registers.pc == 0 && registers.fp == 0 }
}
