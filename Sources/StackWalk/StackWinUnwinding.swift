import BreakpadSymbols

/// Parameter sizes of functions: the bytes of arguments a caller pushed, which a STACK WIN
/// program needs to find its own frame above the arguments its callee received.
public protocol X86ParameterSizes: Sendable {
    /// Bytes of stack parameters of the function at `rva`, nil when the symbols do not say.
    func parameterSize(at rva: UInt64) -> UInt64?
}

extension SymbolFile: X86ParameterSizes {
    /// The STACK WIN record's parameter size, else the FUNC's, else the nearest PUBLIC's (Breakpad's order).
    public func parameterSize(at rva: UInt64) -> UInt64? {
        if let record = stackWin(at: rva) { return record.parameterSize }
        if let function = function(at: rva) { return function.parameterSize }
        return publicSymbol(at: rva)?.parameterSize
    }
}

/// Recovery of an x86 caller from STACK WIN records (Windows FPO and FrameData), following the
/// semantics of Breakpad's x86 walker, which wrote the records' conventions.
///
/// A FrameData record carries a postfix program that assigns the caller's `$eip`, `$esp` and
/// possibly `$ebp`, `$ebx`, `$esi`, `$edi`. It reads the callee's `$esp`, `$ebp`, `$ebx` and these
/// constants: `.cbParams` (the function's parameter bytes), `.cbCalleeParams` (those of the
/// function it called, still on the stack), `.cbSavedRegs`, `.cbLocals`, and `.raSearchStart` =
/// `.raSearch`, where the return address should be: ESP plus the callee's parameters, the locals
/// and the saved registers. An FPO record without a program gets one written from its sizes.
extension StackWalker {
    /// The longest FrameData program evaluated (real ones are under 200 characters).
    static let maximumStackWinProgramLength = 4096

    /// Saved-register slots examined when looking for the caller's EBP after a doubtful recovery.
    static let maximumEBPSearchWords: UInt64 = 256

    /// The caller of `frames.last` from the STACK WIN record covering it, trusted as `cfi`; `cfi_scan`
    /// when its return address was not in a module and a scan above it found one; `scan` when the
    /// program failed and only a scan from ESP found one. Nil without a record.
    public func stackWinCaller(of frames: [StackFrame]) -> StackFrame? {
        guard architecture == .x86, let callee = frames.last, let esp = callee.registers.sp,
            let (module, rva) = moduleAndRVA(of: callee.lookupAddress), let record = module.rules?.stackWin(at: rva)
        else { return nil }
        let mask = Self.x86AddressMask
        let calleeParameters = frames.count >= 2 ? x86ParameterSize(of: frames[frames.count - 2]) : 0
        let savedRegisters = record.savedRegisterSize & mask
        let locals = record.localSize & mask
        let calleeEBP = callee.registers.fp
        let calleeEBX = callee.registers["ebx"]

        var raSearchStart = x86Add(x86Add(x86Add(esp, calleeParameters), locals), savedRegisters)
        let computedStart = raSearchStart
        // The stack may have been aligned to 8 bytes below the return address: look up to 3 words higher.
        if let (location, found) = x86FindReturnAddress(from: raSearchStart, words: 4) {
            raSearchStart = location
            // An FPO system call stub (ntdll's KiFastSystemCallRet on XP, seen by Breakpad) returns
            // with its own address still on top of the stack: skip it and look again.
            if callee.trust == .context, record.type == StackWinRecord.fpo, location == computedStart, found == callee.pc {
                raSearchStart = x86Add(raSearchStart, 4)
                if let (next, _) = x86FindReturnAddress(from: raSearchStart, words: 4) { raSearchStart = next }
            }
        }

        var recoversEBP = true
        let program: String
        if let text = record.programString, !text.isEmpty {
            guard text.utf8.count <= Self.maximumStackWinProgramLength else { return nil }
            program = Self.normalizedStackWinProgram(text)
        } else if record.allocatesBasePointer {
            // EBP is saved at the bottom of the saved-register area, just above the callee's arguments.
            program = "$eip .raSearchStart ^ = $ebp $esp .cbCalleeParams + .cbSavedRegs + 8 - ^ = $esp .raSearchStart 4 + ="
        } else {
            // EBP is not touched, so the caller's is the callee's. EBX is carried through too: the
            // ntdll forwarders of this kind leave it alone, and some walks need it (Breakpad).
            program = "$eip .raSearchStart ^ = $esp .raSearchStart 4 + =" + (calleeEBX != nil ? " $ebx $ebx =" : "")
            recoversEBP = false
        }
        // A program that aligns the stack (`@`) makes ESP useless for finding the frame; EBP then
        // points at the saved EBP just below the return address.
        if let calleeEBP, program.contains("@") { raSearchStart = x86Add(calleeEBP, 4) }

        let constants: [Substring: UInt64] = [
            ".cbCalleeParams": calleeParameters, ".cbSavedRegs": savedRegisters, ".cbLocals": locals,
            ".cbParams": record.parameterSize & mask, ".raSearchStart": raSearchStart, ".raSearch": raSearchStart,
        ]
        var evaluator = PostfixEvaluator(memory: memory, wordSize: 4) { name in
            switch name {
            case "$esp", "$21": esp
            case "$ebp", "$22": calleeEBP
            case "$ebx", "$20": calleeEBX
            default: constants[name]
            }
        }
        var trust = FrameTrust.cfi
        var eip: UInt64
        var callerESP: UInt64
        if evaluator.execute(program), let assignedEIP = evaluator.assigned["$eip"], let assignedESP = evaluator.assigned["$esp"]
        {
            eip = assignedEIP
            callerESP = assignedESP
        } else {
            // The program could not run (EBP outside the stack, a module whose records do not fit the
            // code): a return address found by scanning from ESP is the best left.
            guard let (location, address) = x86FindReturnAddress(from: esp, words: x86ScanWords(for: callee)) else {
                return nil
            }
            eip = address
            callerESP = location + 4
            trust = .scan
        }
        var ebp = evaluator.assigned["$ebp"] ?? evaluator.assigned["$22"] ?? calleeEBP

        // Both zero is how the outermost frame ends the chain; anything else is checked.
        if eip != 0 || (ebp ?? 1) != 0 {
            var offset: UInt64 = 0
            if modules.module(containing: eip) == nil {
                let start = x86Add(raSearchStart, 4)
                if let (location, address) = x86FindReturnAddress(from: start, words: x86ScanWords(for: callee)) {
                    eip = address
                    callerESP = location + 4
                    offset = location &- start
                    trust = .cfiScan
                }
            }
            if recoversEBP {
                ebp = x86RecoveredEBP(
                    ebp, trust: trust, raSearchEnd: x86Add(raSearchStart, offset),
                    savedArea: (start: x86Add(esp, calleeParameters), size: x86Add(savedRegisters, offset)))
            }
        }

        // Callee-saved registers the program does not mention keep the callee's values (as
        // rust-minidump reports them); a frame found by scanning keeps nothing it cannot vouch for.
        var registers = trust == .scan ? RegisterSet(architecture: .x86) : callerRegisters(preservedFrom: callee.registers)
        for (name, number) in Self.x86SavedRegisterNumbers {
            if let value = evaluator.assigned["$" + name] ?? evaluator.assigned[number] { registers[name] = value }
        }
        registers.pc = eip
        registers.sp = callerESP
        registers.fp = ebp
        return StackFrame(registers: registers, trust: trust)
    }

