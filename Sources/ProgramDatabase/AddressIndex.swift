import BinaryReading

/// One inlined call at an address: the inlined function and where in its source the address is.
public struct PDBInlineFrame: Sendable, Equatable {
    /// The inlined function's name (qualified by its scope or class, as LLVM prints it).
    public var function: String
    /// The source file, when the module's checksums and `/names` name it.
    public var file: String?
    /// The source line.
    public var line: UInt32?
}

/// What a PDB says about one address.
public struct PDBSourceLocation: Sendable, Equatable {
    /// The address looked up (image RVA).
    public var rva: UInt32
    /// The function (procedure, thunk or, as a fallback, public symbol) that covers it.
    public var function: String
    /// The function's start (image RVA; mapped back through OMAP when the image was reordered).
    public var functionRVA: UInt32
    /// Bytes from the function's start, in the layout the symbols describe.
    public var functionOffset: UInt32
    /// Whether `function` came from a public symbol because no procedure covers the address.
    public var isPublicSymbol: Bool
    /// The source file of the outermost function's line at this address.
    public var file: String?
    /// The outermost function's line at this address (for inlined code, the call site).
    public var line: UInt32?
    /// Inlined calls at the address, innermost first.
    public var inlineFrames: [PDBInlineFrame]
    /// Index of the module whose symbols describe the address.
    public var moduleIndex: Int?
}

/// Address → function, line and inline frames for one PDB, built once from every module
/// stream: sorted arrays searched by bisection.
///
/// Damaged module streams are skipped and reported in `warnings`; the rest still answers.
public struct PDBAddressIndex: Sendable {
    /// A procedure or thunk with its code range (original RVAs).
    public struct Function: Sendable, Equatable {
        public var start: UInt32
        public var end: UInt32
        public var name: String
        public var module: Int
        /// Range of this function's inline sites in `inlineSites` (pre-order).
        var sites: Range<Int>
        /// Whether it is an `S_THUNK32` rather than a procedure.
        public var isThunk: Bool
    }

    struct InlineSite: Sendable {
        var parent: Int
        var name: String
        var ranges: [InlineRange]
        var baseLine: UInt32?
        var baseFile: Int32
        var module: Int
        var fileMap: Int  // index into moduleFileMaps
    }

    struct LineEntry: Sendable {
        var start: UInt32
        var end: UInt32
        var line: UInt32
        var file: Int32
        var module: Int32
    }

    /// A section contribution in RVAs: which module's copy of the code the image holds.
    struct Contribution: Sendable {
        var start: UInt32
        var end: UInt32
        var module: Int
    }

    /// Functions sorted by start.
    public private(set) var functions: [Function] = []
    /// Public symbols (RVA, decorated name) sorted by RVA.
    public private(set) var publics: [(rva: UInt32, name: String)] = []
    /// Problems met while building; each names the module or stream that was skipped.
    public private(set) var warnings: [String] = []
    var inlineSites: [InlineSite] = []
    var lines: [LineEntry] = []
    /// The same entries per module, so that a function's line comes from its own module even
    /// where folded functions of other modules have entries at nearby addresses.
    var moduleLines: [[LineEntry]] = []
    var contributions: [Contribution] = []
    /// Unique source file names.
    public private(set) var files: [String] = []
    /// Per module: checksum offset → index in `files`.
    var moduleFileMaps: [[UInt32: Int32]] = []
    /// Section starts and ends (original layout) for section-bounded public lookups.
    let sections: [(start: UInt32, end: UInt32)]
    let toSource: OMAPTable?
    let fromSource: OMAPTable?
    /// Section headers used to turn `segment:offset` into RVAs.
    public let sectionHeaders: [PDBSectionHeader]

    /// Upper bound on nested scopes in one procedure (real code stays far below).
    public static let maxScopeDepth = 4096

