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
    /// The line entry's start column, when the module's line table has columns.
    public var column: UInt16?
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
        /// The procedure's `S_FRAMEPROC`: frame size, saved registers, frame pointer registers.
        public var frame: FrameProcSymbol? = nil
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
        var column: UInt16?
    }

    /// A section contribution in RVAs: which module's copy of the code the image holds.
    struct Contribution: Sendable {
        var start: UInt32
        var end: UInt32
        var module: Int
    }

    /// Functions sorted by start.
    public internal(set) var functions: [Function] = []
    /// Public symbols (RVA, decorated name) sorted by RVA.
    public internal(set) var publics: [(rva: UInt32, name: String)] = []
    /// Problems met while building; each names the module or stream that was skipped.
    public internal(set) var warnings: [String] = []
    var inlineSites: [InlineSite] = []
    var lines: [LineEntry] = []
    /// The same entries per module, so that a function's line comes from its own module even
    /// where folded functions of other modules have entries at nearby addresses.
    var moduleLines: [[LineEntry]] = []
    var contributions: [Contribution] = []
    /// Unique source file names.
    public internal(set) var files: [String] = []
    /// Per module: checksum offset → index in `files`.
    var moduleFileMaps: [[UInt32: Int32]] = []
    /// Section starts and ends (original layout) for section-bounded public lookups.
    var sections: [(start: UInt32, end: UInt32)] = []
    var toSource: OMAPTable?
    var fromSource: OMAPTable?
    /// Section headers used to turn `segment:offset` into RVAs.
    public internal(set) var sectionHeaders: [PDBSectionHeader] = []

    /// Upper bound on nested scopes in one procedure (real code stays far below).
    public static let maxScopeDepth = 4096

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
                column: line?.column,
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
            column: line?.column,
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
