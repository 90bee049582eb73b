import BinaryReading
import BreakpadSymbols

/// A compact, versioned, memory-mappable form of one module's symbols.
///
/// Built once from a `SymbolFile` (which a PDB converts to), then opened by mapping the file:
/// opening reads the 96-byte header and checks that every table lies inside the file; a lookup
/// is a binary search over fixed-size records, with no text parsed and nothing decoded up front.
///
/// Layout (little-endian), all offsets from the start of the file:
/// - header: magic `PMSYMCSH`, version, counts and offsets of the tables below;
/// - functions (40 bytes each, sorted by address): address u64, size u64, name (offset u32,
///   length u32), first line u32, line count u32, first inline u32, inline count u32;
/// - lines (24 bytes, sorted within each function): address u64, size u32, line u32, file u32, reserved u32;
/// - inlines (32 bytes, one per range): address u64, size u32, depth u16, reserved u16,
///   name (offset u32, length u32), call file u32 (0xFFFFFFFF when unknown), call line u32;
/// - files (8 bytes): name (offset u32, length u32), indexed by the lines' file field;
/// - publics (16 bytes, sorted): address u64, name (offset u32, length u32);
/// - unwind rules (32 bytes, sorted by address): address u64, size u64 (0 for a CFI delta),
///   kind u32 (0 CFI INIT, 1 CFI delta, 2 STACK WIN), reserved u32, rules (offset u32, length u32)
///   — STACK WIN rows keep the record's text after `STACK WIN `;
/// - strings: UTF-8, referenced by (offset, length) into this blob.
public struct SymbolCache: Sendable {
    /// The format version; caches of another version are rebuilt, never read.
    public static let version: UInt32 = 1
    static let magic: [UInt8] = Array("PMSYMCSH".utf8)
    static let headerSize = 96
    static let functionSize = 40
    static let lineSize = 24
    static let inlineSize = 32
    static let fileSize = 8
    static let publicSize = 16
    static let ruleSize = 32
    static let noFile: UInt32 = 0xFFFF_FFFF

    let bytes: ByteView
    let functions: ByteView
    let lines: ByteView
    let inlines: ByteView
    let files: ByteView
    let publics: ByteView
    let rules: ByteView
    let strings: ByteView
    /// The debug id of the symbols the cache was built from.
    public let debugID: String?

    /// Maps and validates a cache file.
    public init(path: String) throws(ParseError) {
        try self.init(bytes: MappedFile(path: path).bytes)
    }

