import PortableExecutable

/// The unwind operations to undo at one offset of an ARM64 function, chosen from its Windows unwind
/// data as Microsoft's "ARM64 exception handling" describes: in the body, the whole prolog; inside the
/// prolog, only the instructions already executed; inside an epilog, only what it has not yet undone.
enum WindowsARM64Program {
    /// Operations to run in order, `save_next` already resolved into concrete saves; nil when the
    /// data uses an operation the emulator cannot undo (SVE allocation, trap frames, reserved codes).
    ///
    /// `exactOffset` is true for the context frame, whose pc may lie in a prolog or epilog; a return
    /// address always lies in a function's body.
    static func operations(for unwind: ARM64Unwind, offset: UInt32, exactOffset: Bool) -> [ARM64UnwindOperation] {
        switch unwind {
        case .packed(let packed):
            let prolog = resolve(packed.codes)
            guard exactOffset else { return prolog }
            if packed.flag == 1, let executed = instructionsExecuted(offset: offset, start: 0, count: prolog.count) {
                return Array(prolog.suffix(executed))
            }
            // A packed function has one epilog, at its end: the prolog's undo without the stores of
            // homed parameters (their `nop`s), then `ret`. When x29 was set right after the frame record
            // was pushed, sp already equals it and the epilog has no `mov sp, x29`.
            var epilog = prolog.filter { $0 != .nop }
            if epilog.first == .setFP, epilog.count > 1, case .saveFPLRPreIndexed = epilog[1] { epilog.removeFirst() }
            let size = UInt32(epilog.count + 1) * 4
            if packed.functionLength >= size,
                let executed = instructionsExecuted(offset: offset, start: packed.functionLength - size, count: epilog.count + 1)
            {
                return Array(epilog.dropFirst(executed))
            }
            return prolog
        case .unpacked(let info):
            let prolog = resolve(info.prologCodes.map(\.operation))
            guard exactOffset else { return prolog }
            if let executed = instructionsExecuted(offset: offset, start: 0, count: prolog.count) {
                return Array(prolog.suffix(executed))
            }
            for (index, start) in zip(info.epilogStartIndices, epilogStarts(info)) {
                guard let codes = try? info.epilogCodes(startingAt: index) else { continue }
                let epilog = resolve(codes.map(\.operation))
                // Each code is one epilog instruction; `end` stands for the `ret`.
                let count = epilog.count + (codes.last?.operation == .end ? 1 : 0)
                if let start, let executed = instructionsExecuted(offset: offset, start: start, count: count) {
                    return Array(epilog.dropFirst(executed))
                }
            }
            return prolog
        }
    }

    /// Where each epilog starts, in bytes from the function's start; with the `E` bit the single epilog
    /// ends the function.
    static func epilogStarts(_ info: ARM64UnwindInfo) -> [UInt32?] {
        if info.singleEpilogPacked {
            let index = Int(info.epilogCount)
            let codes = (try? info.epilogCodes(startingAt: index)) ?? []
            let size = UInt32(codes.filter { !isMarker($0.operation) }.count + 1) * 4
            return [info.functionLength >= size ? info.functionLength - size : nil]
        }
        return info.epilogScopes.map { $0.startOffset }
    }

    /// How many of `count` instructions starting at byte `start` have run when the pc is at `offset`,
    /// or nil when `offset` lies outside them.
    static func instructionsExecuted(offset: UInt32, start: UInt32, count: Int) -> Int? {
        guard offset >= start else { return nil }
        let index = Int((offset - start) / 4)
        return index < count ? index : nil
    }

    static func isMarker(_ operation: ARM64UnwindOperation) -> Bool {
        operation == .end || operation == .endChained
    }

    /// The operations up to the first `end`, with each `save_next` replaced by the save it stands for:
    /// the register pair after the previous one (in execution order, which runs backwards through the
    /// list), stored 16 bytes above it.
    static func resolve(_ operations: [ARM64UnwindOperation]) -> [ARM64UnwindOperation] {
        var list = [ARM64UnwindOperation]()
        for operation in operations {
            if isMarker(operation) { break }
            list.append(operation)
        }
        // (integer or FP pair, first register number, offset of the next pair)
        var previous: (integer: Bool, first: UInt8, nextOffset: UInt32)?
        for index in list.indices.reversed() {
            switch list[index] {
            case .saveR19R20PreIndexed: previous = (true, 0, 16)
            case .saveRegisterPairPreIndexed(let first, _): previous = (true, first, 16)
            case .saveRegisterPair(let first, let offset): previous = (true, first, offset + 16)
            case .saveFPRegisterPairPreIndexed(let first, _): previous = (false, first, 16)
            case .saveFPRegisterPair(let first, let offset): previous = (false, first, offset + 16)
            case .saveNext:
                guard let last = previous, last.first <= 250 else { continue }
                let first = last.first + 2
                list[index] =
                    last.integer
                    ? .saveRegisterPair(first: first, offset: last.nextOffset)
                    : .saveFPRegisterPair(first: first, offset: last.nextOffset)
                previous = (last.integer, first, last.nextOffset + 16)
            default: previous = nil
            }
        }
        return list
    }
}

/// The registers an ARM64 unwind program reads and restores.
struct WindowsARM64State {
    var registers: RegisterSet
    var sp: UInt64
    /// Set by a machine frame or context record, which hold the interrupted pc itself.
    var pc: UInt64?

