import BinaryReading

/// The physical pages a kernel dump holds, indexed for lookups by physical address.
///
/// Extents are sorted by first page and do not overlap, so a lookup is a binary search.
/// Every extent's bytes were checked to lie inside the file when the index was built.
public struct PhysicalMemory: Sendable {
    /// Consecutive physical pages stored back to back in the file.
    public struct Extent: Sendable, Equatable {
        /// First page frame number.
        public var firstPage: UInt64
        /// Number of pages.
        public var pageCount: UInt64
        /// File offset of the first page's bytes.
        public var fileOffset: Int64
    }

    /// The extents, sorted by `firstPage`, non-overlapping.
    public let extents: [Extent]
    /// Problems met while indexing (pages past the end of the file, overlapping ranges); the
    /// pages that could be indexed are still readable.
    public let warnings: [ParseError]
    private let bytes: ByteView

    static let pageSize = KernelDumpFormat.pageSize

    /// Total pages indexed.
    public var pageCount: UInt64 { extents.reduce(0) { $0 &+ $1.pageCount } }

    /// Indexes `ranges` whose pages are stored one after the other from `firstPageOffset`
    /// (full dumps: the runs; RDMP dumps: the PFN ranges).
    init(bytes: ByteView, sequentialRanges ranges: [PhysicalMemoryRun], firstPageOffset: UInt64, field: String) {
        var builder = Builder(bytes: bytes, field: field)
        var offset = firstPageOffset
        for range in ranges {
            guard builder.append(firstPage: range.basePage, pageCount: range.pageCount, fileOffset: offset) else { break }
            let (size, overflow1) = range.pageCount.multipliedReportingOverflow(by: Self.pageSize)
            let (next, overflow2) = offset.addingReportingOverflow(size)
            if overflow1 || overflow2 { break }
            offset = next
        }
        (extents, warnings) = builder.finish()
        self.bytes = bytes
    }

    /// Indexes a bitmap: bit *n* set means page *n* is the next page in the file from `firstPageOffset`.
    init(bytes: ByteView, bitmap: ByteView, bitCount: UInt64, firstPageOffset: UInt64) {
        var builder = Builder(bytes: bytes, field: "BITMAP_DUMP.Bits")
        var offset = firstPageOffset
        var runStart: UInt64? = nil
        var runLength: UInt64 = 0
        var runOffset: UInt64 = 0
        var stopped = false
        bitmap.withUnsafeBytes { buffer in
            for byteIndex in 0..<buffer.count where !stopped {
                let byte = buffer[byteIndex]
                // A zero byte only ends the current run.
                if byte == 0 {
                    if let start = runStart {
                        if !builder.append(firstPage: start, pageCount: runLength, fileOffset: runOffset) { stopped = true }
                        runStart = nil
                    }
                    continue
                }
                for bit in 0..<8 {
                    let page = UInt64(byteIndex) * 8 + UInt64(bit)
                    if page >= bitCount { break }
                    if byte & (1 << bit) != 0 {
                        if runStart == nil {
                            runStart = page
                            runLength = 0
                            runOffset = offset
                        }
                        runLength += 1
                        let (next, overflow) = offset.addingReportingOverflow(Self.pageSize)
                        if overflow {
                            // The page data would lie past any file: record it and stop.
                            _ = builder.append(firstPage: runStart ?? page, pageCount: runLength, fileOffset: runOffset)
                            runStart = nil
                            stopped = true
                            break
                        }
                        offset = next
                    } else if let start = runStart {
                        runStart = nil
                        // Once the file has no more page data, later bits cannot have any either.
                        if !builder.append(firstPage: start, pageCount: runLength, fileOffset: runOffset) {
                            stopped = true
                            break
                        }
                    }
                }
            }
        }
        if !stopped, let start = runStart {
            _ = builder.append(firstPage: start, pageCount: runLength, fileOffset: runOffset)
        }
        (extents, warnings) = builder.finish()
        self.bytes = bytes
    }

    /// Collects extents, clamping each to the bytes present in the file.
    private struct Builder {
        let bytes: ByteView
        let field: String
        var extents: [Extent] = []
        var warnings: [ParseError] = []

