import BinaryReading

/// `CONTEXT` for x86 (716 bytes), from winnt.h; Breakpad's `MDRawContextX86` has the same layout.
public struct ContextX86: Sendable, Equatable, Codable {
    /// `ContextFlags`.
    public var contextFlags: ContextFlags
    /// `Dr0`.
    public var dr0: UInt32
    /// `Dr1`.
    public var dr1: UInt32
    /// `Dr2`.
    public var dr2: UInt32
    /// `Dr3`.
    public var dr3: UInt32
    /// `Dr6`.
    public var dr6: UInt32
    /// `Dr7`.
    public var dr7: UInt32
    /// `FloatSave`.
    public var floatSave: FloatingSaveAreaX86
    /// `SegGs`.
    public var segGs: UInt32
    /// `SegFs`.
    public var segFs: UInt32
    /// `SegEs`.
    public var segEs: UInt32
    /// `SegDs`.
    public var segDs: UInt32
    /// `Edi`.
    public var edi: UInt32
    /// `Esi`.
    public var esi: UInt32
    /// `Ebx`.
    public var ebx: UInt32
    /// `Edx`.
    public var edx: UInt32
    /// `Ecx`.
    public var ecx: UInt32
    /// `Eax`.
    public var eax: UInt32
    /// `Ebp`.
    public var ebp: UInt32
    /// `Eip`.
    public var eip: UInt32
    /// `SegCs`.
    public var segCs: UInt32
    /// `EFlags`.
    public var eflags: UInt32
    /// `Esp`.
    public var esp: UInt32
    /// `SegSs`.
    public var segSs: UInt32
    /// `ExtendedRegisters[512]`: the FXSAVE image (SSE state).
    public var extendedRegisters: FXSaveArea
    /// The XSAVE data after the context, when `CONTEXT_XSTATE` is set and the context holds it.
    public var extendedState: ExtendedState?
    /// Why `extendedState` is nil although `CONTEXT_XSTATE` is set.
    public var extendedStateProblem: String?

    /// Size on disk.
    public static let size = 716

    /// Register groups the flags say are valid.
    public var validGroups: RegisterGroups { RegisterGroups.decode(contextFlags, RegisterGroups.x86Table) }

    /// Decodes the context in `bytes` (at least `size` bytes; more when XSAVE data follows).
    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        try self.init(parsing: bytes, endianness: dump.endianness)
    }

    /// Decodes the structure from `bytes` in the given byte order (for dumps other than minidumps).
    public init(parsing bytes: ByteView, endianness: Endianness) throws(ParseError) {
        var reader = bytes.reader(endianness: endianness)
        let field = "CONTEXT(x86)"
        contextFlags = ContextFlags(rawValue: try reader.read(UInt32.self, field + ".ContextFlags"))
        dr0 = try reader.read(UInt32.self, field + ".Dr0")
        dr1 = try reader.read(UInt32.self, field + ".Dr1")
        dr2 = try reader.read(UInt32.self, field + ".Dr2")
        dr3 = try reader.read(UInt32.self, field + ".Dr3")
        dr6 = try reader.read(UInt32.self, field + ".Dr6")
        dr7 = try reader.read(UInt32.self, field + ".Dr7")
        floatSave = try FloatingSaveAreaX86(parsing: &reader, field + ".FloatSave")
        segGs = try reader.read(UInt32.self, field + ".SegGs")
        segFs = try reader.read(UInt32.self, field + ".SegFs")
        segEs = try reader.read(UInt32.self, field + ".SegEs")
        segDs = try reader.read(UInt32.self, field + ".SegDs")
        edi = try reader.read(UInt32.self, field + ".Edi")
        esi = try reader.read(UInt32.self, field + ".Esi")
        ebx = try reader.read(UInt32.self, field + ".Ebx")
        edx = try reader.read(UInt32.self, field + ".Edx")
        ecx = try reader.read(UInt32.self, field + ".Ecx")
        eax = try reader.read(UInt32.self, field + ".Eax")
        ebp = try reader.read(UInt32.self, field + ".Ebp")
        eip = try reader.read(UInt32.self, field + ".Eip")
        segCs = try reader.read(UInt32.self, field + ".SegCs")
        eflags = try reader.read(UInt32.self, field + ".EFlags")
        esp = try reader.read(UInt32.self, field + ".Esp")
        segSs = try reader.read(UInt32.self, field + ".SegSs")
        extendedRegisters = try FXSaveArea(parsing: &reader, field + ".ExtendedRegisters")
        if contextFlags.groupBits & 0x40 != 0 {
            (extendedState, extendedStateProblem) = ExtendedState.parse(
                bytes, contextSize: Self.size, registerCount: 8, endianness: endianness)
        }
    }

    /// General registers in minidump-stackwalk's order.
    public var registers: [RegisterValue] {
        [
            ("eip", eip), ("esp", esp), ("ebp", ebp), ("ebx", ebx), ("esi", esi), ("edi", edi),
            ("eax", eax), ("ecx", ecx), ("edx", edx), ("efl", eflags),
        ].map { RegisterValue(name: $0.0, value: UInt64($0.1)) }
    }
}
