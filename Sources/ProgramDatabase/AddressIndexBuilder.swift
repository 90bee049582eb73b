import BinaryReading

/// Building the address index: one walk over each module stream, then sorting.
extension PDBAddressIndex {
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
            guard let start = rva(section: contribution.section, offset: UInt32(bitPattern: contribution.offset)) else {
                continue
            }
            let end = UInt32(min(UInt64(start) + UInt64(contribution.size), UInt64(UInt32.max)))
            contributions.append(Contribution(start: start, end: end, module: Int(contribution.moduleIndex)))
        }
        contributions.sort { $0.start < $1.start }
        // Cross-module id references need the exporting module's exports: read on demand, once.
        var moduleByName = [String: Int]()
        for module in pdb.modules where moduleByName[module.moduleName.lowercased()] == nil {
            moduleByName[module.moduleName.lowercased()] = module.index
        }
        var exportsCache = [Int: CrossScopeExportTable]()
        let resolver = CrossScopeResolver { (name: String) -> CrossScopeExportTable in
            guard let index = moduleByName[name.lowercased()] else { return .empty }
            if let known = exportsCache[index] { return known }
            let exports = (try? pdb.moduleStream(pdb.modules[index])?.crossScopeExports()) ?? .empty
            exportsCache[index] = exports
            return exports
        }

        for module in pdb.modules {
            moduleFileMaps.append([:])
            guard module.hasSymbolStream else { continue }
            do {
                // One copy of the stream serves decoding and the walk; errors get file offsets.
                guard let raw = try pdb.stream(Int(module.moduleSymStream)) else { continue }
                try raw.parse { view throws(ParseError) in
                    let stream = try ModuleSymbolStream(parsing: view, module: module)
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

    fileprivate mutating func fileID(
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

    fileprivate mutating func addModule(
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
            var entries = [(offset: UInt32, line: UInt32, file: Int32, column: UInt16?)]()
            for block in fragment.blocks {
                let file = fileID(
                    block.fileChecksumOffset, module: module, checksums: checksums, names: names, fileIndex: &fileIndex)
                for entry in block.entries { entries.append((entry.offset, entry.line, file, entry.columnStart)) }
            }
            entries.sort { $0.offset < $1.offset }
            for (position, entry) in entries.enumerated() {
                let end = position + 1 < entries.count ? entries[position + 1].offset : fragment.codeSize
                guard end > entry.offset else { continue }
                let (start, overflow) = base.addingReportingOverflow(entry.offset)
                guard !overflow else { continue }
                let stop = UInt32(min(UInt64(base) + UInt64(end), UInt64(UInt32.max)))
                lines.append(
                    LineEntry(
                        start: start, end: stop, line: entry.line, file: entry.file, module: Int32(module),
                        column: entry.column))
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
            // The procedure's frame record sits directly in its scope.
            if kind == .frameProc, scopes.count == 1, let open = current, functions[open].frame == nil {
                functions[open].frame = try FrameProcSymbol(parsing: record.data)
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
                        name =
                            globalID(symbol.inlinee).flatMap { ids?.inlineeName($0, types: types) }
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
}

/// Looks up another module's cross-scope exports by module name (on demand, cached by the caller).
struct CrossScopeResolver {
    let exports: (String) -> CrossScopeExportTable
}
