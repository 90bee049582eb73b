import BinaryReading

/// An x64 general-purpose register as numbered in unwind codes (0 RAX ... 15 R15).
public struct X64Register: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    private static let names = [
        "RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
        "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
    ]
    /// The register's name, e.g. `RBX`.
    public var description: String { rawValue < 16 ? Self.names[Int(rawValue)] : "R?\(rawValue)" }
}

/// `UNWIND_INFO.Flags`.
public struct X64UnwindFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `UNW_FLAG_EHANDLER`: an exception handler follows the codes.
    public static let exceptionHandler = X64UnwindFlags(rawValue: 1)
    /// `UNW_FLAG_UHANDLER`: a termination handler follows the codes.
    public static let terminationHandler = X64UnwindFlags(rawValue: 2)
    /// `UNW_FLAG_CHAININFO`: a `RUNTIME_FUNCTION` of the parent follows the codes.
    public static let chainInfo = X64UnwindFlags(rawValue: 4)
}

/// One decoded x64 unwind operation (`UNWIND_CODE.UnwindOp` with its operands).
public enum X64UnwindOperation: Sendable, Equatable {
    /// `UWOP_PUSH_NONVOL` (0): push a nonvolatile register; RSP -= 8.
    case pushNonvolatile(X64Register)
    /// `UWOP_ALLOC_LARGE` (1) and `UWOP_ALLOC_SMALL` (2): RSP -= size.
    case allocate(size: UInt32)
    /// `UWOP_SET_FPREG` (3): the frame register = RSP + 16 × `FrameOffset`.
    case setFramePointer
    /// `UWOP_SAVE_NONVOL` (4) and `UWOP_SAVE_NONVOL_FAR` (5): a register stored at RSP + offset.
    case saveNonvolatile(X64Register, offset: UInt32)
    /// `UWOP_EPILOG` (6, version 2): an epilog's location, one slot each; `CodeOffset` and `OpInfo` as stored.
    ///
    /// The first code gives the epilog size in `CodeOffset` (and in bit 0 of `OpInfo` whether an
    /// epilog ends the function); each further code gives an epilog's distance from the function
    /// end as `CodeOffset | OpInfo << 8`.
    case epilog(codeOffset: UInt8, info: UInt8)
    /// `UWOP_SPARE_CODE` (7): reserved; takes three slots.
    case spare(info: UInt8)
    /// `UWOP_SAVE_XMM128` (8) and `UWOP_SAVE_XMM128_FAR` (9): XMM register stored at RSP + offset.
    case saveXMM128(register: UInt8, offset: UInt32)
    /// `UWOP_PUSH_MACHFRAME` (10): a machine frame was pushed (with an error code when true).
    case pushMachineFrame(withErrorCode: Bool)
}

/// One x64 unwind code: the prolog offset after which it takes effect, and its operation.
public struct X64UnwindCode: Sendable, Equatable {
    /// `CodeOffset`: offset from the function start of the end of the prolog instruction.
    public var codeOffset: UInt8
    /// The decoded operation.
    public var operation: X64UnwindOperation
    /// `UnwindOp` as stored (0-10).
    public var rawOperation: UInt8
    /// How many 16-bit slots the code takes in `UnwindCode[]`.
    public var slots: Int
}

/// `UNWIND_INFO` (4 bytes + 2 × `CountOfCodes`, then handler or chained entry): how to unwind one x64 function.
public struct X64UnwindInfo: Sendable, Equatable {
    /// `Version` (bits 0-2): 1, or 2 when epilog codes are present.
    public var version: UInt8
    /// `Flags` (bits 3-7).
    public var flags: X64UnwindFlags
    /// `SizeOfProlog`.
    public var sizeOfProlog: UInt8
    /// `CountOfCodes`: 16-bit slots used by the codes.
    public var countOfCodes: UInt8
    /// `FrameRegister` (nil when 0: no frame pointer).
    public var frameRegister: X64Register?
    /// `FrameOffset`: scaled by 16 when applied.
    public var frameOffset: UInt8
    /// The decoded codes, in stored order (latest prolog instruction first).
    public var codes: [X64UnwindCode]
    /// `ExceptionHandler` RVA when `UNW_FLAG_EHANDLER` or `UNW_FLAG_UHANDLER` is set.
    public var exceptionHandler: UInt32?
    /// The parent `RUNTIME_FUNCTION` when `UNW_FLAG_CHAININFO` is set.
    public var chainedFunction: RuntimeFunction?
    /// RVA of this structure.
    public var rva: UInt32

    /// Reads the structure at `rva` of `image`.
    public init(at rva: UInt32, in image: PEImage, referencedAt: Int64? = nil) throws(ParseError) {
        try self.init(at: rva) { (rva, size, field) throws(ParseError) in
            try image.bytes(atRVA: rva, size: size, field: field, referencedAt: referencedAt)
        }
    }

