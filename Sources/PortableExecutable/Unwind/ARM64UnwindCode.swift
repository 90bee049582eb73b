import BinaryReading

/// One decoded ARM64 unwind operation, from the byte codes of `.xdata` (see Microsoft's
/// "ARM64 exception handling", unwind codes table). Offsets are in bytes, already scaled.
public enum ARM64UnwindOperation: Sendable, Equatable {
    /// `alloc_s` (000xxxxx), `alloc_m` (11000xxx'xxxxxxxx), `alloc_l` (11100000'x×24): `sub sp, sp, #size`.
    case allocate(size: UInt32)
    /// `save_r19r20_x` (001zzzzz): `stp x19, x20, [sp, #-offset]!`.
    case saveR19R20PreIndexed(offset: UInt32)
    /// `save_fplr` (01zzzzzz): `stp x29, lr, [sp, #offset]`.
    case saveFPLR(offset: UInt32)
    /// `save_fplr_x` (10zzzzzz): `stp x29, lr, [sp, #-offset]!`.
    case saveFPLRPreIndexed(offset: UInt32)
    /// `save_regp` (110010xx'xxzzzzzz): `stp x(19+n), x(20+n), [sp, #offset]`.
    case saveRegisterPair(first: UInt8, offset: UInt32)
    /// `save_regp_x` (110011xx'xxzzzzzz): `stp x(19+n), x(20+n), [sp, #-offset]!`.
    case saveRegisterPairPreIndexed(first: UInt8, offset: UInt32)
    /// `save_reg` (110100xx'xxzzzzzz): `str x(19+n), [sp, #offset]`.
    case saveRegister(register: UInt8, offset: UInt32)
    /// `save_reg_x` (1101010x'xxxzzzzz): `str x(19+n), [sp, #-offset]!`.
    case saveRegisterPreIndexed(register: UInt8, offset: UInt32)
    /// `save_lrpair` (1101011x'xxzzzzzz): `stp x(19+2n), lr, [sp, #offset]`.
    case saveLRPair(register: UInt8, offset: UInt32)
    /// `save_fregp` (1101100x'xxzzzzzz): `stp d(8+n), d(9+n), [sp, #offset]`.
    case saveFPRegisterPair(first: UInt8, offset: UInt32)
    /// `save_fregp_x` (1101101x'xxzzzzzz): `stp d(8+n), d(9+n), [sp, #-offset]!`.
    case saveFPRegisterPairPreIndexed(first: UInt8, offset: UInt32)
    /// `save_freg` (1101110x'xxzzzzzz): `str d(8+n), [sp, #offset]`.
    case saveFPRegister(register: UInt8, offset: UInt32)
    /// `save_freg_x` (11011110'xxxzzzzz): `str d(8+n), [sp, #-offset]!`.
    case saveFPRegisterPreIndexed(register: UInt8, offset: UInt32)
    /// `alloc_z` (11011111'zzzzzzzz): allocate `count` SVE vector lengths.
    case allocateScalableVectors(count: UInt8)
    /// `set_fp` (11100001): `mov x29, sp`.
    case setFP
    /// `add_fp` (11100010'xxxxxxxx): `add x29, sp, #offset`.
    case addFP(offset: UInt32)
    /// `nop` (11100011).
    case nop
    /// `end` (11100100).
    case end
    /// `end_c` (11100101): end of this chained scope.
    case endChained
    /// `save_next` (11100110): the next register pair in the sequence.
    case saveNext
    /// `save_any_reg` (11100111'…'…): the two operand bytes as stored.
    case saveAnyRegister(UInt8, UInt8)
    /// `MSFT_OP_TRAP_FRAME` (11101000).
    case trapFrame
    /// `MSFT_OP_MACHINE_FRAME` (11101001).
    case machineFrame
    /// `MSFT_OP_CONTEXT` (11101010).
    case context
    /// `MSFT_OP_EC_CONTEXT` (11101011).
    case ecContext
    /// `MSFT_OP_CLEAR_UNWOUND_TO_CALL` (11101100).
    case clearUnwoundToCall
    /// `pac_sign_lr` (11111100): `pacibsp`.
    case pacSignLR
    /// A reserved code byte.
    case reserved(UInt8)
}

/// One ARM64 unwind code: where its bytes start and what it does.
public struct ARM64UnwindCode: Sendable, Equatable {
    /// Index of the code's first byte in the unwind code bytes.
    public var index: Int
    /// Number of bytes the code takes.
    public var length: Int
    /// The decoded operation.
    public var operation: ARM64UnwindOperation

    public init(index: Int, length: Int, operation: ARM64UnwindOperation) {
        self.index = index
        self.length = length
        self.operation = operation
    }

