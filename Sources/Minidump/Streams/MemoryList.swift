import BinaryReading

/// `MINIDUMP_MEMORY_LIST`: captured memory ranges, each with its own location.
public struct MemoryList: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.memoryList
    /// The ranges in stream order.
    public var ranges: [MemoryDescriptor]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let (count, entries) = try dump.listEntries(
            bytes, entrySize: MemoryDescriptor.size, field: "MINIDUMP_MEMORY_LIST")
        var reader = dump.reader(entries)
        var ranges = [MemoryDescriptor]()
        ranges.reserveCapacity(count)
        for _ in 0..<count {
            ranges.append(try MemoryDescriptor(parsing: &reader, "MINIDUMP_MEMORY_DESCRIPTOR"))
        }
        self.ranges = ranges
    }
}

/// `MINIDUMP_MEMORY_DESCRIPTOR64` (16 bytes): a range whose bytes follow the previous range's.
public struct MemoryDescriptor64: Sendable, Equatable, Codable {
    /// `StartOfMemoryRange`.
    public var startOfMemoryRange: UInt64
    /// `DataSize`.
    public var dataSize: UInt64
    /// File offset of the range's bytes, computed from `BaseRva` and the sizes before it.
    public var fileOffset: UInt64
}

/// `MINIDUMP_MEMORY64_LIST`: the memory of a full dump, stored back to back from `BaseRva`.
public struct Memory64List: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.memory64List
    /// `BaseRva`: file offset of the first range's bytes.
    public var baseRva: UInt64
    /// The ranges in stream order, each with its file offset.
    public var ranges: [MemoryDescriptor64]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        let count = try reader.read(UInt64.self, "MINIDUMP_MEMORY64_LIST.NumberOfMemoryRanges")
        baseRva = try reader.read(UInt64.self, "MINIDUMP_MEMORY64_LIST.BaseRva")
        guard let intCount = Int(exactly: count) else {
            throw ParseError(
                offset: bytes.fileOffset, field: "MINIDUMP_MEMORY64_LIST.NumberOfMemoryRanges",
                kind: .countTooLarge(count: Int64.max, limit: Int64(reader.remaining / 16)))
        }
        try reader.checkCount(intCount, elementSize: 16, "MINIDUMP_MEMORY64_LIST.NumberOfMemoryRanges")
        var ranges = [MemoryDescriptor64]()
        ranges.reserveCapacity(intCount)
        var offset = baseRva
        for index in 0..<intCount {
            let start = try reader.read(UInt64.self, "MINIDUMP_MEMORY_DESCRIPTOR64.StartOfMemoryRange")
            let size = try reader.read(UInt64.self, "MINIDUMP_MEMORY_DESCRIPTOR64.DataSize")
            ranges.append(MemoryDescriptor64(startOfMemoryRange: start, dataSize: size, fileOffset: offset))
            let (next, overflow) = offset.addingReportingOverflow(size)
            guard !overflow else {
                throw ParseError(
                    offset: reader.fileOffset - 8, field: "MINIDUMP_MEMORY_DESCRIPTOR64[\(index)].DataSize",
                    kind: .invalidValue("the ranges' sizes overflow 64 bits"))
            }
            offset = next
        }
        self.ranges = ranges
    }
}