    /// Undoes `operations` in order; false when one of them cannot be undone or reads memory the dump
    /// lacks.
    mutating func undo(_ operations: [ARM64UnwindOperation], memory: any StackMemory) -> Bool {
        for operation in operations {
            guard undo(operation, memory: memory) else { return false }
        }
        return true
    }

    private func read(_ offset: UInt32, _ memory: any StackMemory) -> UInt64? {
        let (address, overflow) = sp.addingReportingOverflow(UInt64(offset))
        return overflow ? nil : memory.readUInt64(at: address)
    }

    private mutating func load(_ register: Int, at offset: UInt32, _ memory: any StackMemory) -> Bool {
        guard let value = read(offset, memory) else { return false }
        registers[register] = value
        return true
    }

    private mutating func pop(_ size: UInt32) -> Bool {
        let (value, overflow) = sp.addingReportingOverflow(UInt64(size))
        sp = value
        return !overflow
    }

    private mutating func undo(_ operation: ARM64UnwindOperation, memory: any StackMemory) -> Bool {
        switch operation {
        case .allocate(let size): return pop(size)
        case .saveR19R20PreIndexed(let offset):
            return load(19, at: 0, memory) && load(20, at: 8, memory) && pop(offset)
        case .saveFPLR(let offset):
            return load(29, at: offset, memory) && load(30, at: offset &+ 8, memory)
        case .saveFPLRPreIndexed(let offset):
            return load(29, at: 0, memory) && load(30, at: 8, memory) && pop(offset)
        case .saveRegisterPair(let first, let offset):
            let register = 19 + Int(first)
            guard register + 1 <= 30 else { return false }
            return load(register, at: offset, memory) && load(register + 1, at: offset &+ 8, memory)
        case .saveRegisterPairPreIndexed(let first, let offset):
            let register = 19 + Int(first)
            guard register + 1 <= 30 else { return false }
            return load(register, at: 0, memory) && load(register + 1, at: 8, memory) && pop(offset)
        case .saveRegister(let number, let offset):
            let register = 19 + Int(number)
            guard register <= 30 else { return false }
            return load(register, at: offset, memory)
        case .saveRegisterPreIndexed(let number, let offset):
            let register = 19 + Int(number)
            guard register <= 30 else { return false }
            return load(register, at: 0, memory) && pop(offset)
        case .saveLRPair(let number, let offset):
            let register = 19 + 2 * Int(number)
            guard register < 30 else { return false }
            return load(register, at: offset, memory) && load(30, at: offset &+ 8, memory)
        // Floating-point registers are not walked; only the stack pointer's changes matter.
        case .saveFPRegisterPair, .saveFPRegister: return true
        case .saveFPRegisterPairPreIndexed(_, let offset), .saveFPRegisterPreIndexed(_, let offset): return pop(offset)
        case .setFP:
            guard let fp = registers[29] else { return false }
            sp = fp
            return true
        case .addFP(let offset):
            guard let fp = registers[29], fp >= UInt64(offset) else { return false }
            sp = fp - UInt64(offset)
            return true
        case .saveAnyRegister(let first, let second):
            return undoSaveAny(first, second, memory: memory)
        case .machineFrame:
            // The stack holds the interrupted sp and pc (MSFT_OP_MACHINE_FRAME).
            guard let oldSP = read(0, memory), let oldPC = read(8, memory) else { return false }
            pc = oldPC
            sp = oldSP
            return true
        case .context:
            // A whole ARM64 CONTEXT at sp (MSFT_OP_CONTEXT): X0..X28, Fp, Lr from offset 8, Sp at 0x100, Pc at 0x108.
            for register in 19...30 {
                guard load(register, at: UInt32(8 + 8 * register), memory) else { return false }
            }
            guard let oldSP = read(0x100, memory), let oldPC = read(0x108, memory) else { return false }
            pc = oldPC
            sp = oldSP
            return true
        case .nop, .end, .endChained, .clearUnwoundToCall, .saveNext: return true
        // The return address is stripped of its signature when it becomes the caller's pc.
        case .pacSignLR: return true
        case .allocateScalableVectors, .trapFrame, .ecContext, .reserved: return false
        }
    }

    /// `save_any_reg` (11100111 0pxrrrrr kkoooooo): p a pair, x pre-indexed, k the register kind
    /// (0 X, 1 D, 2 Q); the offset is scaled by 16 when pre-indexed or for Q registers, else by 8.
    private mutating func undoSaveAny(_ first: UInt8, _ second: UInt8, memory: any StackMemory) -> Bool {
        let pair = first & 0x40 != 0
        let writeback = first & 0x20 != 0
        let register = Int(first & 0x1F)
        let kind = second >> 6
        let raw = UInt32(second & 0x3F)
        let offset = writeback ? (raw + 1) * 16 : raw * (kind == 2 ? 16 : 8)
        let at: UInt32 = writeback ? 0 : offset
        if kind == 0 {
            guard register + (pair ? 1 : 0) <= 30 else { return false }
            guard load(register, at: at, memory) else { return false }
            if pair, !load(register + 1, at: at &+ 8, memory) { return false }
        } else if kind > 2 {
            return false
        }
        return writeback ? pop(offset) : true
    }
}
