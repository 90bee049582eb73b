import BreakpadSymbols
import ProgramDatabase

/// Turns collected procedures and publics into FUNC, line, INLINE, INLINE_ORIGIN and PUBLIC records.
struct RecordBuilder {
    let files: [String]
    let inlines: Bool
    /// Original RVAs → image RVAs.
    let mapping: AddressMapping
    private(set) var functions: [FunctionRecord] = []
    private(set) var publics: [PublicRecord] = []
    private var origins: [String: UInt32] = [:]
    private var originNames: [String] = []
    /// Decorated public names by original RVA, for x86 parameter sizes.
    private var publicSizes: [UInt32: UInt64] = [:]
    /// Original RVAs where a FUNC record starts: no PUBLIC is written for them.
    private var functionStarts: Set<UInt32> = []

    init(files: [String], inlines: Bool, mapping: AddressMapping) {
        self.files = files
        self.inlines = inlines
        self.mapping = mapping
    }

    var fileRecords: [UInt32: String] {
        var records = [UInt32: String]()
        for (index, name) in files.enumerated() { records[UInt32(index)] = name }
        return records
    }

    var originRecords: [UInt32: String] {
        var records = [UInt32: String]()
        for (index, name) in originNames.enumerated() { records[UInt32(index)] = name }
        return records
    }

    /// The parameter sizes that x86 `__stdcall`/`__fastcall` public names give, by original RVA.
    mutating func noteParameterSizes(_ symbols: [PublicSymbol], collector: PDBFunctionCollector) {
        for symbol in symbols {
            guard let rva = collector.rva(section: symbol.segment, offset: symbol.offset) else { continue }
            let size = PublicNames.undecorate(symbol.name, isX86: true).parameterSize
            if size > 0, publicSizes[rva] == nil { publicSizes[rva] = size }
        }
    }

    /// FUNC records: one per start address; identical code folded from several procedures gets `m`.
    mutating func addFunctions(_ collected: [CollectedFunction], isX86: Bool, owner: (UInt32) -> Int?) {
        var index = 0
        while index < collected.count {
            var next = index + 1
            while next < collected.count, collected[next].start == collected[index].start { next += 1 }
            // Several procedures at one address (identical code folding): the copy from the module
            // whose section contribution holds the code names the record and gives its lines, as
            // `PDBAddressIndex` and LLVM pick it; else the first in module order.
            let group = next - index > 1 ? collected[index..<next].sorted { $0.module < $1.module } : [collected[index]]
            let contributor = group.count > 1 ? owner(group[0].start) : nil
            let function = group.first { $0.module == contributor } ?? group[0]
            let multiple = group.contains { $0.name != group[0].name }
            index = next
            // x86 assembler procedures can carry their decorated `__fastcall` name
            // (`@_EH4_CallFilterFunc@8` in dump_syms_regtest.pdb); dump_syms prints it undecorated.
            let name =
                function.name.first == "@" && isX86 ? PublicNames.undecorate(function.name, isX86: true).name : function.name
            let pieces = mapping.pieces(start: function.start, length: function.length)
            guard !pieces.isEmpty else { continue }
            functionStarts.insert(function.start)
            var records = pieces.map { piece in
                FunctionRecord(
                    address: UInt64(piece.address), size: UInt64(piece.length),
                    parameterSize: publicSizes[function.start] ?? 0, isMultiple: multiple, name: name)
            }
            let lines: [LineRecord]
            if inlines && !function.sites.isEmpty {
                lines = lineRecords(innermostLines(function))
                records[0].inlines = inlineRecords(function)
            } else {
                lines = lineRecords(function.lines)
            }
            // Each line goes to the piece that holds it (with OMAP, pieces can be far apart).
            // Breakpad's dump_syms writes all of a split procedure's lines after its last piece
            // (omap_reorder_bbs.sym), where readers, its own processor's included, look for a
            // line only in the FUNC record holding the address and so miss them.
            if records.count == 1 {
                // One piece holds every line (any line outside it would fall back to it too).
                records[0].lines = lines
            } else {
                for line in lines {
                    let piece =
                        records.firstIndex { AddressRange(address: $0.address, size: $0.size).contains(line.address) } ?? 0
                    records[piece].lines.append(line)
                }
            }
            functions += records
        }
    }