    /// Builds the index from every module, the publics and the line tables of `pdb`.
    public init(_ pdb: PDBFile) throws(ParseError) {
        let imageHeaders = try pdb.sectionHeaders()
        let originalHeaders = try pdb.originalSectionHeaders()
        toSource = try pdb.omapToSource()
        fromSource = try pdb.omapFromSource()
        // Symbols name the original layout; with OMAP the original headers describe it.
        sectionHeaders = (toSource != nil && !originalHeaders.isEmpty) ? originalHeaders : imageHeaders
        sections = sectionHeaders.map { header in
            let end = UInt64(header.virtualAddress) + UInt64(max(header.virtualSize, header.sizeOfRawData))
            return (header.virtualAddress, UInt32(min(end, UInt64(UInt32.max))))
        }
        var warnings = [String]()
        let names: PDBStringTable?
        do { names = try pdb.stringTable() } catch {
            names = nil
            warnings.append("/names: \(error)")
        }
        var ids: TypeStream?
        var types: TypeStream?
        do { ids = try pdb.idStream() } catch { warnings.append("IPI: \(error)") }
        do { types = try pdb.typeStream() } catch { warnings.append("TPI: \(error)") }
        var inlineeNames = [UInt32: String]()
        var fileIndex = [String: Int32]()
        for contribution in pdb.dbi.sectionContributions where contribution.size > 0 {
            guard let start = rva(section: contribution.section, offset: UInt32(bitPattern: contribution.offset)) else { continue }
            let end = UInt32(min(UInt64(start) + UInt64(contribution.size), UInt64(UInt32.max)))
            contributions.append(Contribution(start: start, end: end, module: Int(contribution.moduleIndex)))
        }
        contributions.sort { $0.start < $1.start }
        // Cross-module id references need the exporting module's exports: read on demand, once.
        var moduleByName = [String: Int]()
        for module in pdb.modules where moduleByName[module.moduleName.lowercased()] == nil {
            moduleByName[module.moduleName.lowercased()] = module.index
        }
        var exportsCache = [Int: [UInt32: UInt32]]()
        let resolver = CrossScopeResolver { (name: String) -> [UInt32: UInt32] in
            guard let index = moduleByName[name.lowercased()] else { return [:] }
            if let known = exportsCache[index] { return known }
            let exports = (try? pdb.moduleStream(pdb.modules[index])?.crossScopeExports()) ?? [:]
            exportsCache[index] = exports ?? [:]
            return exports ?? [:]
        }

        for module in pdb.modules {
            moduleFileMaps.append([:])
            let stream: ModuleSymbolStream
            do {
                guard let decoded = try pdb.moduleStream(module) else { continue }
                stream = decoded
            } catch {
                warnings.append("module \(module.index) (\(module.moduleName)): \(error)")
                continue
            }
            guard let raw = try? pdb.stream(Int(module.moduleSymStream)) else { continue }
            do {
                try raw.parse { _ throws(ParseError) in
                    try self.addModule(
                        stream, module: module.index, names: names, ids: ids, types: types,
                        inlineeNames: &inlineeNames, fileIndex: &fileIndex, resolver: resolver)
                }
            } catch {
                warnings.append("module \(module.index) (\(module.moduleName)): \(error)")
            }
        }
        functions.sort { $0.start < $1.start }
        lines.sort { $0.start < $1.start }
        moduleLines = Array(repeating: [], count: pdb.modules.count)
        for entry in lines where Int(entry.module) < moduleLines.count { moduleLines[Int(entry.module)].append(entry) }

        do {
            var publics = [(rva: UInt32, name: String)]()
            for symbol in try pdb.publicSymbols() {
                if let rva = rva(section: symbol.segment, offset: symbol.offset) {
                    publics.append((rva, symbol.name))
                }
            }
            publics.sort { $0.rva < $1.rva }
            self.publics = publics
        } catch {
            warnings.append("publics: \(error)")
        }
        self.warnings = warnings
    }

    /// The RVA (original layout) of `section:offset`, nil when the section is unknown.
    public func rva(section: UInt16, offset: UInt32) -> UInt32? {
        guard section >= 1, Int(section) <= sectionHeaders.count else { return nil }
        let (sum, overflow) = sectionHeaders[Int(section) - 1].virtualAddress.addingReportingOverflow(offset)
        return overflow ? nil : sum
    }

