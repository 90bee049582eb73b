import BinaryReading

/// `CONTEXT` for AMD64 (1232 bytes), from winnt.h; Breakpad's `MDRawContextAMD64` has the same layout.
///
/// `ContextFlags` is at offset 0x30, after the six home-address slots.
public struct ContextAMD64: Sendable, Equatable, Codable {
    /// `P1Home` .. `P6Home`: register parameter home addresses (often left uninitialized).
    public var parameterHomes: [UInt64]
    /// `ContextFlags`.
    public var contextFlags: ContextFlags
    /// `MxCsr`.
    public var mxCsr: UInt32
    /// `SegCs`.
    public var segCs: UInt16
    /// `SegDs`.
    public var segDs: UInt16
    /// `SegEs`.
    public var segEs: UInt16
    /// `SegFs`.
    public var segFs: UInt16
    /// `SegGs`.
    public var segGs: UInt16
    /// `SegSs`.
    public var segSs: UInt16
    /// `EFlags`.
    public var eflags: UInt32
    /// `Dr0`.
    public var dr0: UInt64
    /// `Dr1`.
    public var dr1: UInt64
    /// `Dr2`.
    public var dr2: UInt64
    /// `Dr3`.
    public var dr3: UInt64
    /// `Dr6`.
    public var dr6: UInt64
    /// `Dr7`.
    public var dr7: UInt64
    /// `Rax`.
    public var rax: UInt64
    /// `Rcx`.
    public var rcx: UInt64
    /// `Rdx`.
    public var rdx: UInt64
    /// `Rbx`.
    public var rbx: UInt64
    /// `Rsp`.
    public var rsp: UInt64
    /// `Rbp`.
    public var rbp: UInt64
    /// `Rsi`.
    public var rsi: UInt64
    /// `Rdi`.
    public var rdi: UInt64
    /// `R8` .. `R15`.
    public var r8to15: [UInt64]
    /// `Rip`.
    public var rip: UInt64
    /// `FltSave`: the FXSAVE image (x87, MXCSR, xmm0..xmm15).
    public var fltSave: FXSaveArea
    /// `VectorRegister[26]`.
    public var vectorRegister: [Vector128]
    /// `VectorControl`.
    public var vectorControl: UInt64
    /// `DebugControl`.
    public var debugControl: UInt64
    /// `LastBranchToRip`.
    public var lastBranchToRip: UInt64
    /// `LastBranchFromRip`.
    public var lastBranchFromRip: UInt64
    /// `LastExceptionToRip`.
    public var lastExceptionToRip: UInt64
    /// `LastExceptionFromRip`.
    public var lastExceptionFromRip: UInt64
    /// The XSAVE data after the context, when `CONTEXT_XSTATE` is set and the context holds it.
    public var extendedState: ExtendedState?
    /// Why `extendedState` is nil although `CONTEXT_XSTATE` is set.
    public var extendedStateProblem: String?

    /// Size on disk.
    public static let size = 1232
    /// Offset of `ContextFlags`.
    public static let contextFlagsOffset = 0x30

    /// Register groups the flags say are valid.
    ///
    /// Crashpad on macOS writes `ContextFlags` = `CONTEXT_AMD64` alone although every register is
    /// filled in (seen in rust-minidump's pipeline-inlines-macos-segv.dmp and symbolic's
    /// crash_macos.dmp): this reports what the flags say, and `registers` lists all of them.
    public var validGroups: RegisterGroups { RegisterGroups.decode(contextFlags, RegisterGroups.amd64Table) }

    /// Decodes the context in `bytes` (at least `size` bytes; more when XSAVE data follows).
    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        try self.init(parsing: bytes, endianness: dump.endianness)
    }

    /// Decodes the structure from `bytes` in the given byte order (for dumps other than minidumps).
    public init(parsing bytes: ByteView, endianness: Endianness) throws(ParseError) {
        var reader = bytes.reader(endianness: endianness)
        let field = "CONTEXT(AMD64)"
        parameterHomes = try reader.readArray(UInt64.self, count: 6, field + ".P1Home..P6Home")
        contextFlags = ContextFlags(rawValue: try reader.read(UInt32.self, field + ".ContextFlags"))
        mxCsr = try reader.read(UInt32.self, field + ".MxCsr")
        segCs = try reader.read(UInt16.self, field + ".SegCs")
        segDs = try reader.read(UInt16.self, field + ".SegDs")
        segEs = try reader.read(UInt16.self, field + ".SegEs")
        segFs = try reader.read(UInt16.self, field + ".SegFs")
        segGs = try reader.read(UInt16.self, field + ".SegGs")
        segSs = try reader.read(UInt16.self, field + ".SegSs")
        eflags = try reader.read(UInt32.self, field + ".EFlags")
        dr0 = try reader.read(UInt64.self, field + ".Dr0")
        dr1 = try reader.read(UInt64.self, field + ".Dr1")
        dr2 = try reader.read(UInt64.self, field + ".Dr2")
        dr3 = try reader.read(UInt64.self, field + ".Dr3")
        dr6 = try reader.read(UInt64.self, field + ".Dr6")
        dr7 = try reader.read(UInt64.self, field + ".Dr7")
        rax = try reader.read(UInt64.self, field + ".Rax")
        rcx = try reader.read(UInt64.self, field + ".Rcx")
        rdx = try reader.read(UInt64.self, field + ".Rdx")
        rbx = try reader.read(UInt64.self, field + ".Rbx")
        rsp = try reader.read(UInt64.self, field + ".Rsp")
        rbp = try reader.read(UInt64.self, field + ".Rbp")
        rsi = try reader.read(UInt64.self, field + ".Rsi")
        rdi = try reader.read(UInt64.self, field + ".Rdi")
        r8to15 = try reader.readArray(UInt64.self, count: 8, field + ".R8..R15")
        rip = try reader.read(UInt64.self, field + ".Rip")
        fltSave = try FXSaveArea(parsing: &reader, field + ".FltSave")
        vectorRegister = try reader.readVectors(count: 26, field + ".VectorRegister")
        vectorControl = try reader.read(UInt64.self, field + ".VectorControl")
        debugControl = try reader.read(UInt64.self, field + ".DebugControl")
        lastBranchToRip = try reader.read(UInt64.self, field + ".LastBranchToRip")
        lastBranchFromRip = try reader.read(UInt64.self, field + ".LastBranchFromRip")
        lastExceptionToRip = try reader.read(UInt64.self, field + ".LastExceptionToRip")
        lastExceptionFromRip = try reader.read(UInt64.self, field + ".LastExceptionFromRip")
        if contextFlags.groupBits & 0x40 != 0 {
            (extendedState, extendedStateProblem) = ExtendedState.parse(
                bytes, contextSize: Self.size, registerCount: 16, endianness: endianness)
        }
    }

    /// `R8` .. `R15` by number (8...15).
    public func r(_ number: Int) -> UInt64 {
        (8...15).contains(number) ? r8to15[number - 8] : 0
    }

    /// General registers in minidump-stackwalk's order.
    public var registers: [RegisterValue] {
        var list: [(String, UInt64)] = [
            ("rax", rax), ("rdx", rdx), ("rcx", rcx), ("rbx", rbx), ("rsi", rsi), ("rdi", rdi),
            ("rbp", rbp), ("rsp", rsp),
        ]
        for (index, value) in r8to15.enumerated() {
            list.append(("r\(index + 8)", value))
        }
        list.append(("rip", rip))
        return list.map { RegisterValue(name: $0.0, value: $0.1) }
    }
}
