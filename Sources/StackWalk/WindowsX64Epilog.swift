import PortableExecutable

/// Epilog recognition for Windows x64: when the pc stands in an epilog, the unwind codes no longer
/// describe the stack (some of the prolog has already been undone), so the rest of the epilog is
/// emulated instead, as `RtlVirtualUnwind` does.
///
/// Microsoft's x64 conventions allow exactly this shape: an optional `add rsp, imm` or
/// `lea rsp, [frame register + disp]`, then `pop` of nonvolatile registers, then `ret`, or a `jmp`
/// that leaves the function (a tail call).
enum WindowsX64Epilog {
    /// Code bytes read from the pc: the longest epilog is a 7-byte `add`/`lea`, eight 2-byte pops
    /// and a 7-byte indirect `jmp`.
    static let codeWindow = 40

    enum Outcome: Equatable {
        /// The pc is not in an epilog: use the unwind codes.
        case notEpilog
        /// The caller's registers found by running the rest of the epilog.
        case unwound(RegisterSet)
        /// An epilog, but a register or stack word it needs is unknown.
        case failed
    }

    private enum Step {
        case adjust(Int64)
        case load(register: Int, displacement: Int64)
        case pop(register: Int)
    }

    /// Whether `code` (the bytes at `pc`) is the rest of an epilog of the function at
    /// `functionStart..<functionEnd`, and if so the caller it returns to.
    static func unwind(
        code: [UInt8], pc: UInt64, functionStart: UInt64, functionEnd: UInt64, frameRegister: X64Register?,
        callee: RegisterSet, memory: any StackMemory
    ) -> Outcome {
        guard
            let steps = recognize(
                code: code, pc: pc, functionStart: functionStart, functionEnd: functionEnd, frameRegister: frameRegister)
        else { return .notEpilog }
        guard var sp = callee[WindowsX64Unwind.rsp] else { return .failed }
        var context = callee
        for step in steps {
            switch step {
            case .adjust(let amount):
                sp = sp &+ UInt64(bitPattern: amount)
            case .load(let register, let displacement):
                guard let base = context[register] else { return .failed }
                sp = base &+ UInt64(bitPattern: displacement)
            case .pop(let register):
                guard let value = memory.readUInt64(at: sp) else { return .failed }
                if register != WindowsX64Unwind.rsp { context[register] = value }
                sp = sp &+ 8
            }
        }
        guard let returnAddress = memory.readUInt64(at: sp) else { return .failed }
        var caller = WindowsX64Unwind.nonvolatile(of: context)
        caller[WindowsX64Unwind.rip] = returnAddress
        caller[WindowsX64Unwind.rsp] = sp &+ 8
        return .unwound(caller)
    }

    /// The stack operations of the epilog starting at `code[0]`, or nil when the bytes are not one.
    private static func recognize(
        code: [UInt8], pc: UInt64, functionStart: UInt64, functionEnd: UInt64, frameRegister: X64Register?
    ) -> [Step]? {
        var steps = [Step]()
        var position = 0
        func byte(_ offset: Int) -> UInt8? { position + offset < code.count ? code[position + offset] : nil }
        func signed32(_ offset: Int) -> Int64? {
            guard position + offset + 4 <= code.count else { return nil }
            var value: UInt32 = 0
            for index in (0..<4).reversed() { value = value << 8 | UInt32(code[position + offset + index]) }
            return Int64(Int32(bitPattern: value))
        }

        // The stack adjustment: REX.W add rsp, imm8/imm32, or REX.W lea rsp, [frame register + disp].
        if let rex = byte(0), rex & 0xF8 == 0x48 {
            if rex == 0x48, byte(1) == 0x83, byte(2) == 0xC4, let immediate = byte(3) {
                steps.append(.adjust(Int64(Int8(bitPattern: immediate))))
                position += 4
            } else if rex == 0x48, byte(1) == 0x81, byte(2) == 0xC4, let immediate = signed32(3) {
                steps.append(.adjust(immediate))
                position += 7
            } else if rex & 0x06 == 0, byte(1) == 0x8D, let modrm = byte(2), modrm & 0x38 == 0x20, let frameRegister,
                let frameIndex = WindowsX64Unwind.index(of: frameRegister)
            {
                // ModRM reg field 4 (rsp); the base is rm with REX.B, and must be the frame register.
                let base = UInt8(modrm & 7) | (rex & 1) << 3
                let mode = modrm >> 6
                guard base == frameRegister.rawValue, base & 7 != 4 else { return nil }
                if mode == 1, let displacement = byte(3) {
                    steps.append(.load(register: frameIndex, displacement: Int64(Int8(bitPattern: displacement))))
                    position += 4
                } else if mode == 2, let displacement = signed32(3) {
                    steps.append(.load(register: frameIndex, displacement: displacement))
                    position += 7
                } else {
                    return nil
                }
            }
        }

        // Pops of nonvolatile registers (REX.B selects r8-r15); at most one per register.
        var pops = 0
        while pops < 16 {
            if let opcode = byte(0), opcode & 0xF8 == 0x58 {
                steps.append(.pop(register: WindowsX64Unwind.registerIndex[Int(opcode & 7)]))
                position += 1
            } else if byte(0) == 0x41, let opcode = byte(1), opcode & 0xF8 == 0x58 {
                steps.append(.pop(register: WindowsX64Unwind.registerIndex[Int(opcode & 7) + 8]))
                position += 2
            } else {
                break
            }
            pops += 1
        }

        // The way out: ret, rep ret, ret imm16, or a jmp that leaves the function.
        guard let opcode = byte(0) else { return nil }
        switch opcode {
        case 0xC3, 0xC2:
            return steps
        case 0xF3 where byte(1) == 0xC3:
            return steps
        case 0xE9, 0xEB:
            let length = opcode == 0xE9 ? 5 : 2
            guard let displacement = opcode == 0xE9 ? signed32(1) : byte(1).map({ Int64(Int8(bitPattern: $0)) }) else {
                return nil
            }
            let next = pc &+ UInt64(position + length)
            let target = next &+ UInt64(bitPattern: displacement)
            // A jump inside the function is a branch, not a tail call.
            return target >= functionStart && target < functionEnd ? nil : steps
        case 0xFF where byte(1) == 0x25:
            return steps  // jmp [rip + disp32]
        case 0x48 where byte(1) == 0xFF:
            // REX.W jmp through memory or a register (ModRM reg field 4).
            guard let modrm = byte(2), modrm & 0x38 == 0x20 else { return nil }
            return steps
        default:
            return nil
        }
    }
}