    /// PUBLIC records for publics in code at addresses where no FUNC starts.
    ///
    /// Code is what the public's flags say, or what its section says: assembler labels such as
    /// `_NLG_Dispatch` and `_alloca_probe_8` carry no flags, and Breakpad's dump_syms still lists
    /// them (dump_syms_regtest.sym).
    mutating func addPublics(
        _ symbols: [PublicSymbol], collector: PDBFunctionCollector, codeSections: Set<UInt16>, isX86: Bool
    ) {
        // Publics are grouped and checked against FUNC starts in the original layout, as dump_syms
        // does before it maps each through OMAP.
        var byAddress = [UInt32: [PublicSymbol]]()
        var order = [UInt32]()
        for symbol in symbols where symbol.isCode || symbol.isFunction || codeSections.contains(symbol.segment) {
            guard let original = collector.rva(section: symbol.segment, offset: symbol.offset),
                !functionStarts.contains(original)
            else { continue }
            if byAddress[original] == nil { order.append(original) }
            byAddress[original, default: []].append(symbol)
        }
        for original in order {
            // Several names at one address: the smallest in byte order, so the choice does not
            // depend on the hash order of the publics stream (breakpad's dump_syms_regtest.sym
            // prints `_NLG_Dispatch` of `_NLG_Dispatch` and `_NLG_Dispatch2`).
            let group = byAddress[original]!.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
            let (name, size) = PublicNames.undecorate(group[0].name, isX86: isX86)
            // The public's first byte can land in several places (a block copied by the rewriter).
            for piece in mapping.pieces(start: original, length: 1) {
                publics.append(
                    PublicRecord(address: UInt64(piece.address), parameterSize: size, isMultiple: group.count > 1, name: name))
            }
        }
    }

    private func lineRecords(_ lines: [CollectedLine]) -> [LineRecord] {
        var records = [LineRecord]()
        records.reserveCapacity(lines.count)
        for line in lines where line.file >= 0 {
            forEachPiece(start: line.start, length: line.end - line.start) { address, length in
                records.append(
                    LineRecord(address: UInt64(address), size: UInt64(length), line: Int64(line.line), file: UInt32(line.file)))
            }
        }
        return records
    }

    /// `mapping.pieces(start:length:)` without an array per call where the mapping is the identity
    /// (no OMAP: most PDBs), for the many small line and inline ranges.
    @inline(__always)
    private func forEachPiece(start: UInt32, length: UInt32, _ body: (UInt32, UInt32) -> Void) {
        if mapping.isIdentity {
            if length > 0 { body(start, length) }
            return
        }
        for piece in mapping.pieces(start: start, length: length) { body(piece.address, piece.length) }
    }

    private mutating func origin(_ name: String) -> UInt32 {
        if let known = origins[name] { return known }
        let id = UInt32(originNames.count)
        originNames.append(name)
        origins[name] = id
        return id
    }

    /// The line and file a site's range gives, from the inlinee's base line.
    private func siteLine(_ site: CollectedSite, _ range: InlineRange) -> (line: UInt32, file: Int32) {
        let line = UInt32(truncatingIfNeeded: Int64(site.baseLine ?? 0) + Int64(range.lineOffset))
        let file = range.fileChecksumOffset.map { Int32(bitPattern: $0) } ?? site.baseFile
        return (line, file)
    }

    /// The procedure's own line entry covering `rva`.
    private func baseLine(_ function: CollectedFunction, at rva: UInt32) -> CollectedLine? {
        function.lines.last { $0.start <= rva && rva < $0.end }
    }

