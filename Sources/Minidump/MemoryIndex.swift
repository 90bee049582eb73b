import BinaryReading

/// One captured range of the process's address space and its bytes in the file.
public struct MemoryRegion: Sendable, Equatable {
    /// Virtual address of the first byte.
    public var address: UInt64
    /// The captured bytes (possibly fewer than the descriptor claimed when the file is cut short).
    public var bytes: ByteView
    /// Where the range came from (`MemoryList`, `Memory64List`, `thread 0x1a2b stack`).
    public var source: String

    /// Address one past the last byte.
    public var endAddress: UInt64 { address &+ UInt64(bytes.count) }

    public static func == (lhs: MemoryRegion, rhs: MemoryRegion) -> Bool {
        lhs.address == rhs.address && lhs.bytes.count == rhs.bytes.count && lhs.bytes.fileOffset == rhs.bytes.fileOffset
    }
}

/// Reads the process's memory by virtual address from every range a dump captured.
///
/// Regions are sorted by address once; a read is a binary search, never a scan.
public struct MemoryIndex: Sendable {
    /// The regions sorted by address; overlapping duplicates (a stack listed in both the
    /// thread list and the memory list) are dropped.
    public let regions: [MemoryRegion]
    /// Ranges that could not be used (outside the file, wrapping the address space).
    public let warnings: [String]

    /// Indexes `regions`, dropping empty ones and ones that overlap an earlier one.
    public init(regions unsorted: [MemoryRegion], warnings: [String] = []) {
        var warnings = warnings
        var regions = unsorted
        regions.removeAll { $0.bytes.count == 0 }
        // Sorting positions by plain keys rather than the regions themselves keeps the sort free of
        // reference counting; Wine's dumps hold thousands of small ranges. Writers mostly list memory
        // in address order already, so the sort is often skipped.
        let keys = regions.map { (address: $0.address, count: $0.bytes.count) }
        let inOrder: (Int, Int) -> Bool = {
            keys[$0].address != keys[$1].address ? keys[$0].address < keys[$1].address : keys[$0].count > keys[$1].count
        }
        var order = Array(keys.indices)
        if zip(order, order.dropFirst()).contains(where: { !inOrder($0, $1) }) {
            order.sort(by: inOrder)
        }
        var kept = [MemoryRegion]()
        kept.reserveCapacity(regions.count)
        for position in order {
            let region = regions[position]
            let (_, wraps) = region.address.addingReportingOverflow(UInt64(region.bytes.count))
            if wraps {
                warnings.append("\(region.source): range at \(hex0x(region.address)) wraps past the top of the address space")
                continue
            }
            if let last = kept.last, region.address < last.endAddress {
                // The same range captured twice is normal (thread stacks are also in the memory
                // list); a genuine partial overlap is worth telling about.
                if !(region.address >= last.address && region.endAddress <= last.endAddress) {
                    warnings.append(
                        "\(region.source): range \(hex0x(region.address))-\(hex0x(region.endAddress)) overlaps \(last.source)")
                }
                continue
            }
            kept.append(region)
        }
        self.regions = kept
        self.warnings = warnings
    }

    /// The index of the region holding `address`, if any.
    public func regionIndex(containing address: UInt64) -> Int? {
        var low = 0
        var high = regions.count
        while low < high {
            let mid = (low + high) / 2
            if regions[mid].address <= address {
                low = mid + 1
            } else {
                high = mid
            }
        }
        guard low > 0 else { return nil }
        let candidate = regions[low - 1]
        return address < candidate.endAddress ? low - 1 : nil
    }

    /// The region holding `address`, if any.
    public func region(containing address: UInt64) -> MemoryRegion? {
        regionIndex(containing: address).map { regions[$0] }
    }

    /// The `count` bytes at `address`, when they lie inside one captured region.
    public func bytes(at address: UInt64, count: Int) -> ByteView? {
        guard count >= 0, let region = region(containing: address) else { return nil }
        let offset = Int(address - region.address)
        guard region.bytes.contains(offset: offset, size: count) else { return nil }
        return try? region.bytes.slice(offset: offset, size: count, field: "memory")
    }

    /// Reads an integer at `address` in the given byte order, if captured.
    public func read<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64, endianness: Endianness = .little) -> T? {
        guard let view = bytes(at: address, count: MemoryLayout<T>.size) else { return nil }
        return try? view.load(T.self, at: 0, endianness: endianness, field: "memory")
    }

    /// Total bytes captured.
    public var totalBytes: UInt64 {
        regions.reduce(0) { $0 &+ UInt64($1.bytes.count) }
    }
}

extension MinidumpFile {
    /// Builds the memory index from the memory lists and thread stacks.
    ///
    /// A damaged list contributes what it can and a warning; the index is never refused.
    public func memoryIndex() -> MemoryIndex {
        var regions = [MemoryRegion]()
        var warnings = [String]()

        func add(address: UInt64, location: LocationDescriptor, source: String) {
            let file = bytes
            guard Int64(location.rva) < Int64(file.count) || location.dataSize == 0 else {
                warnings.append("\(source): bytes at file offset \(hex0x(location.rva)) lie outside the file")
                return
            }
            let available = min(Int64(location.dataSize), Int64(file.count) - Int64(location.rva))
            if available < Int64(location.dataSize) {
                warnings.append("\(source): \(location.dataSize) bytes claimed, \(available) present in the file")
            }
            if let view = try? file.slice(offset: location.rva, size: available, field: source) {
                regions.append(MemoryRegion(address: address, bytes: view, source: source))
            }
        }

        do {
            if let list = try stream(MemoryList.self) {
                for range in list.ranges {
                    add(address: range.startOfMemoryRange, location: range.memory, source: "MemoryList")
                }
            }
        } catch {
            warnings.append("MemoryList: \(error)")
        }
        do {
            if let list = try stream(Memory64List.self) {
                for range in list.ranges {
                    let fileSize = UInt64(bytes.count)
                    guard range.fileOffset < fileSize else {
                        warnings.append("Memory64List: range \(hex0x(range.startOfMemoryRange)) lies outside the file")
                        continue
                    }
                    let available = min(range.dataSize, fileSize - range.fileOffset)
                    if available < range.dataSize {
                        warnings.append(
                            "Memory64List: range \(hex0x(range.startOfMemoryRange)) claims \(range.dataSize) bytes, \(available) present in the file"
                        )
                    }
                    if let view = try? bytes.slice(offset: range.fileOffset, size: available, field: "Memory64List") {
                        regions.append(MemoryRegion(address: range.startOfMemoryRange, bytes: view, source: "Memory64List"))
                    }
                }
            }
        } catch {
            warnings.append("Memory64List: \(error)")
        }
        do {
            if let list = try stream(ThreadList.self) {
                for thread in list.threads {
                    add(
                        address: thread.stack.startOfMemoryRange, location: thread.stack.memory,
                        source: "thread \(hex0x(thread.threadId)) stack")
                }
            }
        } catch {
            warnings.append("ThreadList: \(error)")
        }
        return MemoryIndex(regions: regions, warnings: warnings)
    }
}
