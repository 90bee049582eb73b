/// The x86 walker's own frame-pointer and scanning methods: stricter than the shared ones where
/// 32-bit Windows code needs it (return addresses checked against the call instruction before
/// them, the EBP chain restored after a scan).
extension StackWalker {
    /// Addresses are 32 bits wide; every sum of a register and a size from symbols wraps there.
    static let x86AddressMask: UInt64 = 0xFFFF_FFFF

    /// The largest gap between a scanned return address and the saved EBP it implies, as Breakpad
    /// measured it: 99.5% of the frames of popular libraries are smaller than 128 KiB.
    static let x86MaximumFrameGap: UInt64 = 128 * 1024

    /// `a + b` on 32 bits.
    func x86Add(_ a: UInt64, _ b: UInt64) -> UInt64 { (a &+ b) & Self.x86AddressMask }

    /// Whether `address` can be a return address on x86: plausible for the module and its symbols,
    /// and, when the module's code is at hand, right after a call instruction.
    public func x86SeemsReturnAddress(_ address: UInt64) -> Bool {
        guard isPlausibleReturnAddress(address) else { return false }
        return x86FollowsCall(address) ?? true
    }

    /// Whether the bytes before `address` end with a `call` (E8 rel32, or FF /2 with any ModRM form);
    /// nil when the module's image does not have those bytes.
    public func x86FollowsCall(_ address: UInt64) -> Bool? {
        guard let (module, rva) = moduleAndRVA(of: address), let image = module.image else { return nil }
        // The longest near call is 7 bytes (FF /2 with a SIB byte and a 32-bit displacement); near
        // the start of a page that was not captured, the shorter forms may still be checkable.
        for length in [7, 6, 5] where rva >= UInt64(length) {
            if let bytes = image.bytes(atRVA: rva - UInt64(length), count: length) {
                return Self.endsWithCall(bytes)
            }
        }
        return nil
    }

    /// Whether `bytes` (the code just before a return address) end with a near call instruction.
    static func endsWithCall(_ bytes: [UInt8]) -> Bool {
        let count = bytes.count
        func byte(before distance: Int) -> UInt8? { distance <= count ? bytes[count - distance] : nil }
        if byte(before: 5) == 0xE8 { return true }
        // FF /2: the ModRM byte's reg field is 2; its mod and r/m fields give the instruction's length.
        func indirect(length: Int, _ accepts: (_ mod: UInt8, _ rm: UInt8, _ sibBase: UInt8?) -> Bool) -> Bool {
            guard byte(before: length) == 0xFF, let modRM = byte(before: length - 1), (modRM >> 3) & 7 == 2 else { return false }
            let sib = length >= 3 ? byte(before: length - 2) : nil
            return accepts(modRM >> 6, modRM & 7, sib.map { $0 & 7 })
        }
        // call reg, call [reg]
        if indirect(length: 2, { mod, rm, _ in mod == 3 || (mod == 0 && rm != 4 && rm != 5) }) { return true }
        // call [reg+disp8], call [sib]
        if indirect(length: 3, { mod, rm, base in (mod == 1 && rm != 4) || (mod == 0 && rm == 4 && base != 5) }) { return true }
        // call [sib+disp8]
        if indirect(length: 4, { mod, rm, _ in mod == 1 && rm == 4 }) { return true }
        // call [reg+disp32], call [disp32] (imports: FF 15)
        if indirect(length: 6, { mod, rm, _ in (mod == 2 && rm != 4) || (mod == 0 && rm == 5) }) { return true }
        // call [sib+disp32], call [index*scale+disp32]
        if indirect(length: 7, { mod, rm, base in (mod == 2 && rm == 4) || (mod == 0 && rm == 4 && base == 5) }) { return true }
        return false
    }

    /// The first of `words` stack slots from `start` up that holds a return address: its location and value.
    func x86FindReturnAddress(from start: UInt64, words: Int) -> (location: UInt64, address: UInt64)? {
        var slot = start
        for _ in 0..<max(0, words) {
            guard slot <= Self.x86AddressMask - 3, let value = memory.readUInt32(at: slot) else { return nil }
            if x86SeemsReturnAddress(UInt64(value)) { return (slot, UInt64(value)) }
            slot += 4
        }
        return nil
    }

    /// How many slots a scan for the caller of `callee` may look at: more for the context frame,
    /// whose return address can lie below locals a leaf function never framed.
    func x86ScanWords(for callee: StackFrame) -> Int {
        callee.trust == .context ? limits.maximumInitialScanWords : limits.maximumScanWords
    }

    /// The caller through the EBP chain: `[ebp]` is the caller's EBP, `[ebp + 4]` the return address.
    ///
    /// EBP must point into the callee's frame (at or above ESP, 4-aligned); the return address is
    /// not checked here, so that the unwinder can decide between this frame and a scan.
    public func x86FramePointerCaller(of callee: StackFrame) -> StackFrame? {
        guard let ebp = callee.registers.fp, let esp = callee.registers.sp, ebp >= esp, ebp % 4 == 0,
            ebp <= Self.x86AddressMask - 8, let savedEBP = memory.readUInt32(at: ebp),
            let returnAddress = memory.readUInt32(at: ebp + 4)
        else { return nil }
        var registers = RegisterSet(architecture: .x86)
        registers.pc = UInt64(returnAddress)
        registers.sp = ebp + 8
        registers.fp = UInt64(savedEBP)
        return StackFrame(registers: registers, trust: .framePointer)
    }

    /// The caller found by scanning from ESP for a return address, with EBP restored when the stack
    /// shows where it is.
    public func x86ScanCaller(of callee: StackFrame) -> StackFrame? {
        guard let esp = callee.registers.sp,
            let (location, address) = x86FindReturnAddress(from: esp, words: x86ScanWords(for: callee))
        else { return nil }
        var registers = RegisterSet(architecture: .x86)
        registers.pc = address
        registers.sp = location + 4
        registers.fp = x86RestoredFramePointer(returnAddressAt: location, callee: callee)
        return StackFrame(registers: registers, trust: .scan)
    }

    /// The caller's EBP after a scan found its return address at `location`: the word just below it
    /// when a standard prologue saved EBP there (a pointer a little higher up the stack), else the
    /// callee's EBP when the callee left it alone and it still lies above the caller's ESP.
    func x86RestoredFramePointer(returnAddressAt location: UInt64, callee: StackFrame) -> UInt64? {
        if let esp = callee.registers.sp, location > esp, let saved = memory.readUInt32(at: location - 4).map(UInt64.init),
            saved > location, saved - (location - 4) <= Self.x86MaximumFrameGap, memory.readUInt32(at: saved) != nil
        {
            return saved
        }
        if let ebp = callee.registers.fp, ebp >= location + 4, memory.readUInt32(at: ebp) != nil { return ebp }
        return nil
    }
}
