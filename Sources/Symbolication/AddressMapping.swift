import BinaryReading
import ProgramDatabase

/// Original (pre-OMAP) address ranges to image address ranges, for images a post-link optimizer
/// (BBT, Vulcan, Syzygy) rewrote, mapped the way Breakpad's dump_syms maps them.
///
/// A range of original code can land in several image pieces (basic blocks moved apart, seen in
/// breakpad's omap_reorder_bbs.pdb). dump_syms builds one table of runs from `OMAP_TO_SRC`, each
/// run knowing the image bytes inserted after it that map to no original code ("injected") and
/// the original bytes dropped after it ("removed"); a range maps to the runs it overlaps, and
/// runs that follow each other in the image, across injected bytes, are one piece. So a
/// function stretched by inserted instrumentation stays one FUNC record (omap_stretched.pdb),
/// and the .sym covers the inserted bytes as the function's.
struct AddressMapping {
    /// One `OMAP_TO_SRC` run, with what the image inserts and the original drops after it.
    struct Run {
        var original: UInt64
        var image: UInt64
        var length: UInt64
        /// Image bytes after the run that map to nothing in the original image.
        var injected: UInt64 = 0
        /// Original bytes after the run that no run maps to.
        var removed: UInt64 = 0
    }

    /// Runs sorted by original address (then length), empty when the image was not reordered.
    private let runs: [Run]
    /// `reach[i]`: the largest original end (content plus removed bytes) of runs `0...i`, so a
    /// binary search finds the first run that can overlap a range.
    private let reach: [UInt64]

    /// Whether addresses map one to one.
    var isIdentity: Bool { runs.isEmpty }

    /// Without both tables, addresses map one to one.
    ///
    /// - Parameters:
    ///   - fromSource: `OMAP_FROM_SRC` (original → image).
    ///   - toSource: `OMAP_TO_SRC` (image → original).
    ///   - originalEnd: the end of the original image (its last section's end): the last run,
    ///     and any run reaching past it, stops there; runs starting past it are injected code.
    init(fromSource: OMAPTable? = nil, toSource: OMAPTable? = nil, originalEnd: UInt32 = UInt32.max) {
        guard let from = fromSource?.entries, let to = toSource?.entries, !from.isEmpty, !to.isEmpty else {
            runs = []
            reach = []
            return
        }
        let end = UInt64(originalEnd)
        var runs = [Run]()
        // The headers before the first mapped byte are not in the tables; both images start with them.
        if to[0].source > 0 && from[0].source > 0 {
            let header = UInt64(min(to[0].source, from[0].source))
            runs.append(
                Run(
                    original: 0, image: 0, length: header, injected: UInt64(to[0].source) - header,
                    removed: UInt64(from[0].source) - header))
        }
        for (index, entry) in to.enumerated() {
            let original = UInt64(entry.target)
            // A target past the original image is code the rewriter added. (A target of 0 stays a
            // run at original address 0, as in dump_syms; no code lives there.)
            guard original < end else { continue }
            var length = end - original
            if index + 1 < to.count { length = min(length, UInt64(to[index + 1].source) - UInt64(entry.source)) }
            guard length > 0 else { continue }
            let image = UInt64(entry.source)
            // A gap in the image between this run and the last one is injected code.
            if let last = runs.last, image > last.image + last.length {
                runs[runs.count - 1].injected += image - (last.image + last.length)
            }
            runs.append(Run(original: original, image: image, length: length))
        }
        runs.sort { ($0.original, $0.length) < ($1.original, $1.length) }
        Self.fillRemoved(&runs)
        var reach = [UInt64]()
        reach.reserveCapacity(runs.count)
        for run in runs { reach.append(max(reach.last ?? 0, run.original + run.length + run.removed)) }
        self.runs = runs
        self.reach = reach
    }

    /// Marks, for each gap in the original coverage, the runs that end where it starts.
    ///
    /// Runs can nest (one inside another), so a gap follows the run whose end is the front of
    /// the coverage so far, not always the run just before it.
    private static func fillRemoved(_ runs: inout [Run]) {
        var fill = 0
        var front: UInt64 = 0
        for find in runs.indices {
            if front < runs[find].original {
                let removed = runs[find].original - front
                while fill < find {
                    if runs[fill].original + runs[fill].length == front { runs[fill].removed = removed }
                    fill += 1
                }
            }
            // dump_syms moves the front to this run's end even when an earlier run reached further.
            front = runs[find].original + runs[find].length
        }
    }

