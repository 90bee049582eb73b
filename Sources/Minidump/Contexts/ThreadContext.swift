import BinaryReading

/// One register's name (as debuggers print it: "eip", "rip", "pc", "x29"/"fp", "lr", "sp") and value.
public struct RegisterValue: Sendable, Equatable, Codable {
    public var name: String
    public var value: UInt64

    public init(name: String, value: UInt64) {
        self.name = name
        self.value = value
    }
}

/// The register context of a thread, as the dump's writer captured it.
public enum ThreadContext: Sendable, Equatable, Codable {
    case x86(ContextX86)
    case amd64(ContextAMD64)
    case arm(ContextARM)
    case arm64(ContextARM64)

    /// eip, rip or pc.
    public var instructionPointer: UInt64 {
        switch self {
        case .x86(let context): return UInt64(context.eip)
        case .amd64(let context): return context.rip
        case .arm(let context): return UInt64(context.pc)
        case .arm64(let context): return context.pc
        }
    }

    /// esp, rsp or sp.
    public var stackPointer: UInt64 {
        switch self {
        case .x86(let context): return UInt64(context.esp)
        case .amd64(let context): return context.rsp
        case .arm(let context): return UInt64(context.sp)
        case .arm64(let context): return context.sp
        }
    }

    /// ebp, rbp, r11 (ARM; Apple platforms use r7, see `ContextARM.fp`) or x29.
    public var framePointer: UInt64? {
        switch self {
        case .x86(let context): return UInt64(context.ebp)
        case .amd64(let context): return context.rbp
        case .arm(let context): return UInt64(context.fp)
        case .arm64(let context): return context.fp
        }
    }

    /// General registers in the order minidump-stackwalk prints them (e.g. x86: eip esp ebp ebx esi edi eax ecx edx efl).
    public var registers: [RegisterValue] {
        switch self {
        case .x86(let context): return context.registers
        case .amd64(let context): return context.registers
        case .arm(let context): return context.registers
        case .arm64(let context): return context.registers
        }
    }

    /// The CPU the context belongs to.
    public var architecture: ProcessorArchitecture {
        switch self {
        case .x86: return .x86
        case .amd64: return .amd64
        case .arm: return .arm
        case .arm64: return .arm64
        }
    }

    /// `ContextFlags` as written (an old-layout ARM64 context keeps its low 32 bits).
    public var contextFlags: ContextFlags {
        switch self {
        case .x86(let context): return context.contextFlags
        case .amd64(let context): return context.contextFlags
        case .arm(let context): return context.contextFlags
        case .arm64(let context): return context.contextFlags
        }
    }

    /// Register groups the flags say are valid.
    public var validGroups: RegisterGroups {
        switch self {
        case .x86(let context): return context.validGroups
        case .amd64(let context): return context.validGroups
        case .arm(let context): return context.validGroups
        case .arm64(let context): return context.validGroups
        }
    }

    /// The register named `name` in `registers`, if any.
    public func register(_ name: String) -> UInt64? {
        registers.first { $0.name == name }?.value
    }
}

/// The on-disk layouts a thread context can have.
enum ContextLayout: CaseIterable {
    case x86, amd64, armBreakpad, armWindows, arm64, arm64Old

    /// Size of the structure.
    var size: Int {
        switch self {
        case .x86: return ContextX86.size
        case .amd64: return ContextAMD64.size
        case .armBreakpad: return ContextARM.size
        case .armWindows: return WindowsContextARM.size
        case .arm64: return ContextARM64.size
        case .arm64Old: return ContextARM64Old.size
        }
    }

    /// Whether SystemInfo's `architecture` names the CPU of this layout.
    func fits(_ architecture: ProcessorArchitecture) -> Bool {
        switch self {
        case .x86: return architecture == .x86 || architecture == .x86OnWin64
        case .amd64: return architecture == .amd64
        case .armBreakpad, .armWindows: return architecture == .arm
        case .arm64, .arm64Old: return architecture == .arm64 || architecture == .arm64Old
        }
    }
}

