import BinaryReading
import ProgramDatabase

/// One procedure of a PDB with everything a FUNC record needs, in the original (pre-OMAP) layout.
struct CollectedFunction {
    var start: UInt32
    var length: UInt32
    var name: String
    var module: Int
    /// Line-table entries of the procedure's own module inside its range, sorted, clipped.
    var lines: [CollectedLine]
    /// Inline sites in pre-order.
    var sites: [CollectedSite]
}

struct CollectedLine {
    var start: UInt32
    var end: UInt32
    var line: UInt32
    /// Index in `PDBFunctionCollector.files`, -1 when unnamed.
    var file: Int32
}

struct CollectedSite {
    /// Index of the enclosing site in the same function, -1 for a site inlined directly into it.
    var parent: Int
    var depth: UInt32
    var name: String
    /// Ranges relative to the procedure's start.
    var ranges: [InlineRange]
    var baseLine: UInt32?
    var baseFile: Int32
}

/// Walks every module stream of a PDB once and collects procedures, their line tables and
/// inline sites, and the deduplicated source file names.
///
/// Damaged module streams are skipped and named in `warnings`, like `PDBAddressIndex` does.
struct PDBFunctionCollector {
    var functions: [CollectedFunction] = []
    var files: [String] = []
    var warnings: [String] = []
    /// Section contributions in original RVAs, sorted: which module's copy of the code the image holds.
    private(set) var contributions: [(start: UInt32, end: UInt32, module: Int)] = []
    private var fileIndex: [String: Int32] = [:]
    /// File ids by offset in /names, which every module shares: most modules name the same headers,
    /// and an offset is found without decoding and hashing the name again.
    private var fileByNameOffset = OffsetMap()
    private let sectionHeaders: [PDBSectionHeader]

    /// Upper bound on nested scopes in one procedure.
    static let maxScopeDepth = 4096

    init(_ pdb: PDBFile) throws(ParseError) {
        let imageHeaders = try pdb.sectionHeaders()
        let originalHeaders = try pdb.originalSectionHeaders()
        let reordered = try pdb.omapToSource() != nil
        // Symbols name the original layout; with OMAP the original headers describe it.
        sectionHeaders = (reordered && !originalHeaders.isEmpty) ? originalHeaders : imageHeaders

        for contribution in pdb.dbi.sectionContributions where contribution.size > 0 {
            guard let start = rva(section: contribution.section, offset: UInt32(bitPattern: contribution.offset)) else {
                continue
            }
            let end = UInt32(min(UInt64(start) + UInt64(contribution.size), UInt64(UInt32.max)))
            contributions.append((start, end, Int(contribution.moduleIndex)))
        }
        contributions.sort { $0.start < $1.start }

        let names: PDBStringTable?
        do { names = try pdb.stringTable() } catch {
            names = nil
            warnings.append("/names: \(error)")
        }
        var ids: TypeStream?
        var types: TypeStream?
        do { ids = try pdb.idStream() } catch { warnings.append("IPI: \(error)") }
        do { types = try pdb.typeStream() } catch { warnings.append("TPI: \(error)") }

        // Built on the first cross-module inlinee: most PDBs have none, and lowercasing every
        // module's name was a twentieth of collecting.
        var moduleByName: [String: Int]?
        func moduleIndex(_ name: String) -> Int? {
            if moduleByName == nil {
                var table = [String: Int]()
                for module in pdb.modules where table[module.moduleName.lowercased()] == nil {
                    table[module.moduleName.lowercased()] = module.index
                }
                moduleByName = table
            }
            return moduleByName?[name.lowercased()]
        }
        var exportsCache = [Int: CrossScopeExportTable]()
        var inlineeNames = [UInt32: String]()

        for module in pdb.modules where module.hasSymbolStream {
            do {
                guard let raw = try pdb.stream(Int(module.moduleSymStream)) else { continue }
                try raw.parse { view throws(ParseError) in
                    let stream = try ModuleSymbolStream(parsing: view, module: module)
                    try self.addModule(
                        stream, module: module.index, names: names, ids: ids, types: types,
                        inlineeNames: &inlineeNames
                    ) { (name: String) -> CrossScopeExportTable in
                        guard let index = moduleIndex(name) else { return .empty }
                        if let known = exportsCache[index] { return known }
                        let exports = (try? pdb.moduleStream(pdb.modules[index])?.crossScopeExports()) ?? .empty
                        exportsCache[index] = exports
                        return exports
                    }
                }
            } catch {
                warnings.append("module \(module.index) (\(module.moduleName)): \(error)")
            }
        }
        functions.sort { $0.start < $1.start }
    }

