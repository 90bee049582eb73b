import BinaryReading

/// A Breakpad text symbol file (.sym), parsed once and looked up by RVA.
///
/// Functions, publics, CFI and STACK WIN records are kept sorted by address, so every lookup
/// is a binary search. Lines that cannot be parsed are skipped with a warning (Breakpad's
/// processor does the same and marks the module's symbols corrupt), except a file that does not
/// start with a MODULE record, which is not a symbol file at all.
public struct SymbolFile: Sendable, Equatable, Codable {
    /// The MODULE record; nil only in CFI-only files (symbolic writes such files).
    public var module: ModuleRecord?
    /// `INFO CODE_ID <code id> [<code file>]`, when present.
    public var codeID: String?
    /// The code file from `INFO CODE_ID`, when present.
    public var codeFile: String?
    /// Other INFO lines, verbatim without the `INFO ` prefix.
    public var info: [String]
    /// FILE records by index.
    public var files: [UInt32: String]
    /// INLINE_ORIGIN records by index.
    public var inlineOrigins: [UInt32: String]
    /// FUNC records sorted by address, each with its lines (sorted) and inlines.
    public var functions: [FunctionRecord]
    /// PUBLIC records sorted by address.
    public var publics: [PublicRecord]
    /// STACK WIN records sorted by RVA (FPO and FrameData mixed; they may overlap).
    public var stackWin: [StackWinRecord]
    /// STACK CFI INIT records sorted by address, with their deltas.
    public var cfi: [CFIRecord]
    /// Lines that were skipped, with their line numbers.
    public var warnings: [String]

    /// Creates a file from records (for writers such as `dump-syms`); they are sorted here.
    public init(
        module: ModuleRecord?, codeID: String? = nil, codeFile: String? = nil, info: [String] = [],
        files: [UInt32: String] = [:], inlineOrigins: [UInt32: String] = [:], functions: [FunctionRecord] = [],
        publics: [PublicRecord] = [], stackWin: [StackWinRecord] = [], cfi: [CFIRecord] = []
    ) {
        self.module = module
        self.codeID = codeID
        self.codeFile = codeFile
        self.info = info
        self.files = files
        self.inlineOrigins = inlineOrigins
        self.functions = functions
        self.publics = publics
        self.stackWin = stackWin
        self.cfi = cfi
        warnings = []
        sortRecords()
    }

    /// Parses a .sym file from its bytes (LF or CRLF line ends).
    public init(parsing bytes: ByteView) throws(ParseError) {
        var parser = SymbolFileParser(bytes: bytes)
        self = try parser.parse()
    }

    /// Parses a .sym file at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(parsing: MappedFile(path: path).bytes)
    }

    mutating func sortRecords() {
        // Stable: records at the same address keep their file order, so "the last one wins"
        // means the same thing to every reader (breakpad's microdump ARM symbols repeat CFI INITs).
        functions = stableSorted(functions, by: \.address)
        for index in functions.indices where !isSorted(functions[index].lines) {
            functions[index].lines = stableSorted(functions[index].lines, by: \.address)
        }
        publics = stableSorted(publics, by: \.address)
        stackWin = stableSorted(stackWin, by: \.rva)
        cfi = stableSorted(cfi, by: \.address)
    }

    private func stableSorted<T>(_ items: [T], by key: (T) -> UInt64) -> [T] {
        guard zip(items, items.dropFirst()).contains(where: { key($0) > key($1) }) else { return items }
        return items.enumerated().sorted {
            key($0.element) != key($1.element) ? key($0.element) < key($1.element) : $0.offset < $1.offset
        }
        .map(\.element)
    }

    private func isSorted(_ lines: [LineRecord]) -> Bool {
        zip(lines, lines.dropFirst()).allSatisfy { $0.address <= $1.address }
    }
}

// MARK: - Lookup

/// What a symbol file says about one address.
public struct SymbolLookup: Sendable, Equatable, Codable {
    /// One frame at the address: the outermost is the FUNC, inner ones are inlined calls.
    public struct Frame: Sendable, Equatable, Codable {
        public var function: String
        /// Offset from the function's start (for inlined frames: from the FUNC's start).
        public var functionOffset: UInt64
        public var file: String?
        public var line: Int64?
    }

