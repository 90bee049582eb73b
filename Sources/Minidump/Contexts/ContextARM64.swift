import BinaryReading

/// `CONTEXT` for ARM64 (912 bytes), from winnt.h; Breakpad's and Crashpad's `MDRawContextARM64`
/// has the same layout. Breakpad's older `MDRawContextARM64_Old` is read as `ContextARM64Old`
/// and converted to this shape, keeping the original in `oldContext`.
public struct ContextARM64: Sendable, Equatable, Codable {
    /// `ContextFlags`.
    public var contextFlags: ContextFlags
    /// `Cpsr`.
    public var cpsr: UInt32
    /// `X0` .. `X28`, `Fp`, `Lr`, `Sp`, `Pc` (Breakpad's `iregs[33]`).
    public var iregs: [UInt64]
    /// `V[32]`: the NEON registers.
    public var v: [Vector128]
    /// `Fpcr`.
    public var fpcr: UInt32
    /// `Fpsr`.
    public var fpsr: UInt32
    /// `Bcr[8]`.
    public var bcr: [UInt32]
    /// `Bvr[8]`.
    public var bvr: [UInt64]
    /// `Wcr[2]`.
    public var wcr: [UInt32]
    /// `Wvr[2]`.
    public var wvr: [UInt64]
    /// The Breakpad old-layout context this was converted from, when the dump holds that layout.
    public var oldContext: ContextARM64Old?

    /// Size on disk.
    public static let size = 912

    /// Register groups the flags say are valid (old-layout flags use the same bits 2 and 4).
    public var validGroups: RegisterGroups { RegisterGroups.decode(contextFlags, RegisterGroups.arm64Table) }

    /// Decodes the context in `bytes` (at least `size` bytes).
    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        try self.init(parsing: bytes, endianness: dump.endianness)
    }

    /// Decodes the structure from `bytes` in the given byte order (for dumps other than minidumps).
    public init(parsing bytes: ByteView, endianness: Endianness) throws(ParseError) {
        var reader = bytes.reader(endianness: endianness)
        let field = "CONTEXT(ARM64)"
        contextFlags = ContextFlags(rawValue: try reader.read(UInt32.self, field + ".ContextFlags"))
        cpsr = try reader.read(UInt32.self, field + ".Cpsr")
        iregs = try reader.readArray(UInt64.self, count: 33, field + ".X")
        v = try reader.readVectors(count: 32, field + ".V")
        fpcr = try reader.read(UInt32.self, field + ".Fpcr")
        fpsr = try reader.read(UInt32.self, field + ".Fpsr")
        bcr = try reader.readArray(UInt32.self, count: 8, field + ".Bcr")
        bvr = try reader.readArray(UInt64.self, count: 8, field + ".Bvr")
        wcr = try reader.readArray(UInt32.self, count: 2, field + ".Wcr")
        wvr = try reader.readArray(UInt64.self, count: 2, field + ".Wvr")
        oldContext = nil
    }

    /// The same registers taken from Breakpad's old layout (no debug registers).
    public init(_ old: ContextARM64Old) {
        contextFlags = ContextFlags(rawValue: UInt32(truncatingIfNeeded: old.contextFlags))
        cpsr = old.cpsr
        iregs = old.iregs
        v = old.regs
        fpcr = old.fpcr
        fpsr = old.fpsr
        bcr = []
        bvr = []
        wcr = []
        wvr = []
        oldContext = old
    }

    /// x0..x32 by number (29 fp, 30 lr, 31 sp, 32 pc; 0 outside 0...32).
    public func x(_ number: Int) -> UInt64 {
        iregs.indices.contains(number) ? iregs[number] : 0
    }

    /// x29, the frame pointer.
    public var fp: UInt64 { x(29) }
    /// x30, the link register.
    public var lr: UInt64 { x(30) }
    /// The stack pointer.
    public var sp: UInt64 { x(31) }
    /// The program counter.
    public var pc: UInt64 { x(32) }

    /// General registers in minidump-stackwalk's order (x0..x28, fp, lr, sp, pc).
    public var registers: [RegisterValue] {
        var list = (0...28).map { RegisterValue(name: "x\($0)", value: x($0)) }
        list.append(RegisterValue(name: "fp", value: fp))
        list.append(RegisterValue(name: "lr", value: lr))
        list.append(RegisterValue(name: "sp", value: sp))
        list.append(RegisterValue(name: "pc", value: pc))
        return list
    }
}

/// Breakpad's `MDRawContextARM64_Old` (796 bytes, packed to 4), from minidump_cpu_arm64.h:
/// the ARM64 context Breakpad wrote before Windows defined one (flags `MD_CONTEXT_ARM64_OLD`,
/// SystemInfo architecture usually `MD_CPU_ARCHITECTURE_ARM64_OLD` 0x8003).
public struct ContextARM64Old: Sendable, Equatable, Codable {
    /// `context_flags` (64 bits wide in this layout).
    public var contextFlags: UInt64
    /// `iregs[33]`: x0..x28, fp, lr, sp, pc.
    public var iregs: [UInt64]
    /// `cpsr`.
    public var cpsr: UInt32
    /// `float_save.fpsr`.
    public var fpsr: UInt32
    /// `float_save.fpcr`.
    public var fpcr: UInt32
    /// `float_save.regs[32]`: v0..v31.
    public var regs: [Vector128]

    /// Size on disk.
    public static let size = 796

    /// Decodes the context in `bytes` (at least `size` bytes).
    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        try self.init(parsing: bytes, endianness: dump.endianness)
    }

    /// Decodes the structure from `bytes` in the given byte order (for dumps other than minidumps).
    public init(parsing bytes: ByteView, endianness: Endianness) throws(ParseError) {
        var reader = bytes.reader(endianness: endianness)
        let field = "MDRawContextARM64_Old"
        contextFlags = try reader.read(UInt64.self, field + ".context_flags")
        iregs = try reader.readArray(UInt64.self, count: 33, field + ".iregs")
        cpsr = try reader.read(UInt32.self, field + ".cpsr")
        fpsr = try reader.read(UInt32.self, field + ".float_save.fpsr")
        fpcr = try reader.read(UInt32.self, field + ".float_save.fpcr")
        regs = try reader.readVectors(count: 32, field + ".float_save.regs")
    }
}
