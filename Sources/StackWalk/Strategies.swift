/// Unwinding methods every architecture shares: Breakpad CFI, the frame-pointer chain and stack
/// scanning. Architecture unwinders call them in their own order and add their own sources.
extension StackWalker {
    /// The module containing `address` and the address's offset in it.
    public func moduleAndRVA(of address: UInt64) -> (module: WalkModule, rva: UInt64)? {
        guard let module = modules.module(containing: address) else { return nil }
        return (module, address - module.base)
    }

    /// A caller's register set with the callee-saved registers the callee still holds.
    func callerRegisters(preservedFrom callee: RegisterSet) -> RegisterSet {
        var registers = RegisterSet(architecture: architecture)
        for index in architecture.calleeSavedIndices { registers[index] = callee[index] }
        return registers
    }

    /// The caller recovered by the module's Breakpad `STACK CFI` rules at the callee's address.
    public func cfiCaller(of callee: StackFrame) -> StackFrame? {
        let address = callee.lookupAddress
        guard let (module, rva) = moduleAndRVA(of: address), let record = module.rules?.cfi(at: rva) else { return nil }
        let rules = CFIRuleSet(record: record, rva: rva)
        guard let recovered = rules.recover(callee: callee.registers, memory: memory) else { return nil }
        var registers = callerRegisters(preservedFrom: callee.registers)
        for (index, value) in recovered.registers { registers[index] = value }
        registers.sp = recovered.cfa
        registers.pc = stripPointerAuthentication(recovered.returnAddress)
        return StackFrame(registers: registers, trust: .cfi)
    }

    /// The caller found through the frame-pointer chain: the saved frame pointer at `[fp]`, the return
    /// address one word above it (x86, amd64 and arm64 frame records).
    public func framePointerCaller(of callee: StackFrame) -> StackFrame? {
        let word = UInt64(architecture.wordSize)
        guard let fp = callee.registers.fp, fp != 0, fp % word == 0 else { return nil }
        if let sp = callee.registers.sp, fp < sp { return nil }
        guard fp <= UInt64.max - 2 * word, let savedFP = memory.readWord(at: fp, size: Int(word)),
            let returnAddress = memory.readWord(at: fp + word, size: Int(word))
        else { return nil }
        let pc = stripPointerAuthentication(returnAddress)
        guard isPlausibleReturnAddress(pc) else { return nil }
        var registers = callerRegisters(preservedFrom: callee.registers)
        registers.fp = savedFP
        registers.sp = fp + 2 * word
        registers.pc = pc
        return StackFrame(registers: registers, trust: .framePointer)
    }

    /// The caller found by scanning the stack upward from `start` for a word that looks like a return
    /// address; the caller's stack pointer is just above that word.
    public func scanCaller(of callee: StackFrame, from start: UInt64? = nil, words: Int? = nil, trust: FrameTrust = .scan)
        -> StackFrame?
    {
        let word = UInt64(architecture.wordSize)
        guard let sp = start ?? callee.registers.sp else { return nil }
        let count = words ?? limits.maximumScanWords
        var slot = sp
        for _ in 0..<count {
            guard slot <= UInt64.max - word, let value = memory.readWord(at: slot, size: Int(word)) else { return nil }
            let candidate = stripPointerAuthentication(value)
            if isPlausibleReturnAddress(candidate) {
                var registers = callerRegisters(preservedFrom: callee.registers)
                registers.sp = slot + word
                registers.pc = candidate
                return StackFrame(registers: registers, trust: trust)
            }
            slot += word
        }
        return nil
    }

    /// Whether `address` can be a return address: inside a module, and inside a function when the
    /// module's symbols can tell.
    public func isPlausibleReturnAddress(_ address: UInt64) -> Bool {
        guard address >= 0x1000, let (module, rva) = moduleAndRVA(of: address) else { return false }
        // rva 0 is the image header, never code reached by a call.
        guard rva > 0 else { return false }
        if let known = module.rules?.hasFunction(at: rva - 1), !known { return false }
        return true
    }

    /// Removes ARM64 pointer-authentication bits: user-space addresses use at most 48 (or 52) bits, so
    /// anything above bit 55 that is not all ones is a signature, not part of the address.
    public func stripPointerAuthentication(_ address: UInt64) -> UInt64 {
        guard architecture == .arm64 else { return address }
        let top = address >> 48
        if top == 0 || top == 0xFFFF { return address }
        // Kernel addresses keep their high ones; user addresses lose the signature bits.
        return address & (1 << 55) != 0 ? address | 0xFFFF_0000_0000_0000 : address & 0x0000_FFFF_FFFF_FFFF
    }
}

extension StackArchitecture {
    /// Registers a callee must preserve, so a caller's value equals the callee's unless CFI says otherwise.
    public var calleeSavedIndices: [Int] {
        switch self {
        case .x86: [2, 3, 4, 5]  // ebp, ebx, esi, edi
        case .amd64: [3, 6, 12, 13, 14, 15]  // rbx, rbp, r12-r15
        case .arm: Array(4...11)
        case .arm64: Array(19...29)
        }
    }
}
