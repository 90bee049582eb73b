import BinaryReading

/// The ARM64 exception directory of an image as the loader mapped it, read through a function that
/// returns bytes by RVA (a module's pages captured in a dump, or a PE file through its sections).
///
/// Nothing is read eagerly: the headers are read once to locate `.pdata`, then each lookup reads the
/// few entries a binary search visits and the one `.xdata` record it needs.
public struct ARM64LoadedUnwindTable: Sendable {
    /// Reads `count` bytes at `rva`, nil when they are not available.
    public typealias ReadBytes = (_ rva: UInt32, _ count: Int) -> [UInt8]?

    /// `IMAGE_FILE_HEADER.Machine`.
    public let machine: Machine
    /// RVA of the first `.pdata` entry.
    public let directoryRVA: UInt32
    /// Number of whole entries the directory holds.
    public let count: Int

    /// Entries looked at most, whatever the directory's size claims.
    public static let maximumEntries = 1 << 24

    /// Locates the exception directory through the image's DOS, NT and optional headers; nil when the
    /// headers cannot be read, the image is not ARM64 (or ARM64EC/X), or it has no exception directory.
    public init?(read: ReadBytes) {
        func word32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        guard let dos = Self.read(read, 0, 0x40), dos[0] == 0x4D, dos[1] == 0x5A else { return nil }  // "MZ"
        let ntOffset = word32(dos, 0x3C)
        // Signature (4) + IMAGE_FILE_HEADER (20) + the PE32+ optional header through the exception directory.
        guard ntOffset < 0x1000_0000, let nt = Self.read(read, ntOffset, 24 + 112 + 4 * 8), word32(nt, 0) == 0x0000_4550
        else { return nil }
        machine = Machine(rawValue: UInt16(nt[4]) | UInt16(nt[5]) << 8)
        guard machine == .arm64 || machine == .arm64EC || machine == .arm64X else { return nil }
        let optional = 24
        let magic = UInt16(nt[optional]) | UInt16(nt[optional + 1]) << 8
        guard magic == 0x20B else { return nil }  // PE32+
        // PE32+: NumberOfRvaAndSizes at 108, the data directories from 112; the exception directory is entry 3.
        guard word32(nt, optional + 108) > 3 else { return nil }
        directoryRVA = word32(nt, optional + 112 + 3 * 8)
        let size = word32(nt, optional + 112 + 3 * 8 + 4)
        count = min(Int(size) / ARM64RuntimeFunction.size, Self.maximumEntries)
        guard directoryRVA != 0, count > 0 else { return nil }
    }

    /// Exactly `count` bytes at `rva`: a reader that returns fewer is treated as one that has none.
    static func read(_ read: ReadBytes, _ rva: UInt32, _ count: Int) -> [UInt8]? {
        guard let bytes = read(rva, count), bytes.count == count else { return nil }
        return bytes
    }

    /// The entry at `index`.
    public func entry(_ index: Int, read: ReadBytes) -> ARM64RuntimeFunction? {
        guard index >= 0, index < count else { return nil }
        let (offset, overflow) = directoryRVA.addingReportingOverflow(UInt32(index * ARM64RuntimeFunction.size))
        guard !overflow, let bytes = Self.read(read, offset, ARM64RuntimeFunction.size) else { return nil }
        var reader = MappedFile(bytes: bytes).bytes.reader()
        return try? ARM64RuntimeFunction(parsing: &reader)
    }

    /// The last entry starting at or before `rva`, by binary search; nil when an entry the search
    /// needs cannot be read. The caller checks the function's length.
    public func function(containing rva: UInt32, read: ReadBytes) -> ARM64RuntimeFunction? {
        var low = 0
        var high = count
        while low < high {
            let middle = low + (high - low) / 2
            guard let entry = entry(middle, read: read) else { return nil }
            if entry.beginAddress <= rva { low = middle + 1 } else { high = middle }
        }
        return low > 0 ? entry(low - 1, read: read) : nil
    }

    /// The unwind data of `function`: packed in the entry, or the `.xdata` record it points to.
    public func unwind(for function: ARM64RuntimeFunction, read: ReadBytes) throws(ParseError) -> ARM64Unwind {
        switch function.flag {
        case 1, 2:
            return .packed(ARM64PackedUnwind(unwindData: function.unwindData))
        case 0:
            let rva = function.unwindData
            func fetch(_ at: UInt32, _ count: Int, _ field: String) throws(ParseError) -> [UInt8] {
                let (address, overflow) = rva.addingReportingOverflow(at)
                guard !overflow, let bytes = Self.read(read, address, count) else {
                    throw ParseError(
                        offset: Int64(rva) + Int64(at), field: field,
                        kind: .invalidValue(
                            "\(count) bytes at RVA 0x\(String(UInt64(rva) + UInt64(at), radix: 16)) are not available"))
                }
                return bytes
            }
            let header = try fetch(0, 4, ".xdata header")
            let word = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24
            var epilogCount = (word >> 22) & 0x1F
            var codeWords = word >> 27
            var headerSize: UInt32 = 4
            if epilogCount == 0 && codeWords == 0 {
                let extended = try fetch(4, 4, ".xdata extension word")
                epilogCount = UInt32(extended[0]) | UInt32(extended[1]) << 8
                codeWords = UInt32(extended[2])
                headerSize = 8
            }
            let singleEpilog = (word >> 21) & 1 != 0
            let hasHandler = (word >> 20) & 1 != 0
            // At most 8 + 0xFFFF * 4 + 0xFF * 4 + 4 bytes: bounded by the fields' widths.
            let size = headerSize + (singleEpilog ? 0 : epilogCount * 4) + codeWords * 4 + (hasHandler ? 4 : 0)
            let bytes = try fetch(0, Int(size), ".xdata")
            return .unpacked(try ARM64UnwindInfo(parsing: MappedFile(bytes: bytes, name: ".xdata").bytes, rva: rva))
        default:
            throw ParseError(
                offset: Int64(directoryRVA), field: "IMAGE_ARM64_RUNTIME_FUNCTION_ENTRY.Flag",
                kind: .invalidValue("reserved flag 3 for function at RVA 0x\(String(function.beginAddress, radix: 16))"))
        }
    }
}