    /// The module whose section contribution covers `rva`.
    func contributingModule(_ rva: UInt32) -> Int? {
        var low = 0
        var high = contributions.count
        while low < high {
            let middle = (low + high) / 2
            if contributions[middle].start <= rva { low = middle + 1 } else { high = middle }
        }
        guard low > 0, rva < contributions[low - 1].end else { return nil }
        return contributions[low - 1].module
    }

    func rva(section: UInt16, offset: UInt32) -> UInt32? {
        guard section >= 1, Int(section) <= sectionHeaders.count else { return nil }
        let (sum, overflow) = sectionHeaders[Int(section) - 1].virtualAddress.addingReportingOverflow(offset)
        return overflow ? nil : sum
    }

    private mutating func fileID(_ name: String?) -> Int32 {
        guard let name else { return -1 }
        if let known = fileIndex[name] { return known }
        let id = Int32(files.count)
        files.append(name)
        fileIndex[name] = id
        return id
    }

    private mutating func addModule(
        _ stream: ModuleSymbolStream, module: Int, names: PDBStringTable?, ids: TypeStream?, types: TypeStream?,
        inlineeNames: inout [UInt32: String], exports: (String) -> CrossScopeExportTable
    ) throws(ParseError) {
        let imports = try stream.crossScopeImports()
        // An inlinee with bit 31 set is an id of another module, named through this module's
        // imports and that module's exports (seen in symbolic's crash.pdb, MSVC x86 with /GL).
        func globalID(_ id: UInt32) -> UInt32? {
            guard CrossScopeImport.isCrossScope(id) else { return id }
            let entry = CrossScopeImport.importIndex(id)
            let position = CrossScopeImport.idIndex(id)
            guard entry < imports.count, position < imports[entry].ids.count,
                let moduleName = names?.string(at: imports[entry].moduleNameOffset)
            else { return nil }
            return exports(moduleName)[imports[entry].ids[position]]
        }
        // File ids by checksum position, sorted for bisection: a dictionary per module, grown
        // entry by entry, cost more than the rest of reading the module's files.
        var checksumFiles = [(position: UInt32, id: Int32)]()
        let checksums = try stream.fileChecksumNames()
        checksumFiles.reserveCapacity(checksums.count)
        var ascending = true
        for entry in checksums {
            let id: Int32
            if let known = fileByNameOffset[entry.nameOffset] {
                id = known
            } else {
                id = fileID(names?.string(at: entry.nameOffset))
                if names != nil { fileByNameOffset.set(entry.nameOffset, id) }
            }
            if let last = checksumFiles.last, last.position >= entry.position { ascending = false }
            checksumFiles.append((entry.position, id))
        }
        if !ascending {
            // Several checksum subsections: positions repeat, and the later entry wins.
            var latest = [UInt32: Int32]()
            for entry in checksumFiles { latest[entry.position] = entry.id }
            checksumFiles = latest.map { ($0.key, $0.value) }.sorted { $0.position < $1.position }
        }
        func file(_ checksumOffset: UInt32) -> Int32 {
            var low = 0
            var high = checksumFiles.count
            while low < high {
                let middle = (low + high) / 2
                if checksumFiles[middle].position < checksumOffset { low = middle + 1 } else { high = middle }
            }
            return low < checksumFiles.count && checksumFiles[low].position == checksumOffset ? checksumFiles[low].id : -1
        }
        var inlinees = [UInt32: InlineeSourceLine]()
        for entry in try stream.inlineeLines() where inlinees[entry.inlinee] == nil { inlinees[entry.inlinee] = entry }

        // Line tables: each entry runs to the next entry of its fragment, the last to the fragment's end.
        var lines = [CollectedLine]()
        for fragment in try stream.lineFragments() {
            guard let base = rva(section: fragment.segment, offset: fragment.offset) else { continue }
            var entries = [(offset: UInt32, line: UInt32, file: Int32)]()
            for block in fragment.blocks {
                let id = file(block.fileChecksumOffset)
                for entry in block.entries { entries.append((entry.offset, entry.line, id)) }
            }
            entries.sort { $0.offset < $1.offset }
            for (position, entry) in entries.enumerated() {
                let end = position + 1 < entries.count ? entries[position + 1].offset : fragment.codeSize
                guard end > entry.offset else { continue }
                let (start, overflow) = base.addingReportingOverflow(entry.offset)
                guard !overflow else { continue }
                let stop = UInt32(min(UInt64(base) + UInt64(end), UInt64(UInt32.max)))
                lines.append(CollectedLine(start: start, end: stop, line: entry.line, file: entry.file))
            }
        }
        lines.sort { $0.start < $1.start }

        var scopes = [(kind: SymbolKind, site: Int)]()
        var current: CollectedFunction?
        var iterator = stream.records()
        var localNames = [UInt32: String]()
        var moduleFunctions = [CollectedFunction]()
        while let record = try iterator.next() {
            let kind = record.kind
            if kind.closesScope {
                _ = scopes.popLast()
                if scopes.isEmpty, let open = current {
                    moduleFunctions.append(open)
                    current = nil
                }
                continue
            }
            guard kind.opensScope else { continue }
            guard scopes.count < Self.maxScopeDepth else {
                throw ParseError(
                    offset: record.data.fileOffset - 4, field: "symbol scope",
                    kind: .countTooLarge(count: Int64(scopes.count + 1), limit: Int64(Self.maxScopeDepth)))
            }
            var site = -1
            if kind.isProcedure, scopes.isEmpty {
                let procedure = try ProcedureSymbol(parsing: record.data)
                if let start = rva(section: procedure.segment, offset: procedure.offset) {
                    current = CollectedFunction(
                        start: start, length: procedure.length, name: procedure.name, module: module, lines: [], sites: [])
                }
            } else if kind == .inlineSite || kind == .inlineSite2, current != nil {
                let symbol = try InlineSiteSymbol(parsing: record.data, kind: kind)
                let parent = scopes.last(where: { $0.site >= 0 })?.site ?? -1
                let name: String
                // Named only when needed: formatting it for every site cost more than the lookups.
                var unknown: String { "<inlinee 0x\(String(symbol.inlinee, radix: 16))>" }
                if CrossScopeImport.isCrossScope(symbol.inlinee) {
                    if let known = localNames[symbol.inlinee] {
                        name = known
                    } else {
                        name = globalID(symbol.inlinee).flatMap { ids?.inlineeName($0, types: types) } ?? unknown
                        localNames[symbol.inlinee] = name
                    }
                } else if let known = inlineeNames[symbol.inlinee] {
                    name = known
                } else {
                    name = ids?.inlineeName(symbol.inlinee, types: types) ?? unknown
                    inlineeNames[symbol.inlinee] = name
                }
                let origin = inlinees[symbol.inlinee]
                var ranges = try BinaryAnnotations.ranges(symbol.annotations)
                for index in ranges.indices {
                    if let offset = ranges[index].fileChecksumOffset {
                        // Kept as an index into `files`, in the same field.
                        ranges[index].fileChecksumOffset = UInt32(bitPattern: file(offset))
                    }
                }
                let depth = parent >= 0 ? current!.sites[parent].depth + 1 : 0
                current!.sites.append(
                    CollectedSite(
                        parent: parent, depth: depth, name: name, ranges: ranges, baseLine: origin?.sourceLine,
                        baseFile: origin.map { file($0.fileChecksumOffset) } ?? -1))
                site = current!.sites.count - 1
            }
            scopes.append((kind, site))
        }
        if let open = current { moduleFunctions.append(open) }

        // Each procedure gets its own module's line entries inside its range.
        for index in moduleFunctions.indices {
            let start = moduleFunctions[index].start
            let end = UInt32(min(UInt64(start) + UInt64(moduleFunctions[index].length), UInt64(UInt32.max)))
            var low = 0
            var high = lines.count
            while low < high {
                let middle = (low + high) / 2
                if lines[middle].end <= start { low = middle + 1 } else { high = middle }
            }
            // `lines` is sorted by start and entries do not overlap within a module's fragment,
            // so the first entry ending after `start` begins the run.
            var own = [CollectedLine]()
            var position = max(0, low - 1)
            var last = position
            while last < lines.count, lines[last].start < end { last += 1 }
            own.reserveCapacity(last - position)
            while position < lines.count, lines[position].start < end {
                var entry = lines[position]
                if entry.end > start {
                    entry.start = max(entry.start, start)
                    entry.end = min(entry.end, end)
                    if entry.end > entry.start { own.append(entry) }
                }
                position += 1
            }
            moduleFunctions[index].lines = own
        }
        functions += moduleFunctions
    }
}
