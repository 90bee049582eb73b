import BinaryReading

extension MinidumpFile {
    /// Pointer size of the dumped process in bytes, from the SystemInfo stream's architecture.
    ///
    /// Breakpad's Linux streams (auxv, r_debug) store native words, so they cannot be read
    /// without it.
    func pointerSize(for field: String, at offset: Int64) throws(ParseError) -> Int {
        let info = try stream(SystemInfo.self)
        guard let info, let size = info.processorArchitecture.pointerSize else {
            throw ParseError(
                offset: offset, field: field,
                kind: .invalidValue("pointer size unknown: the dump has no SystemInfo stream with a known architecture"))
        }
        return size
    }
}

/// An auxiliary vector type (`AT_*` from elf.h); unknown values survive.
public struct AuxvType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `AT_NULL`: end of the vector.
    public static let null = AuxvType(rawValue: 0)
    /// `AT_PHDR`: address of the program headers.
    public static let phdr = AuxvType(rawValue: 3)
    /// `AT_PHENT`.
    public static let phent = AuxvType(rawValue: 4)
    /// `AT_PHNUM`.
    public static let phnum = AuxvType(rawValue: 5)
    /// `AT_PAGESZ`.
    public static let pageSize = AuxvType(rawValue: 6)
    /// `AT_BASE`: load address of the dynamic linker.
    public static let base = AuxvType(rawValue: 7)
    /// `AT_ENTRY`: the program's entry point.
    public static let entry = AuxvType(rawValue: 9)
    /// `AT_PLATFORM`.
    public static let platform = AuxvType(rawValue: 15)
    /// `AT_HWCAP`.
    public static let hwcap = AuxvType(rawValue: 16)
    /// `AT_RANDOM`.
    public static let random = AuxvType(rawValue: 25)
    /// `AT_HWCAP2`.
    public static let hwcap2 = AuxvType(rawValue: 26)
    /// `AT_EXECFN`: address of the executable's path.
    public static let execfn = AuxvType(rawValue: 31)
    /// `AT_SYSINFO_EHDR`: load address of the vDSO.
    public static let sysinfoEhdr = AuxvType(rawValue: 33)

    public var description: String {
        switch rawValue {
        case 0: return "AT_NULL"
        case 3: return "AT_PHDR"
        case 4: return "AT_PHENT"
        case 5: return "AT_PHNUM"
        case 6: return "AT_PAGESZ"
        case 7: return "AT_BASE"
        case 9: return "AT_ENTRY"
        case 15: return "AT_PLATFORM"
        case 16: return "AT_HWCAP"
        case 25: return "AT_RANDOM"
        case 26: return "AT_HWCAP2"
        case 31: return "AT_EXECFN"
        case 33: return "AT_SYSINFO_EHDR"
        default: return "AT_\(rawValue)"
        }
    }
}

/// One `Elf32_auxv_t` (8 bytes) or `Elf64_auxv_t` (16 bytes): a type and a value.
public struct AuxvEntry: Sendable, Equatable, Codable {
    /// `a_type`.
    public var type: AuxvType
    /// `a_un.a_val`.
    public var value: UInt64
}

/// Breakpad's `MD_LINUX_AUXV`: /proc/self/auxv, pairs of pointer-size words.
///
/// The word size comes from the SystemInfo stream's architecture. Bytes after the last
/// whole pair are reported in `warnings`.
public struct LinuxAuxv: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxAuxv
    /// Bytes per word (4 or 8).
    public var pointerSize: Int
    /// The entries in file order, up to and including `AT_NULL`.
    public var entries: [AuxvEntry]
    /// Problems that did not stop the stream from being read.
    public var warnings: [String]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        pointerSize = try dump.pointerSize(for: "MD_LINUX_AUXV", at: bytes.fileOffset)
        var reader = dump.reader(bytes)
        var entries = [AuxvEntry]()
        let count = bytes.count / (2 * pointerSize)
        entries.reserveCapacity(count)
        for index in 0..<count {
            let type: UInt64
            let value: UInt64
            if pointerSize == 8 {
                type = try reader.read(UInt64.self, "MD_LINUX_AUXV[\(index)].a_type")
                value = try reader.read(UInt64.self, "MD_LINUX_AUXV[\(index)].a_val")
            } else {
                type = UInt64(try reader.read(UInt32.self, "MD_LINUX_AUXV[\(index)].a_type"))
                value = UInt64(try reader.read(UInt32.self, "MD_LINUX_AUXV[\(index)].a_val"))
            }
            entries.append(AuxvEntry(type: AuxvType(rawValue: type), value: value))
        }
        self.entries = entries
        warnings = reader.isAtEnd ? [] : ["MD_LINUX_AUXV: \(reader.remaining) bytes after the last whole entry ignored"]
    }

    /// The value of the first entry of `type`, if any.
    public subscript(type: AuxvType) -> UInt64? {
        entries.first { $0.type == type }?.value
    }
}