    /// Validates a cache held in `bytes`: magic, version, and every table inside the file.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        var reader = bytes.reader()
        let magic = try reader.readBytes(8, "SymbolCache.magic")
        guard magic.elementsEqual(Self.magic) else {
            throw ParseError(
                offset: 0, field: "SymbolCache.magic", kind: .badSignature(expected: "PMSYMCSH", found: magic.cString))
        }
        let version = try reader.read(UInt32.self, "SymbolCache.version")
        guard version == Self.version else {
            throw ParseError(
                offset: 8, field: "SymbolCache.version",
                kind: .unsupportedVersion("\(version), this reader knows \(Self.version)"))
        }
        _ = try reader.read(UInt32.self, "SymbolCache.flags")
        func table(_ name: String, recordSize: Int) throws(ParseError) -> ByteView {
            let offset = try reader.read(UInt32.self, "SymbolCache.\(name).offset")
            let count = try reader.read(UInt32.self, "SymbolCache.\(name).count")
            let (size, overflow) = Int(count).multipliedReportingOverflow(by: recordSize)
            guard !overflow else {
                throw ParseError(
                    offset: Int64(reader.position - 4), field: "SymbolCache.\(name).count",
                    kind: .countTooLarge(count: Int64(count), limit: 0))
            }
            return try bytes.slice(offset: offset, size: size, field: "SymbolCache.\(name)")
        }
        functions = try table("functions", recordSize: Self.functionSize)
        lines = try table("lines", recordSize: Self.lineSize)
        inlines = try table("inlines", recordSize: Self.inlineSize)
        files = try table("files", recordSize: Self.fileSize)
        publics = try table("publics", recordSize: Self.publicSize)
        rules = try table("rules", recordSize: Self.ruleSize)
        strings = try table("strings", recordSize: 1)
        let idOffset = try reader.read(UInt32.self, "SymbolCache.debugID.offset")
        let idLength = try reader.read(UInt32.self, "SymbolCache.debugID.length")
        let id = try strings.slice(offset: idOffset, size: idLength, field: "SymbolCache.debugID").utf8String
        debugID = id.isEmpty ? nil : id
    }

    /// Number of functions.
    public var functionCount: Int { functions.count / Self.functionSize }

    // MARK: - Records

    @inline(__always)
    func u64(_ view: ByteView, _ offset: Int) -> UInt64 {
        (try? view.load(UInt64.self, at: offset, field: "SymbolCache")) ?? 0
    }

    @inline(__always)
    func u32(_ view: ByteView, _ offset: Int) -> UInt32 {
        (try? view.load(UInt32.self, at: offset, field: "SymbolCache")) ?? 0
    }

    /// A string by (offset, length) stored at `offset` of `view`; empty when it lies outside the blob.
    func string(_ view: ByteView, _ offset: Int) -> String {
        let start = u32(view, offset)
        let length = u32(view, offset + 4)
        return (try? strings.slice(offset: start, size: length, field: "SymbolCache.string"))?.utf8String ?? ""
    }

    /// Index of the last record whose address is at most `address`, in a table sorted by a leading u64.
    func lastIndex(in table: ByteView, recordSize: Int, atMost address: UInt64, from: Int = 0, to: Int? = nil) -> Int? {
        var low = from
        var high = to ?? table.count / recordSize
        let start = low
        while low < high {
            let mid = (low + high) / 2
            if u64(table, mid * recordSize) <= address {
                low = mid + 1
            } else {
                high = mid
            }
        }
        return low > start ? low - 1 : nil
    }

    func file(_ index: UInt32) -> String? {
        guard index != Self.noFile, Int(index) < files.count / Self.fileSize else { return nil }
        return string(files, Int(index) * Self.fileSize)
    }

    // MARK: - Lookup

    /// Frames at `rva`, innermost first, as `SymbolFile.lookup` gives them.
    public func frames(at rva: UInt64) -> [SymbolizedFrame] {
        guard let index = lastIndex(in: functions, recordSize: Self.functionSize, atMost: rva) else {
            return publicFrame(at: rva)
        }
        // Functions may nest or overlap; look back a little for one that covers the address.
        var candidate = index
        var found: Int?
        while candidate >= 0, index - candidate < 8 {
            let base = candidate * Self.functionSize
            let start = u64(functions, base)
            if rva >= start, rva - start < u64(functions, base + 8) {
                found = candidate
                break
            }
            candidate -= 1
        }
        guard let function = found else { return publicFrame(at: rva) }
        let base = function * Self.functionSize
        let start = u64(functions, base)
        let offset = rva - start
        let firstLine = Int(u32(functions, base + 24))
        let lineCount = Int(u32(functions, base + 28))
        var file: String?
        var line: UInt64?
        if lineCount > 0,
            let lineIndex = lastIndex(
                in: lines, recordSize: Self.lineSize, atMost: rva, from: firstLine,
                to: min(firstLine + lineCount, lines.count / Self.lineSize))
        {
            let record = lineIndex * Self.lineSize
            let lineStart = u64(lines, record)
            if rva - lineStart < UInt64(u32(lines, record + 8)) {
                file = self.file(u32(lines, record + 16))
                let number = u32(lines, record + 12)
                line = number > 0 ? UInt64(number) : nil
            }
        }
        let firstInline = Int(u32(functions, base + 32))
        let inlineCount = Int(u32(functions, base + 36))
        var active = [(depth: UInt16, name: String, callFile: UInt32, callLine: UInt32)]()
        for index in firstInline..<min(firstInline + inlineCount, inlines.count / Self.inlineSize) {
            let record = index * Self.inlineSize
            let address = u64(inlines, record)
            if rva >= address, rva - address < UInt64(u32(inlines, record + 8)) {
                let depth = UInt16(truncatingIfNeeded: u32(inlines, record + 12))
                active.append((depth, string(inlines, record + 16), u32(inlines, record + 24), u32(inlines, record + 28)))
            }
        }
        active.sort { $0.depth < $1.depth }
        var frames = [SymbolizedFrame]()
        for record in active.reversed() {
            frames.append(SymbolizedFrame(function: record.name, functionOffset: offset, file: file, line: line, inlined: true))
            file = self.file(record.callFile) ?? file
            line = record.callLine > 0 ? UInt64(record.callLine) : nil
        }
        frames.append(
            SymbolizedFrame(
                function: string(functions, base + 16), functionOffset: offset, file: file, line: line, inlined: false))
        return frames
    }

    func publicFrame(at rva: UInt64) -> [SymbolizedFrame] {
        guard let index = lastIndex(in: publics, recordSize: Self.publicSize, atMost: rva) else { return [] }
        let base = index * Self.publicSize
        return [
            SymbolizedFrame(
                function: string(publics, base + 8), functionOffset: rva - u64(publics, base), file: nil, line: nil,
                inlined: false)
        ]
    }

    /// The unwind rules in force at `rva`: the CFI INIT rules and every delta at or before it, or a STACK WIN record's text.
    public func unwindRules(at rva: UInt64) -> [String] {
        guard let index = lastIndex(in: rules, recordSize: Self.ruleSize, atMost: rva) else { return [] }
        var out = [String]()
        var candidate = index
        // Walk back over deltas to their INIT row.
        while candidate >= 0, index - candidate < 4096 {
            let base = candidate * Self.ruleSize
            let kind = u32(rules, base + 16)
            if kind == 1 {
                out.append(string(rules, base + 24))
            } else {
                let start = u64(rules, base)
                guard rva - start < u64(rules, base + 8) else { return [] }
                out.append(string(rules, base + 24))
                return out.reversed()
            }
            candidate -= 1
        }
        return []
    }
}

