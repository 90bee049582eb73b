/// The processor families the walker unwinds.
public enum StackArchitecture: String, Sendable, Codable, CaseIterable {
    case x86
    case amd64
    case arm
    case arm64

    /// Bytes in a pointer and in a stack slot.
    public var wordSize: Int {
        switch self {
        case .x86, .arm: 4
        case .amd64, .arm64: 8
        }
    }

    /// Register names in the order reports print them (minidump_stackwalk's order).
    public var registerNames: [String] {
        // Built once: frames and reports ask for the names over and over.
        switch self {
        case .x86: Self.x86Names
        case .amd64: Self.amd64Names
        case .arm: Self.armNames
        case .arm64: Self.arm64Names
        }
    }

    private static let x86Names = ["eip", "esp", "ebp", "ebx", "esi", "edi", "eax", "ecx", "edx", "eflags"]
    private static let amd64Names =
        ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp"] + (8...15).map { "r\($0)" } + ["rip"]
    private static let armNames = (0...12).map { "r\($0)" } + ["sp", "lr", "pc"]
    private static let arm64Names = (0...28).map { "x\($0)" } + ["fp", "lr", "sp", "pc"]

    /// The index of the instruction pointer in `registerNames`.
    public var pcIndex: Int {
        switch self {
        case .x86: 0
        case .amd64: 16
        case .arm: 15
        case .arm64: 32
        }
    }

    /// The index of the stack pointer in `registerNames`.
    public var spIndex: Int {
        switch self {
        case .x86: 1
        case .amd64: 7
        case .arm: 13
        case .arm64: 31
        }
    }

    /// The index of the conventional frame pointer (ebp, rbp, r11, x29).
    public var fpIndex: Int {
        switch self {
        case .x86: 2
        case .amd64: 6
        case .arm: 11
        case .arm64: 29
        }
    }

    /// The index of the link register on ARM, nil elsewhere.
    public var lrIndex: Int? {
        switch self {
        case .x86, .amd64: nil
        case .arm: 14
        case .arm64: 30
        }
    }

    /// Register names that CFI and frame-data programs use for the same register.
    static func aliases(_ architecture: StackArchitecture) -> [String: Int] {
        var table = [String: Int]()
        for (index, name) in architecture.registerNames.enumerated() { table[name] = index }
        switch architecture {
        case .x86: table["efl"] = 9
        case .amd64: break
        case .arm:
            table["r13"] = 13
            table["r14"] = 14
            table["r15"] = 15
            table["fp"] = 11
        case .arm64:
            table["x29"] = 29
            table["x30"] = 30
            table["x31"] = 31
        }
        return table
    }
}

/// The registers of one frame, each either recovered (with a value) or unknown.
///
/// Values are kept at the architecture's width: 32-bit architectures truncate on every store, so
/// arithmetic in CFI programs cannot leave garbage in the upper half.
public struct RegisterSet: Sendable, Equatable {
    public let architecture: StackArchitecture
    private var values: [UInt64]
    private var validMask: UInt64

    private static let nameTables: [StackArchitecture: [String: Int]] = Dictionary(
        uniqueKeysWithValues: StackArchitecture.allCases.map { ($0, StackArchitecture.aliases($0)) })

    /// An empty set: every register unknown.
    public init(architecture: StackArchitecture) {
        self.architecture = architecture
        values = Array(repeating: 0, count: architecture.registerNames.count)
        validMask = 0
    }

    /// The index of a register by any of its names (`rip`, `$rip`, `x29`, `fp`), nil if unknown.
    public static func index(of name: some StringProtocol, in architecture: StackArchitecture) -> Int? {
        let bare = name.hasPrefix("$") ? String(name.dropFirst()) : String(name)
        return nameTables[architecture]?[bare]
    }

    /// The value at `index`, or nil when it was not recovered.
    public subscript(index: Int) -> UInt64? {
        get {
            guard index >= 0, index < values.count, validMask & (1 << UInt64(index)) != 0 else { return nil }
            return values[index]
        }
        set {
            guard index >= 0, index < values.count else { return }
            if let newValue {
                values[index] = architecture.wordSize == 4 ? newValue & 0xFFFF_FFFF : newValue
                validMask |= 1 << UInt64(index)
            } else {
                validMask &= ~(1 << UInt64(index))
            }
        }
    }

    /// The value of a register by name, or nil when unknown or not recovered.
    public subscript(name: some StringProtocol) -> UInt64? {
        get { Self.index(of: name, in: architecture).flatMap { self[$0] } }
        set {
            guard let index = Self.index(of: name, in: architecture) else { return }
            self[index] = newValue
        }
    }

    /// The instruction pointer.
    public var pc: UInt64? {
        get { self[architecture.pcIndex] }
        set { self[architecture.pcIndex] = newValue }
    }

    /// The stack pointer.
    public var sp: UInt64? {
        get { self[architecture.spIndex] }
        set { self[architecture.spIndex] = newValue }
    }

    /// The frame pointer.
    public var fp: UInt64? {
        get { self[architecture.fpIndex] }
        set { self[architecture.fpIndex] = newValue }
    }

    /// Recovered registers in report order, with their names.
    public var recovered: [(name: String, value: UInt64)] {
        architecture.registerNames.enumerated().compactMap { index, name in self[index].map { (name, $0) } }
    }

    /// How many registers are recovered.
    public var recoveredCount: Int { validMask.nonzeroBitCount }
}
