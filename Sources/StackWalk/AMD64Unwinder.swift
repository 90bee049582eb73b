/// Finds callers on amd64: Breakpad CFI, then the frame-pointer chain, then stack scanning.
struct AMD64Unwinder: CallerUnwinder {
    func caller(of frames: [StackFrame], walker: StackWalker) -> StackFrame? {
        let callee = frames[frames.count - 1]
        if let frame = walker.cfiCaller(of: callee) { return frame }
        if let frame = walker.framePointerCaller(of: callee) { return frame }
        let words = frames.count == 1 ? walker.limits.maximumInitialScanWords : walker.limits.maximumScanWords
        return walker.scanCaller(of: callee, words: words)
    }
}
