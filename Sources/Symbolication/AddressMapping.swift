import ProgramDatabase

/// Original (pre-OMAP) addresses to image addresses, for images a post-link optimizer reordered.
///
/// A range of original code can land in several image pieces (basic blocks moved apart, seen in
/// breakpad's omap_reorder_bbs.pdb); dump_syms then writes one record per piece. The pieces are
/// the image bytes that `OMAP_TO_SRC` maps into the range, so that a lookup through the .sym
/// finds what a lookup through the PDB finds.
struct AddressMapping {
    /// `OMAP_FROM_SRC`, nil when the image was not reordered.
    let omap: OMAPTable?
    /// `OMAP_TO_SRC` runs sorted by the original address they map to.
    private let runs: [(source: UInt32, length: UInt32, image: UInt32)]
    /// The longest run, which bounds how far back a search must look.
    private let longestRun: UInt32

    /// Without `toSource`, addresses map one to one.
    init(omap: OMAPTable? = nil, toSource: OMAPTable? = nil, imageEnd: UInt32 = UInt32.max) {
        self.omap = omap
        var runs = [(source: UInt32, length: UInt32, image: UInt32)]()
        if let entries = toSource?.entries {
            for (index, entry) in entries.enumerated() where entry.target != 0 {
                let next = index + 1 < entries.count ? entries[index + 1].source : max(imageEnd, entry.source)
                guard next > entry.source else { continue }
                let length = next - entry.source
                guard UInt64(entry.target) + UInt64(length) <= UInt64(UInt32.max) else { continue }
                runs.append((entry.target, length, entry.source))
            }
        }
        runs.sort { $0.source < $1.source }
        self.runs = runs
        longestRun = runs.map(\.length).max() ?? 0
    }

    /// The image address of `rva`, nil when the OMAP drops it.
    func map(_ rva: UInt32) -> UInt32? {
        guard let omap else { return rva }
        return omap.map(rva)
    }

    /// The image pieces of `[start, start + length)` in image order, overlapping and touching pieces joined.
    func pieces(start: UInt32, length: UInt32) -> [(address: UInt32, length: UInt32)] {
        guard length > 0 else { return [] }
        let end = UInt32(min(UInt64(start) + UInt64(length), UInt64(UInt32.max)))
        guard omap != nil else { return [(start, end - start)] }
        // First run starting at or after `start`, then back over runs that may still reach it.
        var low = 0
        var high = runs.count
        while low < high {
            let middle = (low + high) / 2
            if runs[middle].source < start { low = middle + 1 } else { high = middle }
        }
        var first = low
        while first > 0, UInt64(runs[first - 1].source) + UInt64(longestRun) > UInt64(start) { first -= 1 }
        var result = [(address: UInt32, length: UInt32)]()
        var index = first
        while index < runs.count, runs[index].source < end {
            let run = runs[index]
            index += 1
            let from = max(start, run.source)
            let to = UInt32(min(UInt64(end), UInt64(run.source) + UInt64(run.length)))
            guard to > from else { continue }
            result.append((run.image + (from - run.source), to - from))
        }
        return union(result)
    }

    /// The pieces as disjoint image ranges: several image bytes can map to one original byte
    /// (breakpad's omap_stretched_filled.pdb), and touching ranges are one.
    private func union(_ pieces: [(address: UInt32, length: UInt32)]) -> [(address: UInt32, length: UInt32)] {
        var result = [(address: UInt32, length: UInt32)]()
        for piece in pieces.sorted(by: { $0.address < $1.address }) {
            let end = UInt64(piece.address) + UInt64(piece.length)
            if let last = result.last, UInt64(last.address) + UInt64(last.length) >= UInt64(piece.address) {
                let lastEnd = max(UInt64(last.address) + UInt64(last.length), end)
                result[result.count - 1].length = UInt32(lastEnd - UInt64(last.address))
            } else {
                result.append(piece)
            }
        }
        return result
    }
}