    /// Frames innermost first; the last one is the FUNC (or PUBLIC) record itself.
    public var frames: [Frame]
    /// Whether the name came from a PUBLIC record (no FUNC covers the address).
    public var fromPublic: Bool
}

extension SymbolFile {
    /// The FUNC record covering `rva`, if any.
    public func function(at rva: UInt64) -> FunctionRecord? {
        guard let index = lastIndex(in: functions, atMost: rva, key: \.address) else { return nil }
        // Functions may nest or overlap (identical code folding); look back a little for one that covers.
        var candidate = index
        while candidate >= 0, index - candidate < 8 {
            let function = functions[candidate]
            if AddressRange(address: function.address, size: function.size).contains(rva) { return function }
            candidate -= 1
        }
        return nil
    }

    /// The nearest PUBLIC record at or below `rva`, as Breakpad uses when no FUNC covers an address.
    public func publicSymbol(at rva: UInt64) -> PublicRecord? {
        lastIndex(in: publics, atMost: rva, key: \.address).map { publics[$0] }
    }

    /// The line record of `function` covering `rva`.
    public func line(in function: FunctionRecord, at rva: UInt64) -> LineRecord? {
        guard let index = lastIndex(in: function.lines, atMost: rva, key: \.address) else { return nil }
        let line = function.lines[index]
        return AddressRange(address: line.address, size: line.size).contains(rva) ? line : nil
    }

    /// The STACK WIN record for `rva`: FrameData preferred over FPO, the innermost range when they nest.
    public func stackWin(at rva: UInt64) -> StackWinRecord? {
        guard let index = lastIndex(in: stackWin, atMost: rva, key: \.rva) else { return nil }
        var best: StackWinRecord?
        var candidate = index
        // Records before `index` start earlier; only a bounded number can still cover `rva`.
        while candidate >= 0, index - candidate < 64 {
            let record = stackWin[candidate]
            if AddressRange(address: record.rva, size: record.codeSize).contains(rva) {
                if best == nil || (record.type == StackWinRecord.frameData && best!.type != StackWinRecord.frameData) {
                    best = record
                }
            }
            candidate -= 1
        }
        return best
    }

    /// The CFI record covering `rva`.
    public func cfi(at rva: UInt64) -> CFIRecord? {
        guard let index = lastIndex(in: cfi, atMost: rva, key: \.address) else { return nil }
        let record = cfi[index]
        return AddressRange(address: record.address, size: record.size).contains(rva) ? record : nil
    }

    /// Function, source line and inline frames at `rva`, innermost first; nil when nothing covers it.
    public func lookup(_ rva: UInt64) -> SymbolLookup? {
        guard let function = function(at: rva) else {
            guard let symbol = publicSymbol(at: rva) else { return nil }
            return SymbolLookup(
                frames: [.init(function: symbol.name, functionOffset: rva - symbol.address, file: nil, line: nil)],
                fromPublic: true)
        }
        let line = line(in: function, at: rva)
        // Inline records covering the address, outermost (depth 0) first.
        let active = function.inlines.filter { record in record.ranges.contains { $0.contains(rva) } }
            .sorted { $0.depth < $1.depth }
        var frames = [SymbolLookup.Frame]()
        // The innermost frame gets the line table's line; each outer frame the call site of the one inside it.
        var file = line.flatMap { files[$0.file] }
        var lineNumber = line?.line
        for record in active.reversed() {
            frames.append(
                .init(
                    function: inlineOrigins[record.origin] ?? "<inline origin \(record.origin)>",
                    functionOffset: rva - function.address, file: file, line: lineNumber))
            file = record.callFile.flatMap { files[$0] } ?? file
            lineNumber = Int64(record.callLine)
        }
        frames.append(.init(function: function.name, functionOffset: rva - function.address, file: file, line: lineNumber))
        return SymbolLookup(frames: frames, fromPublic: false)
    }
}