        /// Adds an extent; returns false once the file has no more page data.
        mutating func append(firstPage: UInt64, pageCount: UInt64, fileOffset: UInt64) -> Bool {
            guard pageCount > 0 else { return true }
            let fileSize = UInt64(bytes.count)
            guard fileOffset < fileSize, let offset = Int64(exactly: fileOffset) else {
                warnings.append(
                    ParseError(
                        offset: Int64(clamping: fileOffset), field: field,
                        kind: .outOfBounds(
                            offset: Int64(clamping: fileOffset), size: Int64(clamping: pageCount), fileSize: Int64(bytes.count))))
                return false
            }
            let available = (fileSize - fileOffset) / PhysicalMemory.pageSize
            var count = pageCount
            if available < pageCount {
                warnings.append(
                    ParseError(
                        offset: offset, field: field,
                        kind: .truncated(needed: Int64(clamping: pageCount), available: Int64(clamping: available))))
                count = available
            }
            // Page numbers must stay addressable: first + count fits in 52 bits of frame number.
            let limit: UInt64 = 1 << 52
            guard firstPage < limit else {
                warnings.append(
                    ParseError(
                        offset: offset, field: field,
                        kind: .invalidValue("page frame number 0x\(String(firstPage, radix: 16)) is too large")))
                return true
            }
            count = min(count, limit - firstPage)
            if count > 0 {
                extents.append(Extent(firstPage: firstPage, pageCount: count, fileOffset: offset))
            }
            return count == pageCount
        }

        /// Sorts by first page and drops the parts of extents that overlap an earlier one.
        mutating func finish() -> ([Extent], [ParseError]) {
            extents.sort { $0.firstPage < $1.firstPage }
            var result: [Extent] = []
            result.reserveCapacity(extents.count)
            for var extent in extents {
                if let last = result.last {
                    let lastEnd = last.firstPage + last.pageCount
                    if extent.firstPage < lastEnd {
                        warnings.append(
                            ParseError(
                                offset: extent.fileOffset, field: field,
                                kind: .invalidValue("pages from 0x\(String(extent.firstPage, radix: 16)) are described twice")))
                        let skip = lastEnd - extent.firstPage
                        if skip >= extent.pageCount { continue }
                        extent.firstPage += skip
                        extent.pageCount -= skip
                        extent.fileOffset += Int64(skip * PhysicalMemory.pageSize)
                    }
                }
                result.append(extent)
            }
            return (result, warnings)
        }
    }

    /// The file offset of the byte at `physicalAddress`, or nil when its page is not in the dump.
    public func fileOffset(ofPhysical physicalAddress: UInt64) -> Int64? {
        let page = physicalAddress / Self.pageSize
        var low = 0
        var high = extents.count
        while low < high {
            let middle = (low + high) / 2
            if extents[middle].firstPage <= page { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let extent = extents[low - 1]
        let index = page - extent.firstPage
        guard index < extent.pageCount else { return nil }
        return extent.fileOffset + Int64(index * Self.pageSize + physicalAddress % Self.pageSize)
    }

    /// Whether the page holding `physicalAddress` is in the dump.
    public func contains(physical physicalAddress: UInt64) -> Bool { fileOffset(ofPhysical: physicalAddress) != nil }

    /// The 4 KiB page holding `physicalAddress`, or nil when it is not in the dump.
    public func page(physical physicalAddress: UInt64) -> ByteView? {
        guard let offset = fileOffset(ofPhysical: physicalAddress & ~(Self.pageSize - 1)) else { return nil }
        return try? bytes.slice(offset: offset, size: Int(Self.pageSize), field: "page")
    }

    /// `count` bytes from `physicalAddress`, crossing pages; nil when any page is missing.
    public func read(physical physicalAddress: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        var result = [UInt8]()
        var address = physicalAddress
        var left = count
        while left > 0 {
            guard let page = page(physical: address) else { return nil }
            let inPage = Int(address % Self.pageSize)
            let take = min(left, Int(Self.pageSize) - inPage)
            guard let part = try? page.slice(offset: inPage, size: take, field: "page") else { return nil }
            if result.isEmpty { result.reserveCapacity(count) }
            result.append(contentsOf: part.array)
            left -= take
            let (next, overflow) = address.addingReportingOverflow(UInt64(take))
            if overflow && left > 0 { return nil }
            address = next
        }
        return result
    }

    /// A little-endian integer at `physicalAddress`, or nil when it is not in the dump.
    public func load<T: FixedWidthInteger>(_ type: T.Type, physical physicalAddress: UInt64) -> T? {
        let size = MemoryLayout<T>.size
        if physicalAddress % Self.pageSize <= Self.pageSize - UInt64(size),
            let offset = fileOffset(ofPhysical: physicalAddress)
        {
            return try? bytes.load(T.self, at: Int(offset), field: "page")
        }
        guard let raw = read(physical: physicalAddress, count: size) else { return nil }
        var value: T = 0
        for (index, byte) in raw.enumerated() { value |= T(byte) << (8 * index) }
        return value
    }
}
