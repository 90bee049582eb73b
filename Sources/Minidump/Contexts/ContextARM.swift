import BinaryReading

/// Breakpad's `MDRawContextARM` (368 bytes), from minidump_cpu_arm.h: the ARM context of
/// Linux, Android and iOS dumps (Breakpad, Crashpad). A Windows ARM `CONTEXT` is read as
/// `WindowsContextARM` and converted to this shape, keeping the original in `windowsContext`.
public struct ContextARM: Sendable, Equatable, Codable {
    /// `context_flags`.
    public var contextFlags: ContextFlags
    /// `iregs[16]`: r0..r12, sp (r13), lr (r14), pc (r15).
    public var iregs: [UInt32]
    /// `cpsr`.
    public var cpsr: UInt32
    /// `float_save.fpscr`.
    public var fpscr: UInt64
    /// `float_save.regs[32]`: d0..d31.
    public var floatRegisters: [UInt64]
    /// `float_save.extra[8]`: VFP/iWMMX control registers (empty for a Windows context).
    public var floatExtra: [UInt32]
    /// The Windows `CONTEXT` this was converted from, when the dump holds that layout.
    public var windowsContext: WindowsContextARM?

    /// Size on disk.
    public static let size = 368

    /// Register groups the flags say are valid.
    public var validGroups: RegisterGroups { RegisterGroups.decode(contextFlags, RegisterGroups.armTable) }

    /// Decodes the Breakpad layout in `bytes` (at least `size` bytes).
    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        try self.init(parsing: bytes, endianness: dump.endianness)
    }

    /// Decodes the structure from `bytes` in the given byte order (for dumps other than minidumps).
    public init(parsing bytes: ByteView, endianness: Endianness) throws(ParseError) {
        var reader = bytes.reader(endianness: endianness)
        let field = "MDRawContextARM"
        contextFlags = ContextFlags(rawValue: try reader.read(UInt32.self, field + ".context_flags"))
        iregs = try reader.readArray(UInt32.self, count: 16, field + ".iregs")
        cpsr = try reader.read(UInt32.self, field + ".cpsr")
        fpscr = try reader.read(UInt64.self, field + ".float_save.fpscr")
        floatRegisters = try reader.readArray(UInt64.self, count: 32, field + ".float_save.regs")
        floatExtra = try reader.readArray(UInt32.self, count: 8, field + ".float_save.extra")
        windowsContext = nil
    }

    /// The same registers taken from a Windows ARM `CONTEXT`.
    public init(_ windows: WindowsContextARM) {
        contextFlags = windows.contextFlags
        iregs = windows.r + [windows.sp, windows.lr, windows.pc]
        cpsr = windows.cpsr
        fpscr = UInt64(windows.fpscr)
        floatRegisters = windows.d
        floatExtra = []
        windowsContext = windows
    }

    /// r0..r15 by number (0 for numbers outside 0...15).
    public func r(_ number: Int) -> UInt32 {
        iregs.indices.contains(number) ? iregs[number] : 0
    }

    /// pc (r15).
    public var pc: UInt32 { r(15) }
    /// sp (r13).
    public var sp: UInt32 { r(13) }
    /// lr (r14).
    public var lr: UInt32 { r(14) }
    /// r11, the frame pointer of ARM-mode code on Linux, Android and Windows. Apple's ABI and
    /// Thumb code on Linux use r7 instead; an unwinder that knows the OS picks `r(7)`.
    public var fp: UInt32 { r(11) }

    /// General registers in minidump-stackwalk's order (r0..r10, r12, fp, sp, lr, pc).
    public var registers: [RegisterValue] {
        var list = (0...10).map { RegisterValue(name: "r\($0)", value: UInt64(r($0))) }
        list.append(RegisterValue(name: "r12", value: UInt64(r(12))))
        list.append(RegisterValue(name: "fp", value: UInt64(fp)))
        list.append(RegisterValue(name: "sp", value: UInt64(sp)))
        list.append(RegisterValue(name: "lr", value: UInt64(lr)))
        list.append(RegisterValue(name: "pc", value: UInt64(pc)))
        return list
    }
}

/// `CONTEXT` for ARM (416 bytes), from winnt.h (`_ARM_`): Windows on ARM (Thumb-2).
public struct WindowsContextARM: Sendable, Equatable, Codable {
    /// `ContextFlags`.
    public var contextFlags: ContextFlags
    /// `R0` .. `R12`.
    public var r: [UInt32]
    /// `Sp`.
    public var sp: UInt32
    /// `Lr`.
    public var lr: UInt32
    /// `Pc`.
    public var pc: UInt32
    /// `Cpsr`.
    public var cpsr: UInt32
    /// `Fpscr`.
    public var fpscr: UInt32
    /// `Padding`.
    public var padding: UInt32
    /// The `Q[16]` / `D[32]` / `S[32]` union, read as `D[32]`.
    public var d: [UInt64]
    /// `Bvr[8]`.
    public var bvr: [UInt32]
    /// `Bcr[8]`.
    public var bcr: [UInt32]
    /// `Wvr[1]`.
    public var wvr: [UInt32]
    /// `Wcr[1]`.
    public var wcr: [UInt32]
    /// `Padding2[2]`.
    public var padding2: [UInt32]

    /// Size on disk.
    public static let size = 416

    /// Decodes the context in `bytes` (at least `size` bytes).
    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        try self.init(parsing: bytes, endianness: dump.endianness)
    }

    /// Decodes the structure from `bytes` in the given byte order (for dumps other than minidumps).
    public init(parsing bytes: ByteView, endianness: Endianness) throws(ParseError) {
        var reader = bytes.reader(endianness: endianness)
        let field = "CONTEXT(ARM)"
        contextFlags = ContextFlags(rawValue: try reader.read(UInt32.self, field + ".ContextFlags"))
        r = try reader.readArray(UInt32.self, count: 13, field + ".R0..R12")
        sp = try reader.read(UInt32.self, field + ".Sp")
        lr = try reader.read(UInt32.self, field + ".Lr")
        pc = try reader.read(UInt32.self, field + ".Pc")
        cpsr = try reader.read(UInt32.self, field + ".Cpsr")
        fpscr = try reader.read(UInt32.self, field + ".Fpscr")
        padding = try reader.read(UInt32.self, field + ".Padding")
        d = try reader.readArray(UInt64.self, count: 32, field + ".D")
        bvr = try reader.readArray(UInt32.self, count: 8, field + ".Bvr")
        bcr = try reader.readArray(UInt32.self, count: 8, field + ".Bcr")
        wvr = try reader.readArray(UInt32.self, count: 1, field + ".Wvr")
        wcr = try reader.readArray(UInt32.self, count: 1, field + ".Wcr")
        padding2 = try reader.readArray(UInt32.self, count: 2, field + ".Padding2")
    }
}
