import BinaryReading

/// `MEMORY_BASIC_INFORMATION.State` values (`MEM_COMMIT`, ...); unknown values survive.
public struct MemoryState: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MEM_COMMIT`.
    public static let commit = MemoryState(rawValue: 0x1000)
    /// `MEM_RESERVE`.
    public static let reserve = MemoryState(rawValue: 0x2000)
    /// `MEM_FREE`.
    public static let free = MemoryState(rawValue: 0x10000)

    /// The C name, or `0x…` for an unknown value.
    public var description: String {
        switch self {
        case .commit: return "MEM_COMMIT"
        case .reserve: return "MEM_RESERVE"
        case .free: return "MEM_FREE"
        default: return hex0x(rawValue)
        }
    }
}

/// `MEMORY_BASIC_INFORMATION.Type` values (`MEM_IMAGE`, ...); unknown values survive.
public struct MemoryType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MEM_PRIVATE`.
    public static let `private` = MemoryType(rawValue: 0x20000)
    /// `MEM_MAPPED`.
    public static let mapped = MemoryType(rawValue: 0x40000)
    /// `MEM_IMAGE`.
    public static let image = MemoryType(rawValue: 0x100_0000)

    /// The C name, `0` for none (free regions), or `0x…` for an unknown value.
    public var description: String {
        switch self {
        case .private: return "MEM_PRIVATE"
        case .mapped: return "MEM_MAPPED"
        case .image: return "MEM_IMAGE"
        default: return rawValue == 0 ? "0" : hex0x(rawValue)
        }
    }
}

/// Page protection (`PAGE_*` constants): one access value in the low byte, modifier bits above.
public struct MemoryProtection: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `PAGE_NOACCESS`.
    public static let noAccess = MemoryProtection(rawValue: 0x01)
    /// `PAGE_READONLY`.
    public static let readOnly = MemoryProtection(rawValue: 0x02)
    /// `PAGE_READWRITE`.
    public static let readWrite = MemoryProtection(rawValue: 0x04)
    /// `PAGE_WRITECOPY`.
    public static let writeCopy = MemoryProtection(rawValue: 0x08)
    /// `PAGE_EXECUTE`.
    public static let execute = MemoryProtection(rawValue: 0x10)
    /// `PAGE_EXECUTE_READ`.
    public static let executeRead = MemoryProtection(rawValue: 0x20)
    /// `PAGE_EXECUTE_READWRITE`.
    public static let executeReadWrite = MemoryProtection(rawValue: 0x40)
    /// `PAGE_EXECUTE_WRITECOPY`.
    public static let executeWriteCopy = MemoryProtection(rawValue: 0x80)
    /// `PAGE_GUARD` (modifier).
    public static let guardPage = MemoryProtection(rawValue: 0x100)
    /// `PAGE_NOCACHE` (modifier).
    public static let noCache = MemoryProtection(rawValue: 0x200)
    /// `PAGE_WRITECOMBINE` (modifier).
    public static let writeCombine = MemoryProtection(rawValue: 0x400)

    static let accessNames: [(UInt32, String)] = [
        (0x01, "PAGE_NOACCESS"), (0x02, "PAGE_READONLY"), (0x04, "PAGE_READWRITE"), (0x08, "PAGE_WRITECOPY"),
        (0x10, "PAGE_EXECUTE"), (0x20, "PAGE_EXECUTE_READ"), (0x40, "PAGE_EXECUTE_READWRITE"),
        (0x80, "PAGE_EXECUTE_WRITECOPY"),
    ]
    static let modifierNames: [(UInt32, String)] = [(0x100, "PAGE_GUARD"), (0x200, "PAGE_NOCACHE"), (0x400, "PAGE_WRITECOMBINE")]

    /// Whether the pages can be read (any access but `PAGE_NOACCESS` and `PAGE_EXECUTE`).
    public var isReadable: Bool { rawValue & 0xEE != 0 }
    /// Whether the pages can be written (including copy-on-write).
    public var isWritable: Bool { rawValue & 0xCC != 0 }
    /// Whether the pages can be executed.
    public var isExecutable: Bool { rawValue & 0xF0 != 0 }

    /// The C names joined with `|` (`PAGE_EXECUTE_READ|PAGE_GUARD`), `0` for none; unknown bits as hex.
    public var description: String {
        if rawValue == 0 { return "0" }
        var names = [String]()
        var left = rawValue
        for (bit, name) in Self.accessNames + Self.modifierNames where left & bit != 0 {
            names.append(name)
            left &= ~bit
        }
        if left != 0 { names.append(hex0x(left)) }
        return names.joined(separator: "|")
    }
}

/// `MINIDUMP_MEMORY_INFO` (48 bytes): one region of the address space, as `VirtualQuery` saw it.
public struct MemoryInfo: Sendable, Equatable, Codable {
    /// `BaseAddress`.
    public var baseAddress: UInt64
    /// `AllocationBase`.
    public var allocationBase: UInt64
    /// `AllocationProtect`: protection when the allocation was made.
    public var allocationProtect: MemoryProtection
    /// `__alignment1`.
    public var alignment1: UInt32
    /// `RegionSize`.
    public var regionSize: UInt64
    /// `State`.
    public var state: MemoryState
    /// `Protect`: current protection.
    public var protect: MemoryProtection
    /// `Type`.
    public var type: MemoryType
    /// `__alignment2`.
    public var alignment2: UInt32

    /// Size on disk.
    public static let size = 48

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "MINIDUMP_MEMORY_INFO"
        baseAddress = try reader.read(UInt64.self, field + ".BaseAddress")
        allocationBase = try reader.read(UInt64.self, field + ".AllocationBase")
        allocationProtect = MemoryProtection(rawValue: try reader.read(UInt32.self, field + ".AllocationProtect"))
        alignment1 = try reader.read(UInt32.self, field + ".__alignment1")
        regionSize = try reader.read(UInt64.self, field + ".RegionSize")
        state = MemoryState(rawValue: try reader.read(UInt32.self, field + ".State"))
        protect = MemoryProtection(rawValue: try reader.read(UInt32.self, field + ".Protect"))
        type = MemoryType(rawValue: try reader.read(UInt32.self, field + ".Type"))
        alignment2 = try reader.read(UInt32.self, field + ".__alignment2")
    }

    /// End of the region (exclusive), saturating at the top of the address space.
    public var endAddress: UInt64 {
        let (end, overflow) = baseAddress.addingReportingOverflow(regionSize)
        return overflow ? UInt64.max : end
    }
}

/// `MINIDUMP_MEMORY_INFO_LIST` (16-byte header with a 64-bit count): the process's address space.
public struct MemoryInfoList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.memoryInfoList
    /// The regions in stream order (ascending addresses as dbghelp writes them).
    public var regions: [MemoryInfo]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let entries = try dump.sizedListEntries(
            bytes, minimumEntrySize: MemoryInfo.size, field: "MINIDUMP_MEMORY_INFO_LIST", countIs64Bit: true)
        var regions = [MemoryInfo]()
        regions.reserveCapacity(entries.count)
        for entry in entries {
            var reader = dump.reader(entry)
            regions.append(try MemoryInfo(parsing: &reader))
        }
        self.regions = regions
    }

    /// The region holding `address`, if any.
    public func region(containing address: UInt64) -> MemoryInfo? {
        regions.first { address >= $0.baseAddress && address < $0.endAddress }
    }
}
