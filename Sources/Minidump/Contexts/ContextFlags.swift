import BinaryReading

/// `ContextFlags` of a register context: the CPU type (high bits) and which register groups
/// the writer filled in (low byte).
///
/// CPU-type values, from winnt.h and Breakpad's minidump_cpu_*.h:
/// `CONTEXT_i386` 0x00010000, `CONTEXT_AMD64` 0x00100000, `CONTEXT_ARM` (Windows) 0x00200000,
/// `CONTEXT_ARM64` 0x00400000 (also Breakpad's `MD_CONTEXT_ARM64`), Breakpad's `MD_CONTEXT_ARM`
/// 0x40000000, `MD_CONTEXT_ARM64_OLD` 0x80000000 and `MD_CONTEXT_ARM_OLD` 0x00000040.
/// The meaning of the low bits depends on the CPU; `RegisterGroups` names them.
public struct ContextFlags: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MD_CONTEXT_CPU_MASK`: the bits that name the CPU type.
    public static let cpuMask: UInt32 = 0xFFFF_FF00

    /// `CONTEXT_i386` / `MD_CONTEXT_X86`.
    public static let x86 = ContextFlags(rawValue: 0x0001_0000)
    /// `CONTEXT_AMD64` / `MD_CONTEXT_AMD64`.
    public static let amd64 = ContextFlags(rawValue: 0x0010_0000)
    /// `CONTEXT_ARM` of winnt.h (the Windows `CONTEXT` for ARM, 416 bytes).
    public static let armWindows = ContextFlags(rawValue: 0x0020_0000)
    /// `CONTEXT_ARM64` / `MD_CONTEXT_ARM64`.
    public static let arm64 = ContextFlags(rawValue: 0x0040_0000)
    /// Breakpad `MD_CONTEXT_ARM` (`MDRawContextARM`, 368 bytes).
    public static let arm = ContextFlags(rawValue: 0x4000_0000)
    /// Breakpad `MD_CONTEXT_ARM64_OLD` (`MDRawContextARM64_Old`, 796 bytes).
    public static let arm64Old = ContextFlags(rawValue: 0x8000_0000)
    /// Breakpad `MD_CONTEXT_ARM_OLD`: an early CPU-type value for ARM that collides with the
    /// `XSTATE` group bit of x86/AMD64, so it is only believed when SystemInfo says ARM.
    public static let armOld = ContextFlags(rawValue: 0x0000_0040)

    /// The CPU-type bits.
    public var cpuType: UInt32 { rawValue & Self.cpuMask }
    /// The register-group bits (meaning depends on the CPU).
    public var groupBits: UInt32 { rawValue & ~Self.cpuMask }

    public var description: String { hex0x(rawValue) }
}

/// Register groups a context says it holds, named independently of the CPU's bit values.
public struct RegisterGroups: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `CONTEXT_CONTROL`: instruction and stack pointer, flags (x86: also ebp, cs, ss).
    public static let control = RegisterGroups(rawValue: 1 << 0)
    /// `CONTEXT_INTEGER`: the other general-purpose registers.
    public static let integer = RegisterGroups(rawValue: 1 << 1)
    /// `CONTEXT_SEGMENTS` (x86, AMD64): ds, es, fs, gs.
    public static let segments = RegisterGroups(rawValue: 1 << 2)
    /// `CONTEXT_FLOATING_POINT`: x87/SSE on x86 and AMD64, VFP/NEON on ARM.
    public static let floatingPoint = RegisterGroups(rawValue: 1 << 3)
    /// `CONTEXT_DEBUG_REGISTERS`.
    public static let debugRegisters = RegisterGroups(rawValue: 1 << 4)
    /// `CONTEXT_EXTENDED_REGISTERS` (x86): the FXSAVE area.
    public static let extendedRegisters = RegisterGroups(rawValue: 1 << 5)
    /// `CONTEXT_XSTATE` (x86, AMD64): an XSAVE area follows the context.
    public static let xstate = RegisterGroups(rawValue: 1 << 6)
    /// `CONTEXT_ARM64_X18` (Windows ARM64): x18 is filled in.
    public static let x18 = RegisterGroups(rawValue: 1 << 7)

    /// Decodes group bits with a table of (bit, group) pairs for one CPU.
    static func decode(_ flags: ContextFlags, _ table: [(UInt32, RegisterGroups)]) -> RegisterGroups {
        var groups: RegisterGroups = []
        for (bit, group) in table where flags.rawValue & bit != 0 {
            groups.insert(group)
        }
        return groups
    }

    /// x86 and AMD64 group bits (winnt.h `CONTEXT_CONTROL` ... `CONTEXT_XSTATE`).
    static let x86Table: [(UInt32, RegisterGroups)] = [
        (0x01, .control), (0x02, .integer), (0x04, .segments), (0x08, .floatingPoint),
        (0x10, .debugRegisters), (0x20, .extendedRegisters), (0x40, .xstate),
    ]
    /// AMD64 has no `CONTEXT_EXTENDED_REGISTERS`: the FXSAVE area is part of `CONTEXT_FLOATING_POINT`.
    static let amd64Table: [(UInt32, RegisterGroups)] = [
        (0x01, .control), (0x02, .integer), (0x04, .segments), (0x08, .floatingPoint),
        (0x10, .debugRegisters), (0x40, .xstate),
    ]
    /// ARM (both layouts) and ARM64 group bits.
    static let armTable: [(UInt32, RegisterGroups)] = [
        (0x01, .control), (0x02, .integer), (0x04, .floatingPoint), (0x08, .debugRegisters),
    ]
    /// ARM64 adds `CONTEXT_ARM64_X18`.
    static let arm64Table: [(UInt32, RegisterGroups)] = armTable + [(0x10, .x18)]
}

/// One 128-bit register (`M128A`, `NEON128`, Breakpad's `uint128_struct`), as two 64-bit halves.
public struct Vector128: Sendable, Hashable, Codable {
    /// Bits 0..63.
    public var low: UInt64
    /// Bits 64..127.
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }
}

extension ByteReader {
    /// Reads a 128-bit register: in a little-endian file the low half comes first; in a
    /// big-endian file the 16 bytes are one big-endian number, so the high half comes first.
    mutating func readVector128(_ field: @autoclosure () -> String) throws(ParseError) -> Vector128 {
        let first = try read(UInt64.self, field())
        let second = try read(UInt64.self, field())
        return endianness == .little ? Vector128(low: first, high: second) : Vector128(low: second, high: first)
    }

    /// Reads `count` 128-bit registers (count checked against the bytes left).
    mutating func readVectors(count: Int, _ field: @autoclosure () -> String) throws(ParseError) -> [Vector128] {
        try checkCount(count, elementSize: 16, field())
        var values = [Vector128]()
        values.reserveCapacity(count)
        for index in 0..<count {
            values.append(try readVector128("\(field())[\(index)]"))
        }
        return values
    }
}