    /// The length of the code starting with `byte`, from its first byte alone.
    public static func length(startingWith byte: UInt8) -> Int {
        switch byte {
        case 0x00...0xBF: return 1
        case 0xC0...0xDF: return 2
        case 0xE0: return 4
        case 0xE2: return 2
        case 0xE7: return 3
        default: return 1
        }
    }

    /// Decodes a run of code bytes, stopping after `end`/`end_c` or at the end of the bytes.
    ///
    /// A code whose operand bytes are missing is an error.
    public static func decode(_ bytes: [UInt8], from start: Int = 0, fileOffset: Int64) throws(ParseError) -> [ARM64UnwindCode] {
        var codes = [ARM64UnwindCode]()
        var index = max(0, start)
        while index < bytes.count {
            let first = bytes[index]
            let length = Self.length(startingWith: first)
            guard index + length <= bytes.count else {
                throw ParseError(
                    offset: fileOffset + Int64(index), field: "ARM64 unwind code",
                    kind: .truncated(needed: Int64(length), available: Int64(bytes.count - index)))
            }
            let b1 = length > 1 ? UInt32(bytes[index + 1]) : 0
            let x = UInt32(first)
            let operation: ARM64UnwindOperation
            switch first {
            case 0x00...0x1F: operation = .allocate(size: (x & 0x1F) * 16)
            case 0x20...0x3F: operation = .saveR19R20PreIndexed(offset: (x & 0x1F) * 8)
            case 0x40...0x7F: operation = .saveFPLR(offset: (x & 0x3F) * 8)
            case 0x80...0xBF: operation = .saveFPLRPreIndexed(offset: ((x & 0x3F) + 1) * 8)
            case 0xC0...0xC7: operation = .allocate(size: (((x & 0x7) << 8) | b1) * 16)
            case 0xC8...0xCB:
                operation = .saveRegisterPair(first: UInt8(((x & 0x3) << 2) | (b1 >> 6)), offset: (b1 & 0x3F) * 8)
            case 0xCC...0xCF:
                operation = .saveRegisterPairPreIndexed(
                    first: UInt8(((x & 0x3) << 2) | (b1 >> 6)), offset: ((b1 & 0x3F) + 1) * 8)
            case 0xD0...0xD3:
                operation = .saveRegister(register: UInt8(((x & 0x3) << 2) | (b1 >> 6)), offset: (b1 & 0x3F) * 8)
            case 0xD4, 0xD5:
                operation = .saveRegisterPreIndexed(
                    register: UInt8(((x & 0x1) << 3) | (b1 >> 5)), offset: ((b1 & 0x1F) + 1) * 8)
            case 0xD6, 0xD7:
                operation = .saveLRPair(register: UInt8(((x & 0x1) << 2) | (b1 >> 6)), offset: (b1 & 0x3F) * 8)
            case 0xD8, 0xD9:
                operation = .saveFPRegisterPair(first: UInt8(((x & 0x1) << 2) | (b1 >> 6)), offset: (b1 & 0x3F) * 8)
            case 0xDA, 0xDB:
                operation = .saveFPRegisterPairPreIndexed(
                    first: UInt8(((x & 0x1) << 2) | (b1 >> 6)), offset: ((b1 & 0x3F) + 1) * 8)
            case 0xDC, 0xDD:
                operation = .saveFPRegister(register: UInt8(((x & 0x1) << 2) | (b1 >> 6)), offset: (b1 & 0x3F) * 8)
            case 0xDE: operation = .saveFPRegisterPreIndexed(register: UInt8(b1 >> 5), offset: ((b1 & 0x1F) + 1) * 8)
            case 0xDF: operation = .allocateScalableVectors(count: UInt8(b1))
            case 0xE0:
                let size = (b1 << 16) | (UInt32(bytes[index + 2]) << 8) | UInt32(bytes[index + 3])
                operation = .allocate(size: size * 16)
            case 0xE1: operation = .setFP
            case 0xE2: operation = .addFP(offset: b1 * 8)
            case 0xE3: operation = .nop
            case 0xE4: operation = .end
            case 0xE5: operation = .endChained
            case 0xE6: operation = .saveNext
            case 0xE7: operation = .saveAnyRegister(UInt8(b1), bytes[index + 2])
            case 0xE8: operation = .trapFrame
            case 0xE9: operation = .machineFrame
            case 0xEA: operation = .context
            case 0xEB: operation = .ecContext
            case 0xEC: operation = .clearUnwoundToCall
            case 0xFC: operation = .pacSignLR
            default: operation = .reserved(first)
            }
            codes.append(ARM64UnwindCode(index: index, length: length, operation: operation))
            index += length
            if operation == .end || operation == .endChained { break }
        }
        return codes
    }
}
