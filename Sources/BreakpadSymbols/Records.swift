/// `MODULE <os> <arch> <debug id> <debug file>`: the first line of a .sym file.
public struct ModuleRecord: Sendable, Equatable, Codable {
    public var os: String
    public var arch: String
    /// The debug id (GUID + age, or ELF/Mach-O id), uppercase hex.
    public var id: String
    /// The debug file name (e.g. `test_app.pdb`).
    public var name: String

    public init(os: String, arch: String, id: String, name: String) {
        self.os = os
        self.arch = arch
        self.id = id
        self.name = name
    }
}

/// A source line range inside a function: `<address> <size> <line> <file>`.
public struct LineRecord: Sendable, Equatable, Codable {
    public var address: UInt64
    public var size: UInt64
    /// Line number; 0 when the compiler gave none (some writers emit negative numbers, kept as-is).
    public var line: Int64
    /// Index into the FILE records.
    public var file: UInt32

    public init(address: UInt64, size: UInt64, line: Int64, file: UInt32) {
        self.address = address
        self.size = size
        self.line = line
        self.file = file
    }
}

/// `INLINE <depth> <call line> <call file> <origin> (<address> <size>)+`: code inlined into a function.
///
/// The first version of the record (Breakpad before 2022) had no call-site file; such records
/// are read with `callFile` nil (seen in breakpad's `linux_inline.old.sym`).
public struct InlineRecord: Sendable, Equatable, Codable {
    /// Nesting depth: 0 is inlined directly into the function.
    public var depth: UInt32
    /// Line of the call site in the caller.
    public var callLine: UInt32
    /// FILE index of the call site, absent in the old format.
    public var callFile: UInt32?
    /// INLINE_ORIGIN index naming the inlined function.
    public var origin: UInt32
    /// Address ranges the inlined code covers.
    public var ranges: [AddressRange]

    public init(depth: UInt32, callLine: UInt32, callFile: UInt32?, origin: UInt32, ranges: [AddressRange]) {
        self.depth = depth
        self.callLine = callLine
        self.callFile = callFile
        self.origin = origin
        self.ranges = ranges
    }
}

/// An address range `[address, address + size)`.
public struct AddressRange: Sendable, Equatable, Codable {
    public var address: UInt64
    public var size: UInt64

    public init(address: UInt64, size: UInt64) {
        self.address = address
        self.size = size
    }

    /// Whether `rva` lies in the range (saturating at the top of the address space).
    public func contains(_ rva: UInt64) -> Bool {
        rva >= address && rva - address < size
    }
}

/// `FUNC [m] <address> <size> <parameter size> <name>` with its line and inline records.
public struct FunctionRecord: Sendable, Equatable, Codable {
    public var address: UInt64
    public var size: UInt64
    public var parameterSize: UInt64
    /// `m`: the same code serves several names (identical code folding).
    public var isMultiple: Bool
    public var name: String
    /// Line records in file order.
    public var lines: [LineRecord]
    /// Inline records in file order.
    public var inlines: [InlineRecord]

    public init(
        address: UInt64, size: UInt64, parameterSize: UInt64, isMultiple: Bool, name: String,
        lines: [LineRecord] = [], inlines: [InlineRecord] = []
    ) {
        self.address = address
        self.size = size
        self.parameterSize = parameterSize
        self.isMultiple = isMultiple
        self.name = name
        self.lines = lines
        self.inlines = inlines
    }
}

/// `PUBLIC [m] <address> <parameter size> <name>`.
public struct PublicRecord: Sendable, Equatable, Codable {
    public var address: UInt64
    public var parameterSize: UInt64
    public var isMultiple: Bool
    public var name: String

    public init(address: UInt64, parameterSize: UInt64, isMultiple: Bool, name: String) {
        self.address = address
        self.parameterSize = parameterSize
        self.isMultiple = isMultiple
        self.name = name
    }
}

/// `STACK WIN <type> <rva> <code size> <prolog> <epilog> <params> <saved regs> <locals> <max stack> <has program> <program or allocates bp>`.
public struct StackWinRecord: Sendable, Equatable, Codable {
    /// The kind of frame data: 0 FPO, 4 FrameData (the ones Breakpad writes), others kept.
    public var type: UInt8
    public var rva: UInt64
    public var codeSize: UInt64
    public var prologSize: UInt64
    public var epilogSize: UInt64
    public var parameterSize: UInt64
    public var savedRegisterSize: UInt64
    public var localSize: UInt64
    public var maxStackSize: UInt64
    /// The postfix program that recovers the caller's registers (FrameData), if any.
    public var programString: String?
    /// For FPO records without a program: whether the function uses EBP as a frame pointer.
    public var allocatesBasePointer: Bool

    /// `FRAME_FPO`.
    public static let fpo: UInt8 = 0
    /// `FRAME_FRAMEDATA`.
    public static let frameData: UInt8 = 4

    public init(
        type: UInt8, rva: UInt64, codeSize: UInt64, prologSize: UInt64, epilogSize: UInt64, parameterSize: UInt64,
        savedRegisterSize: UInt64, localSize: UInt64, maxStackSize: UInt64, programString: String?, allocatesBasePointer: Bool
    ) {
        self.type = type
        self.rva = rva
        self.codeSize = codeSize
        self.prologSize = prologSize
        self.epilogSize = epilogSize
        self.parameterSize = parameterSize
        self.savedRegisterSize = savedRegisterSize
        self.localSize = localSize
        self.maxStackSize = maxStackSize
        self.programString = programString
        self.allocatesBasePointer = allocatesBasePointer
    }
}

/// `STACK CFI INIT <address> <size> <rules>` and the `STACK CFI <address> <rules>` deltas after it.
public struct CFIRecord: Sendable, Equatable, Codable {
    /// A rule change taking effect at `address`.
    public struct Delta: Sendable, Equatable, Codable {
        public var address: UInt64
        public var rules: String

        public init(address: UInt64, rules: String) {
            self.address = address
            self.rules = rules
        }
    }

    public var address: UInt64
    public var size: UInt64
    /// The initial rules, e.g. `.cfa: $rsp 8 + .ra: .cfa -8 + ^`.
    public var rules: String
    /// Changes in address order.
    public var deltas: [Delta]

    public init(address: UInt64, size: UInt64, rules: String, deltas: [Delta] = []) {
        self.address = address
        self.size = size
        self.rules = rules
        self.deltas = deltas
    }

    /// The rules in force at `rva`: the INIT rules followed by every delta at or before it.
    public func rules(at rva: UInt64) -> [String] {
        [rules] + deltas.filter { $0.address <= rva }.map(\.rules)
    }
}
