import PortableExecutable

extension StackWalker {
    /// The caller recovered from the module's Windows ARM64 unwind data (`.pdata` and `.xdata` read from
    /// the module's image), or nil when the module has no image, no entry covers the address, or the
    /// program cannot be undone with the memory at hand.
    public func windowsARM64Caller(of callee: StackFrame) -> StackFrame? {
        guard architecture == .arm64, let sp = callee.registers.sp else { return nil }
        let exact = callee.trust == .context
        let address = exact ? callee.pc : callee.lookupAddress
        guard let (module, rva64) = moduleAndRVA(of: address), let image = module.image, let rva = UInt32(exactly: rva64)
        else { return nil }
        let read: ARM64LoadedUnwindTable.ReadBytes = { image.bytes(atRVA: UInt64($0), count: $1) }
        guard let table = ARM64LoadedUnwindTable(read: read), let function = table.function(containing: rva, read: read),
            let unwind = try? table.unwind(for: function, read: read)
        else { return nil }
        let length: UInt32 =
            switch unwind {
            case .packed(let packed): packed.functionLength
            case .unpacked(let info): info.functionLength
            }
        let offset = rva - function.beginAddress
        guard offset < length else { return nil }
        // For a return address the call is the instruction before; unwind at the return address itself.
        let programOffset = exact ? offset : min(offset + 1, length - 1) & ~3
        let operations = WindowsARM64Program.operations(for: unwind, offset: programOffset, exactOffset: exact)
        var state = WindowsARM64State(registers: callee.registers, sp: sp)
        guard state.undo(operations, memory: memory) else { return nil }
        // Without a machine frame the caller resumes at the restored link register.
        guard let returnAddress = state.pc ?? state.registers[30] else { return nil }
        var registers = callerRegisters(preservedFrom: callee.registers)
        for index in 19...29 { registers[index] = state.registers[index] }
        registers.sp = state.sp
        registers.pc = stripPointerAuthentication(returnAddress)
        return StackFrame(registers: registers, trust: .cfi)
    }
}