    /// The `section:offset` (1-based section) of an RVA in the layout the symbols use.
    public func sectionOffset(rva: UInt32) -> (section: UInt16, offset: UInt32)? {
        for (index, section) in sections.enumerated() where rva >= section.start && rva < section.end {
            return (UInt16(truncatingIfNeeded: index + 1), rva - section.start)
        }
        return nil
    }

    private mutating func fileID(
        _ checksumOffset: UInt32, module: Int, checksums: [UInt32: UInt32], names: PDBStringTable?,
        fileIndex: inout [String: Int32]
    ) -> Int32 {
        if let known = moduleFileMaps[module][checksumOffset] { return known }
        guard let nameOffset = checksums[checksumOffset], let name = names?.string(at: nameOffset) else { return -1 }
        let id: Int32
        if let existing = fileIndex[name] {
            id = existing
        } else {
            id = Int32(files.count)
            files.append(name)
            fileIndex[name] = id
        }
        moduleFileMaps[module][checksumOffset] = id
        return id
    }

    private mutating func addModule(
        _ stream: ModuleSymbolStream, module: Int, names: PDBStringTable?, ids: TypeStream?, types: TypeStream?,
        inlineeNames: inout [UInt32: String], fileIndex: inout [String: Int32], resolver: CrossScopeResolver
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
            return resolver.exports(moduleName)[imports[entry].ids[position]]
        }
        var checksums = [UInt32: UInt32]()
        for entry in try stream.fileChecksums() { checksums[entry.position] = entry.nameOffset }
        var inlinees = [UInt32: InlineeSourceLine]()
        for entry in try stream.inlineeLines() where inlinees[entry.inlinee] == nil { inlinees[entry.inlinee] = entry }
        var inlineeNamesHere = [UInt32: String]()

        // Line tables: each entry runs to the next entry of its fragment, the last to the fragment's end.
        for fragment in try stream.lineFragments() {
            guard let base = rva(section: fragment.segment, offset: fragment.offset) else { continue }
            var entries = [(offset: UInt32, line: UInt32, file: Int32)]()
            for block in fragment.blocks {
                let file = fileID(block.fileChecksumOffset, module: module, checksums: checksums, names: names, fileIndex: &fileIndex)
                for entry in block.entries { entries.append((entry.offset, entry.line, file)) }
            }
            entries.sort { $0.offset < $1.offset }
            for (position, entry) in entries.enumerated() {
                let end = position + 1 < entries.count ? entries[position + 1].offset : fragment.codeSize
                guard end > entry.offset else { continue }
                let (start, overflow) = base.addingReportingOverflow(entry.offset)
                guard !overflow else { continue }
                let stop = UInt32(min(UInt64(base) + UInt64(end), UInt64(UInt32.max)))
                lines.append(LineEntry(start: start, end: stop, line: entry.line, file: entry.file, module: Int32(module)))
            }
        }