    /// The caller's EBP after a STACK WIN recovery. When frames may have been skipped (EBP below the
    /// return address) or EBP does not point into captured memory, the saved-register area is
    /// searched from its top down for a word that does, since prologues save EBP first.
    func x86RecoveredEBP(_ ebp: UInt64?, trust: FrameTrust, raSearchEnd: UInt64, savedArea: (start: UInt64, size: UInt64))
        -> UInt64?
    {
        let skippedFrames = trust != .cfi && (ebp ?? 0) <= raSearchEnd
        if !skippedFrames, let ebp, memory.readUInt32(at: ebp) != nil { return ebp }
        // Absurd sizes from damaged records would make the search long: keep to its lowest slots.
        let size = min(savedArea.size, Self.maximumEBPSearchWords * 4)
        var location = savedArea.start + size
        while location >= savedArea.start, location <= Self.x86AddressMask - 3 {
            guard let candidate = memory.readUInt32(at: location) else { break }
            if memory.readUInt32(at: UInt64(candidate)) != nil { return UInt64(candidate) }
            guard location >= 4 else { break }
            location -= 4
        }
        return ebp
    }

    /// The callee-saved registers a program may restore, with their CodeView numbers
    /// (`CV_REG_EBX` = 20, `CV_REG_ESI` = 23, `CV_REG_EDI` = 24). Recent MSVC linkers write FrameData
    /// programs that assign `$20`, `$23` and `$24` instead of the names (seen in the kdlibcpp
    /// targetapp.pdb of its cv_allreg i386 dump); ESP and EBP (21, 22) are read under their
    /// numbers too.
    static let x86SavedRegisterNumbers = [("ebx", "$20"), ("esi", "$23"), ("edi", "$24")]

    /// The stack parameter bytes of the function `frame` is in, 0 when unknown.
    func x86ParameterSize(of frame: StackFrame) -> UInt64 {
        guard let (module, rva) = moduleAndRVA(of: frame.lookupAddress), let rules = module.rules else { return 0 }
        if let record = rules.stackWin(at: rva) { return record.parameterSize & Self.x86AddressMask }
        if let sizes = rules as? any X86ParameterSizes, let size = sizes.parameterSize(at: rva) {
            return size & Self.x86AddressMask
        }
        return 0
    }

    /// Splits `=name` tokens into `=` and `name`: some Windows toolchains leave out the blank after
    /// an assignment (rust-minidump met such FrameData strings).
    static func normalizedStackWinProgram(_ program: String) -> String {
        guard program.contains(where: { $0 == "=" }) else { return program }
        return program.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { token in
            token.count > 1 && token.hasPrefix("=") ? "= " + token.dropFirst() : String(token)
        }.joined(separator: " ")
    }
}
