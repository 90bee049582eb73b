/// Finds callers on 32-bit arm: Breakpad CFI, the link register for a leaf at the crash, the
/// frame-pointer chain (r7 in Thumb code, r11 in ARM code), then stack scanning.
struct ARMUnwinder: CallerUnwinder {
    /// r7: the frame pointer of Thumb code (Apple, Android and Windows Thumb-2).
    static let thumbFramePointer = 7
    /// r11: the frame pointer of ARM-mode code (AAPCS).
    static let armFramePointer = 11

    func caller(of frames: [StackFrame], walker: StackWalker) -> StackFrame? {
        let callee = frames[frames.count - 1]
        if let frame = walker.cfiCaller(of: callee) { return frame }
        // See ARM64Unwinder: without rules, lr is the only witness of a leaf's caller.
        if frames.count == 1, let frame = walker.linkRegisterCaller(of: callee) { return frame }
        if let frame = Self.framePointerCaller(of: callee, walker: walker) { return frame }
        let words = frames.count == 1 ? walker.limits.maximumInitialScanWords : walker.limits.maximumScanWords
        return walker.scanCaller(of: callee, words: words)
    }

    /// The caller through a frame record `{saved fp, lr}`. Breakpad's arm walker uses a frame pointer only
    /// for iOS (r7); Android and Linux code built with frame pointers keeps the same record, in r7 for
    /// Thumb code (an odd pc) and in r11 for ARM code. GCC's ARM-mode record instead has fp pointing at
    /// the saved lr with the saved fp below it; it is tried last.
    static func framePointerCaller(of callee: StackFrame, walker: StackWalker) -> StackFrame? {
        let thumb = callee.pc & 1 != 0
        let order = thumb ? [thumbFramePointer, armFramePointer] : [armFramePointer, thumbFramePointer]
        for register in order {
            if let frame = frameRecordCaller(of: callee, register: register, savedFPOffset: 0, walker: walker) { return frame }
        }
        return frameRecordCaller(of: callee, register: armFramePointer, savedFPOffset: -4, walker: walker)
    }

    /// The record at `fp + savedFPOffset` holds the caller's fp, the word after it the return address.
    static func frameRecordCaller(of callee: StackFrame, register: Int, savedFPOffset: Int64, walker: StackWalker)
        -> StackFrame?
    {
        guard let fp = callee.registers[register], let sp = callee.registers.sp, fp >= sp, fp % 4 == 0, fp >= 4,
            fp <= UInt64(UInt32.max) - 8
        else { return nil }
        let record = savedFPOffset < 0 ? fp - 4 : fp
        guard let savedFP = walker.memory.readUInt32(at: record), let returnAddress = walker.memory.readUInt32(at: record + 4)
        else { return nil }
        // The caller's record lies higher on the stack, or the chain ends with 0.
        guard savedFP == 0 || UInt64(savedFP) > fp, walker.isPlausibleReturnAddress(UInt64(returnAddress) & ~1) else {
            return nil
        }
        var registers = walker.callerRegisters(preservedFrom: callee.registers)
        registers[register] = UInt64(savedFP)
        registers.sp = record + 8
        registers.pc = UInt64(returnAddress)
        return StackFrame(registers: registers, trust: .framePointer)
    }
}