        // Symbols: one walk with an explicit scope stack.
        var scopes = [(kind: SymbolKind, site: Int)]()
        var current: Int?  // index in `functions` of the open procedure
        var iterator = stream.records()
        while let record = try iterator.next() {
            let kind = record.kind
            if kind.closesScope {
                if let top = scopes.popLast(), top.kind.isProcedure || top.kind == .thunk32 {
                    if scopes.isEmpty, let open = current {
                        functions[open].sites = functions[open].sites.lowerBound..<inlineSites.count
                        current = nil
                    }
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
            if kind.isProcedure {
                let procedure = try ProcedureSymbol(parsing: record.data)
                if scopes.isEmpty, let start = rva(section: procedure.segment, offset: procedure.offset) {
                    let end = UInt32(min(UInt64(start) + UInt64(procedure.length), UInt64(UInt32.max)))
                    functions.append(
                        Function(
                            start: start, end: end, name: procedure.name, module: module,
                            sites: inlineSites.count..<inlineSites.count, isThunk: false))
                    current = functions.count - 1
                }
            } else if kind == .thunk32 {
                let thunk = try ThunkSymbol(parsing: record.data)
                if scopes.isEmpty, let start = rva(section: thunk.segment, offset: thunk.offset) {
                    let end = UInt32(min(UInt64(start) + UInt64(thunk.length), UInt64(UInt32.max)))
                    functions.append(
                        Function(
                            start: start, end: end, name: thunk.name, module: module,
                            sites: inlineSites.count..<inlineSites.count, isThunk: true))
                    current = functions.count - 1
                }
            } else if kind == .inlineSite || kind == .inlineSite2, current != nil {
                let symbol = try InlineSiteSymbol(parsing: record.data, kind: kind)
                let parent = scopes.last(where: { $0.site >= 0 })?.site ?? -1
                let name: String
                if CrossScopeImport.isCrossScope(symbol.inlinee) {
                    // Local to this module: cached per module.
                    if let known = inlineeNamesHere[symbol.inlinee] {
                        name = known
                    } else {
                        name = globalID(symbol.inlinee).flatMap { ids?.inlineeName($0, types: types) }
                            ?? "<inlinee 0x\(String(symbol.inlinee, radix: 16))>"
                        inlineeNamesHere[symbol.inlinee] = name
                    }
                } else if let known = inlineeNames[symbol.inlinee] {
                    name = known
                } else {
                    name = ids?.inlineeName(symbol.inlinee, types: types) ?? "<inlinee 0x\(String(symbol.inlinee, radix: 16))>"
                    inlineeNames[symbol.inlinee] = name
                }
                let origin = inlinees[symbol.inlinee]
                let baseFile =
                    origin.map {
                        fileID($0.fileChecksumOffset, module: module, checksums: checksums, names: names, fileIndex: &fileIndex)
                    } ?? -1
                var ranges = try BinaryAnnotations.ranges(symbol.annotations)
                for index in ranges.indices {
                    if let offset = ranges[index].fileChecksumOffset {
                        // Remember the file as an index into `files`, stored in the same field.
                        let id = fileID(offset, module: module, checksums: checksums, names: names, fileIndex: &fileIndex)
                        ranges[index].fileChecksumOffset = UInt32(bitPattern: id)
                    }
                }
                inlineSites.append(
                    InlineSite(
                        parent: parent, name: name, ranges: ranges, baseLine: origin?.sourceLine, baseFile: baseFile,
                        module: module, fileMap: module))
                site = inlineSites.count - 1
            }
            scopes.append((kind, site))
        }
        if let open = current {
            functions[open].sites = functions[open].sites.lowerBound..<inlineSites.count
        }
    }

    /// The function covering `rva` (original layout), if any.
    func function(containing rva: UInt32) -> Function? {
        var low = 0
        var high = functions.count
        while low < high {
            let middle = (low + high) / 2
            if functions[middle].start <= rva { low = middle + 1 } else { high = middle }
        }
        // Identical functions folded by the linker (/OPT:ICF) share a start (CrashWithException.exe:
        // the std::bad_alloc and std::bad_array_new_length destructors; crash.exe: _matherr and
        // other one-instruction CRT stubs): the module whose section contribution holds the
        // address wins, as in LLVM; without one, the first in module order.
        var index = low - 1
        if index >= 0 {
            let start = functions[index].start
            var first = index
            while first > 0, functions[first - 1].start == start { first -= 1 }
            if first != index, let owner = contributingModule(rva) {
                // Pick the copy from the module that contributed the code, as LLVM does.
                index = (first...index).first { functions[$0].module == owner } ?? first
            } else {
                index = first
            }
        }
        // Walk back over a few earlier starts in case functions overlap (thunks inside procedures).
        var steps = 0
        while index >= 0, steps < 8 {
            let candidate = functions[index]
            if rva >= candidate.start, rva < candidate.end { return candidate }
            index -= 1
            steps += 1
        }
        return nil
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

    /// The line entry covering `rva`: from `module`'s own line table when a function names it.
    ///
    /// Where several entries start at the covering address (folded functions of one module, or
    /// a zero-length entry followed by the real one, which the fragment walk already dropped),
    /// the first in module order wins.
    func line(at rva: UInt32, module: Int? = nil) -> LineEntry? {
        if let module, module < moduleLines.count, !moduleLines[module].isEmpty {
            return Self.covering(rva, in: moduleLines[module])
        }
        return Self.covering(rva, in: lines)
    }

    static func covering(_ rva: UInt32, in lines: [LineEntry]) -> LineEntry? {
        var low = 0
        var high = lines.count
        while low < high {
            let middle = (low + high) / 2
            if lines[middle].start <= rva { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        var index = low - 1
        while index > 0, lines[index - 1].start == lines[index].start { index -= 1 }
        let entry = lines[index]
        return rva < entry.end ? entry : nil
    }

    func fileName(_ id: Int32) -> String? {
        id >= 0 && Int(id) < files.count ? files[Int(id)] : nil
    }

    /// Function, line and inline frames at the image RVA `rva`.
    public func lookup(rva imageRVA: UInt32) -> PDBSourceLocation? {
        var rva = imageRVA
        if let toSource {
            guard let mapped = toSource.map(imageRVA) else { return nil }
            rva = mapped
        }
        if let function = function(containing: rva) {
            let line = self.line(at: rva, module: function.module)
            let offset = rva - function.start
            var chain = [Int]()
            for index in function.sites {
                let site = inlineSites[index]
                guard site.parent == (chain.last ?? -1) || (site.parent == -1 && chain.isEmpty) else { continue }
                if site.ranges.contains(where: { offset >= $0.start && offset < $0.end }) {
                    chain.append(index)
                }
            }
            var frames = [PDBInlineFrame]()
            for index in chain.reversed() {
                let site = inlineSites[index]
                let range = site.ranges.first { offset >= $0.start && offset < $0.end }
                var frame = PDBInlineFrame(function: site.name, file: fileName(site.baseFile), line: nil)
                if let base = site.baseLine, let range {
                    frame.line = UInt32(truncatingIfNeeded: Int64(base) + Int64(range.lineOffset))
                }
                if let file = range?.fileChecksumOffset {
                    frame.file = fileName(Int32(bitPattern: file))
                }
                frames.append(frame)
            }
            return PDBSourceLocation(
                rva: imageRVA, function: function.name, functionRVA: fromSource?.map(function.start) ?? function.start,
                functionOffset: offset, isPublicSymbol: false, file: line.flatMap { fileName($0.file) }, line: line?.line,
                inlineFrames: frames, moduleIndex: function.module)
        }
        let line = self.line(at: rva)
        // No procedure: the nearest public symbol at or below, within the same section.
        var low = 0
        var high = publics.count
        while low < high {
            let middle = (low + high) / 2
            if publics[middle].rva <= rva { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let symbol = publics[low - 1]
        guard let section = sections.first(where: { symbol.rva >= $0.start && symbol.rva < $0.end }), rva < section.end else {
            return nil
        }
        return PDBSourceLocation(
            rva: imageRVA, function: symbol.name, functionRVA: fromSource?.map(symbol.rva) ?? symbol.rva,
            functionOffset: rva - symbol.rva, isPublicSymbol: true, file: line.flatMap { fileName($0.file) }, line: line?.line,
            inlineFrames: [], moduleIndex: nil)
    }
}

extension PDBAddressIndex {
    /// The image RVA of the first byte of every inline range, for tests and sampling.
    public func inlineRangeStarts() -> [UInt32] {
        var starts = [UInt32]()
        for function in functions {
            for index in function.sites {
                for range in inlineSites[index].ranges {
                    let (original, overflow) = function.start.addingReportingOverflow(range.start)
                    guard !overflow else { continue }
                    starts.append(fromSource?.map(original) ?? original)
                }
            }
        }
        return starts
    }
}

/// Looks up another module's cross-scope exports by module name (on demand, cached by the caller).
struct CrossScopeResolver {
    let exports: (String) -> [UInt32: UInt32]
}
