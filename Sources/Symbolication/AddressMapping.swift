import ProgramDatabase

/// Original (pre-OMAP) addresses to image addresses, for images a post-link optimizer reordered.
///
/// A range of original code can land in several image pieces (basic blocks moved apart, seen in
/// breakpad's omap_reorder_bbs.pdb); dump_syms then writes one record per piece.
struct AddressMapping {
    /// `OMAP_FROM_SRC`, nil when the image was not reordered.
    let omap: OMAPTable?

    /// The image address of `rva`, nil when the OMAP drops it.
    func map(_ rva: UInt32) -> UInt32? {
        guard let omap else { return rva }
        return omap.map(rva)
    }

    /// The image pieces of `[start, start + length)`, in original order, contiguous pieces joined.
    func pieces(start: UInt32, length: UInt32) -> [(address: UInt32, length: UInt32)] {
        guard length > 0 else { return [] }
        let end = UInt32(min(UInt64(start) + UInt64(length), UInt64(UInt32.max)))
        guard let omap else { return [(start, end - start)] }
        let entries = omap.entries
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].source <= start { low = middle + 1 } else { high = middle }
        }
        var result = [(address: UInt32, length: UInt32)]()
        var index = max(low - 1, 0)
        while index < entries.count {
            let entry = entries[index]
            if entry.source >= end { break }
            let next = index + 1 < entries.count ? entries[index + 1].source : end
            let from = max(start, entry.source)
            let to = min(end, max(next, from))
            index += 1
            guard to > from, entry.target != 0, entry.source <= from else { continue }
            let (address, overflow) = entry.target.addingReportingOverflow(from - entry.source)
            guard !overflow else { continue }
            let size = to - from
            if let last = result.last, UInt64(last.address) + UInt64(last.length) == UInt64(address) {
                result[result.count - 1].length += size
            } else {
                result.append((address, size))
            }
        }
        return result
    }
}