extension MinidumpFile {
    /// Decodes the context at `location`; `architecture` (from SystemInfo, may be nil) disambiguates layouts.
    ///
    /// The layout is chosen by the CPU-type bits of `ContextFlags` (at offset 0, or 0x30 for
    /// AMD64) and by the context's size, which must hold the whole structure; larger contexts are
    /// accepted (XSAVE data or writer padding follows). When more than one layout fits, the one
    /// SystemInfo names wins, then the one whose size is exact.
    public func threadContext(
        at location: LocationDescriptor, architecture: ProcessorArchitecture?
    ) throws(ParseError) -> ThreadContext {
        let bytes = try self.bytes(at: location, field: "thread context")
        let candidates = Self.contextLayouts(bytes, endianness: endianness, architecture: architecture)
        let chosen =
            candidates.first { layout in architecture.map { layout.fits($0) } ?? false }
            ?? candidates.first { $0.size == bytes.count }
            ?? candidates.first
        guard let layout = chosen else {
            let flags0 =
                bytes.count >= 4
                ? hex0x(try bytes.load(UInt32.self, at: 0, endianness: endianness, field: "ContextFlags")) : "none"
            let flags30 =
                bytes.count >= ContextAMD64.contextFlagsOffset + 4
                ? hex0x(
                    try bytes.load(
                        UInt32.self, at: ContextAMD64.contextFlagsOffset, endianness: endianness, field: "ContextFlags"))
                : "none"
            throw ParseError(
                offset: bytes.fileOffset, field: "thread context",
                kind: .invalidValue(
                    "context of \(bytes.count) bytes with ContextFlags \(flags0) (offset 0) / \(flags30) (offset 0x30) matches no known layout"
                        + (architecture.map { " for architecture \($0)" } ?? "")))
        }
        switch layout {
        case .x86: return .x86(try ContextX86(parsing: bytes, in: self))
        case .amd64: return .amd64(try ContextAMD64(parsing: bytes, in: self))
        case .armBreakpad: return .arm(try ContextARM(parsing: bytes, in: self))
        case .armWindows: return .arm(ContextARM(try WindowsContextARM(parsing: bytes, in: self)))
        case .arm64: return .arm64(try ContextARM64(parsing: bytes, in: self))
        case .arm64Old: return .arm64(ContextARM64(try ContextARM64Old(parsing: bytes, in: self)))
        }
    }

    /// Decodes a Windows or Breakpad CONTEXT found outside a minidump (a full user-mode dump's thread
    /// table, a kernel triage dump), choosing the layout as `threadContext(at:architecture:)` does.
    public static func decodeContext(
        _ bytes: ByteView, endianness: Endianness = .little, architecture: ProcessorArchitecture?
    ) throws(ParseError) -> ThreadContext {
        let candidates = contextLayouts(bytes, endianness: endianness, architecture: architecture)
        let chosen =
            candidates.first { layout in architecture.map { layout.fits($0) } ?? false }
            ?? candidates.first { $0.size == bytes.count } ?? candidates.first
        switch chosen {
        case .x86?: return .x86(try ContextX86(parsing: bytes, endianness: endianness))
        case .amd64?: return .amd64(try ContextAMD64(parsing: bytes, endianness: endianness))
        case .armBreakpad?: return .arm(try ContextARM(parsing: bytes, endianness: endianness))
        case .armWindows?: return .arm(ContextARM(try WindowsContextARM(parsing: bytes, endianness: endianness)))
        case .arm64?: return .arm64(try ContextARM64(parsing: bytes, endianness: endianness))
        case .arm64Old?: return .arm64(ContextARM64(try ContextARM64Old(parsing: bytes, endianness: endianness)))
        case nil:
            throw ParseError(
                offset: bytes.fileOffset, field: "thread context",
                kind: .invalidValue("context of \(bytes.count) bytes matches no known layout"))
        }
    }

    /// The layouts whose CPU-type bits and size match `bytes`.
    static func contextLayouts(
        _ bytes: ByteView, endianness: Endianness, architecture: ProcessorArchitecture?
    ) -> [ContextLayout] {
        var layouts = [ContextLayout]()
        let size = bytes.count
        if size >= ContextAMD64.size,
            let flags = try? bytes.load(UInt32.self, at: ContextAMD64.contextFlagsOffset, endianness: endianness, field: ""),
            ContextFlags(rawValue: flags).cpuType == ContextFlags.amd64.rawValue
        {
            layouts.append(.amd64)
        }
        if let raw = try? bytes.load(UInt32.self, at: 0, endianness: endianness, field: "") {
            let flags = ContextFlags(rawValue: raw)
            switch flags.cpuType {
            case ContextFlags.x86.rawValue where size >= ContextX86.size: layouts.append(.x86)
            case ContextFlags.arm64.rawValue where size >= ContextARM64.size: layouts.append(.arm64)
            case ContextFlags.arm.rawValue where size >= ContextARM.size: layouts.append(.armBreakpad)
            case ContextFlags.armWindows.rawValue where size >= WindowsContextARM.size: layouts.append(.armWindows)
            case ContextFlags.arm64Old.rawValue where size >= ContextARM64Old.size: layouts.append(.arm64Old)
            case 0 where raw & ContextFlags.armOld.rawValue != 0 && architecture == .arm && size >= ContextARM.size:
                layouts.append(.armBreakpad)
            default: break
            }
        }
        // The old ARM64 layout's flags are 64 bits wide: in a big-endian file the CPU type is in
        // the second 32-bit word.
        if endianness == .big, size >= ContextARM64Old.size,
            let raw = try? bytes.load(UInt64.self, at: 0, endianness: endianness, field: ""),
            raw >> 32 == 0, ContextFlags(rawValue: UInt32(raw)).cpuType == ContextFlags.arm64Old.rawValue
        {
            layouts.append(.arm64Old)
        }
        return layouts
    }
}