    /// The line of the frame enclosing `site` at procedure offset `offset`: the call site.
    private func callSite(_ function: CollectedFunction, site: CollectedSite, offset: UInt32) -> (line: UInt32, file: Int32) {
        if site.parent >= 0 {
            let parent = function.sites[site.parent]
            if let range = parent.ranges.first(where: { offset >= $0.start && offset < $0.end }) {
                return siteLine(parent, range)
            }
            return (parent.baseLine ?? 0, parent.baseFile)
        }
        if let line = baseLine(function, at: function.start &+ offset) { return (line.line, line.file) }
        return (0, function.lines.first?.file ?? -1)
    }

    private mutating func inlineRecords(_ function: CollectedFunction) -> [InlineRecord] {
        var records = [InlineRecord]()
        for site in function.sites where !site.ranges.isEmpty {
            let first = site.ranges.min { $0.start < $1.start }!
            let call = callSite(function, site: site, offset: first.start)
            var ranges = [AddressRange]()
            for range in site.ranges {
                let (start, overflow) = function.start.addingReportingOverflow(range.start)
                guard !overflow else { continue }
                forEachPiece(start: start, length: range.end - range.start) { address, length in
                    ranges.append(AddressRange(address: UInt64(address), size: UInt64(length)))
                }
            }
            guard !ranges.isEmpty else { continue }
            records.append(
                InlineRecord(
                    depth: site.depth, callLine: call.line, callFile: call.file >= 0 ? UInt32(call.file) : 0,
                    origin: origin(site.name), ranges: ranges))
        }
        return records
    }

    /// Line entries in which inlined code carries the innermost inlinee's line, as the INLINE
    /// records expect: a lookup gives the innermost frame the line record's line and each outer
    /// frame the call site of the one inside it.
    private func innermostLines(_ function: CollectedFunction) -> [CollectedLine] {
        let end = UInt32(min(UInt64(function.start) + UInt64(function.length), UInt64(UInt32.max)))
        // Sorted and deduplicated below: cheaper than a set for the few hundred points of a function.
        var boundaries = [UInt32]()
        boundaries.reserveCapacity(function.lines.count * 2)
        for line in function.lines {
            boundaries.append(line.start)
            boundaries.append(line.end)
        }
        var pieces = [(start: UInt32, end: UInt32, depth: UInt32, line: UInt32, file: Int32)]()
        for site in function.sites {
            for range in site.ranges {
                let start = function.start &+ range.start
                let stop = min(function.start &+ range.end, end)
                guard stop > start else { continue }
                boundaries.append(start)
                boundaries.append(stop)
                let (line, file) = siteLine(site, range)
                pieces.append((start, stop, site.depth, line, file))
            }
        }
        boundaries.sort()
        var points = [UInt32]()
        points.reserveCapacity(boundaries.count)
        for point in boundaries where point >= function.start && point <= end && points.last != point {
            points.append(point)
        }
        // The deepest piece over each interval between points, a later piece winning a tie. Each
        // piece visits only the intervals it covers (found by bisection), not every interval.
        var deepest = [(depth: UInt32, line: UInt32, file: Int32)?](repeating: nil, count: max(0, points.count - 1))
        for piece in pieces {
            var low = 0
            var high = points.count
            while low < high {
                let middle = (low + high) / 2
                if points[middle] < piece.start { low = middle + 1 } else { high = middle }
            }
            while low < deepest.count, points[low] < piece.end {
                if let known = deepest[low], known.depth > piece.depth {
                } else {
                    deepest[low] = (piece.depth, piece.line, piece.file)
                }
                low += 1
            }
        }
        var result = [CollectedLine]()
        for index in deepest.indices {
            let low = points[index]
            let high = points[index + 1]
            let entry: CollectedLine
            if let best = deepest[index] {
                entry = CollectedLine(start: low, end: high, line: best.line, file: best.file)
            } else if let base = baseLine(function, at: low) {
                entry = CollectedLine(start: low, end: high, line: base.line, file: base.file)
            } else {
                continue
            }
            // Merge with the previous piece when it continues it.
            if let last = result.last, last.end == entry.start, last.line == entry.line, last.file == entry.file {
                result[result.count - 1].end = entry.end
            } else {
                result.append(entry)
            }
        }
        return result
    }
}