    /// The image pieces of original `[start, start + length)`, in image order.
    ///
    /// Empty when the rewriter dropped the range. A zero length gives every distinct image
    /// address of `start`, each with length 0.
    func pieces(start: UInt32, length: UInt32) -> [(address: UInt32, length: UInt32)] {
        guard !runs.isEmpty else { return length > 0 ? [(start, length)] : [] }
        let queryStart = UInt64(start)
        let queryEnd = queryStart + UInt64(max(length, 1))
        // The first run whose reach passes the start, up to the first run starting at the end.
        var first = 0
        var high = reach.count
        while first < high {
            let middle = (first + high) / 2
            if reach[middle] <= queryStart { first = middle + 1 } else { high = middle }
        }
        var clipped = [Run]()
        var index = first
        while index < runs.count, runs[index].original < queryEnd {
            if let run = Self.clip(runs[index], start: queryStart, end: queryEnd), run.length + run.injected > 0 {
                clipped.append(run)
            }
            index += 1
        }
        guard !clipped.isEmpty else { return [] }
        clipped.sort { ($0.image, $0.length) < ($1.image, $1.length) }
        if length == 0 {
            var result = [(address: UInt32, length: UInt32)]()
            for run in clipped where result.last.map({ UInt64($0.address) < run.image }) ?? true {
                guard let address = UInt32(exactly: run.image) else { continue }
                result.append((address, 0))
            }
            return result
        }
        // Runs that follow each other in the image, or are separated only by injected bytes, are
        // one piece; injected bytes after the last run of a piece are not the range's.
        var result = [(address: UInt32, length: UInt32)]()
        func emit(_ begin: UInt64, _ end: UInt64) {
            guard begin < end, let address = UInt32(exactly: begin), let size = UInt32(exactly: end - begin) else { return }
            result.append((address, size))
        }
        var begin = clipped[0].image
        var contentEnd = begin + clipped[0].length
        var injectedEnd = contentEnd + clipped[0].injected
        for run in clipped.dropFirst() {
            if injectedEnd < run.image {
                emit(begin, contentEnd)
                begin = run.image
            }
            // As in dump_syms, the latest run sets the end, even when an earlier one reached further
            // (runs several image bytes map onto, as in omap_stretched_filled.pdb).
            contentEnd = run.image + run.length
            injectedEnd = contentEnd + run.injected
        }
        emit(begin, contentEnd)
        return result
    }

    /// `run` cut to original `[start, end)`, nil when they do not meet. Cutting the left side
    /// inside the removed bytes shortens those and the injected bytes alike; cutting the right
    /// side inside the content drops both, and past it caps both at the bytes left to `end`
    /// (so inserted code longer than the rest of the range ends the piece, as in dump_syms).
    private static func clip(_ run: Run, start: UInt64, end: UInt64) -> Run? {
        guard end > run.original, run.original + run.length + run.removed > start else { return nil }
        var run = run
        if run.original < start {
            let left = start - run.original
            run.original += left
            run.image += left
            if left > run.length {
                let trim = left - run.length
                run.length = 0
                run.injected -= min(trim, run.injected)
                run.removed -= min(trim, run.removed)
            } else {
                run.length -= left
            }
        }
        let contentEnd = run.original + run.length
        if end < contentEnd {
            run.length -= contentEnd - end
            run.injected = 0
            run.removed = 0
        } else {
            run.removed = min(run.removed, end - contentEnd)
            run.injected = min(run.injected, end - contentEnd)
        }
        return run
    }
}

extension AddressMapping {
    /// The mapping of `pdb`'s OMAP tables, identity when it has none.
    init(pdb: PDBFile) throws(ParseError) {
        // dump_syms takes the original image's length from DIA's segments: the section map's
        // lengths at the original headers' addresses (the image's when the PDB keeps no others).
        let original = try pdb.originalSectionHeaders()
        let headers = original.isEmpty ? try pdb.sectionHeaders() : original
        let end = headers.map { UInt64($0.virtualAddress) + UInt64($0.virtualSize) }.max() ?? UInt64(UInt32.max)
        self.init(
            fromSource: try pdb.omapFromSource(), toSource: try pdb.omapToSource(),
            originalEnd: UInt32(clamping: end))
    }
}