extension SymbolCache: SymbolProvider {}

extension SymbolCache {
    /// Rows of the rules table examined when walking back from an address: ranges nest and overlap
    /// (STACK WIN FPO and FrameData records for one function, CFI deltas after their INIT row).
    static let ruleSearchLimit = 4096

    /// The `STACK CFI INIT` record covering `rva` with its deltas at or before `rva`, as
    /// `SymbolFile.cfi(at:)` and `CFIRecord.rules(at:)` would give them.
    public func cfiRecord(at rva: UInt64) -> CFIRecord? {
        guard let index = lastIndex(in: rules, recordSize: Self.ruleSize, atMost: rva) else { return nil }
        var deltas = [CFIRecord.Delta]()
        var candidate = index
        while candidate >= 0, index - candidate < Self.ruleSearchLimit {
            let base = candidate * Self.ruleSize
            switch u32(rules, base + 16) {
            case 1: deltas.append(.init(address: u64(rules, base), rules: string(rules, base + 24)))
            case 0:
                let start = u64(rules, base)
                guard rva - start < u64(rules, base + 8) else { return nil }
                return CFIRecord(
                    address: start, size: u64(rules, base + 8), rules: string(rules, base + 24), deltas: deltas.reversed())
            default: break
            }
            candidate -= 1
        }
        return nil
    }

    /// The STACK WIN record covering `rva`, FrameData preferred over FPO and the innermost range when
    /// they nest, as `SymbolFile.stackWin(at:)` chooses.
    public func stackWinRecord(at rva: UInt64) -> StackWinRecord? {
        guard let index = lastIndex(in: rules, recordSize: Self.ruleSize, atMost: rva) else { return nil }
        var best: StackWinRecord?
        var candidate = index
        var seen = 0
        // As in SymbolFile, only a bounded number of earlier STACK WIN records can still cover `rva`.
        while candidate >= 0, seen < 64, index - candidate < Self.ruleSearchLimit {
            let base = candidate * Self.ruleSize
            candidate -= 1
            guard u32(rules, base + 16) == 2 else { continue }
            seen += 1
            let start = u64(rules, base)
            guard rva - start < u64(rules, base + 8) else { continue }
            let text = "STACK WIN " + string(rules, base + 24) + "\n"
            guard let record = (try? SymbolFile(parsing: MappedFile(bytes: Array(text.utf8)).bytes))?.stackWin.first else {
                continue
            }
            if best == nil || (record.type == StackWinRecord.frameData && best!.type != StackWinRecord.frameData) {
                best = record
            }
        }
        return best
    }

    /// Whether a function or public symbol covers `rva`; nil when the cache holds neither.
    ///
    /// A public symbol has no size: it covers `rva` only when no function starts between the two, as
    /// `SymbolFile.hasFunction(at:)` decides.
    public func hasSymbol(at rva: UInt64) -> Bool? {
        if functions.count == 0 && publics.count == 0 { return nil }
        let function = lastIndex(in: functions, recordSize: Self.functionSize, atMost: rva)
        if let function {
            var candidate = function
            while candidate >= 0, function - candidate < 8 {
                let base = candidate * Self.functionSize
                if rva - u64(functions, base) < u64(functions, base + 8) { return true }
                candidate -= 1
            }
        }
        guard let symbol = lastIndex(in: publics, recordSize: Self.publicSize, atMost: rva) else { return false }
        guard let function else { return true }
        return u64(functions, function * Self.functionSize) <= u64(publics, symbol * Self.publicSize)
    }
}