    /// Reads the structure at `rva` through `read`, which returns `size` bytes at an RVA (named `field` in errors).
    init(at rva: UInt32, read: (UInt32, UInt32, String) throws(ParseError) -> ByteView) throws(ParseError) {
        self.rva = rva
        let header = try read(rva, 4, "UNWIND_INFO")
        var reader = header.reader()
        let versionAndFlags = try reader.read(UInt8.self, "UNWIND_INFO.VersionAndFlags")
        version = versionAndFlags & 0x7
        flags = X64UnwindFlags(rawValue: versionAndFlags >> 3)
        sizeOfProlog = try reader.read(UInt8.self, "UNWIND_INFO.SizeOfProlog")
        countOfCodes = try reader.read(UInt8.self, "UNWIND_INFO.CountOfCodes")
        let frame = try reader.read(UInt8.self, "UNWIND_INFO.FrameRegisterAndOffset")
        frameRegister = frame & 0xF == 0 ? nil : X64Register(rawValue: frame & 0xF)
        frameOffset = frame >> 4
        guard version == 1 || version == 2 else {
            throw ParseError(offset: header.fileOffset, field: "UNWIND_INFO.Version", kind: .unsupportedVersion(String(version)))
        }

        // Codes are padded to an even count so what follows stays 4-byte aligned.
        let slotCount = Int(countOfCodes)
        let paddedSlots = (slotCount + 1) & ~1
        let hasHandler = flags.contains(.exceptionHandler) || flags.contains(.terminationHandler)
        let chained = flags.contains(.chainInfo)
        let trailer = chained ? RuntimeFunction.size : (hasHandler ? 4 : 0)
        let all = try read(rva, UInt32(4 + paddedSlots * 2 + trailer), "UNWIND_INFO.UnwindCode")
        var slots = [UInt16]()
        slots.reserveCapacity(slotCount)
        for index in 0..<slotCount {
            slots.append(try all.load(UInt16.self, at: 4 + index * 2, field: "UNWIND_INFO.UnwindCode"))
        }
        codes = try Self.decode(slots, version: version, fileOffset: all.fileOffset + 4)
        var tail = all.reader(at: 4 + paddedSlots * 2)
        exceptionHandler = nil
        chainedFunction = nil
        if chained {
            chainedFunction = try RuntimeFunction(parsing: &tail)
        } else if hasHandler {
            exceptionHandler = try tail.read(UInt32.self, "UNWIND_INFO.ExceptionHandler")
        }
    }

    /// Decodes the `UNWIND_CODE` slots; an operation whose operand slots are missing is an error.
    static func decode(_ slots: [UInt16], version: UInt8, fileOffset: Int64) throws(ParseError) -> [X64UnwindCode] {
        var codes = [X64UnwindCode]()
        var index = 0
        func operand(_ n: Int) throws(ParseError) -> UInt32 {
            guard index + n < slots.count else {
                throw ParseError(
                    offset: fileOffset + Int64(index * 2), field: "UNWIND_CODE.FrameOffset",
                    kind: .truncated(needed: Int64((n + 1) * 2), available: Int64((slots.count - index) * 2)))
            }
            return UInt32(slots[index + n])
        }
        while index < slots.count {
            let slot = slots[index]
            let offset = UInt8(slot & 0xFF)
            let op = UInt8((slot >> 8) & 0xF)
            let info = UInt8(slot >> 12)
            let register = X64Register(rawValue: info)
            let operation: X64UnwindOperation
            let used: Int
            switch op {
            case 0: operation = .pushNonvolatile(register); used = 1
            case 1:
                if info == 0 {
                    operation = .allocate(size: try operand(1) * 8); used = 2
                } else {
                    operation = .allocate(size: try (operand(1) | operand(2) << 16)); used = 3
                }
            case 2: operation = .allocate(size: UInt32(info) * 8 + 8); used = 1
            case 3: operation = .setFramePointer; used = 1
            case 4: operation = .saveNonvolatile(register, offset: try operand(1) * 8); used = 2
            case 5: operation = .saveNonvolatile(register, offset: try (operand(1) | operand(2) << 16)); used = 3
            case 6:
                // Version 2 writes UWOP_EPILOG here, one slot per code (the Windows unwinder
                // steps over it by one; pefile reads it so in the dump_syms DLLs, where LLVM 14's
                // llvm-readobj aborts). Version 1 used 6 for the retired two-slot UWOP_SAVE_XMM.
                operation = .epilog(codeOffset: offset, info: info); used = version == 2 ? 1 : 2
            case 7: operation = .spare(info: info); used = 3
            case 8: operation = .saveXMM128(register: info, offset: try operand(1) * 16); used = 2
            case 9: operation = .saveXMM128(register: info, offset: try (operand(1) | operand(2) << 16)); used = 3
            case 10: operation = .pushMachineFrame(withErrorCode: info != 0); used = 1
            default:
                throw ParseError(
                    offset: fileOffset + Int64(index * 2), field: "UNWIND_CODE.UnwindOp",
                    kind: .invalidValue("unknown unwind operation \(op)"))
            }
            codes.append(X64UnwindCode(codeOffset: offset, operation: operation, rawOperation: op, slots: used))
            index += used
        }
        return codes
    }
}
