import BinaryReading

/// Reads .sym text line by line from bytes, without building a String per line.
struct SymbolFileParser {
    let bytes: ByteView
    private var module: ModuleRecord?
    private var sawFirstRecord = false
    private var codeID: String?
    private var codeFile: String?
    private var info = [String]()
    private var files = [UInt32: String]()
    private var rawOrigins = [(index: UInt32, rest: String)]()
    private var functions = [FunctionRecord]()
    private var publics = [PublicRecord]()
    private var stackWin = [StackWinRecord]()
    private var cfi = [CFIRecord]()
    private var warnings = [String]()
    /// Whether INLINE records of the first format (no call-site file) were seen.
    private var oldInlineFormat = false

    /// Warnings kept at most; a file of garbage should not produce a million of them.
    static let maximumWarnings = 100

    init(bytes: ByteView) {
        self.bytes = bytes
    }

    mutating func parse() throws(ParseError) -> SymbolFile {
        var lineNumber = 0
        var failure: ParseError?
        bytes.withUnsafeBytes { buffer in
            var start = 0
            let count = buffer.count
            while start < count, failure == nil {
                var end = start
                while end < count, buffer[end] != 0x0A { end += 1 }
                var lineEnd = end
                if lineEnd > start, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }  // CRLF files (test_app.sym under 6A98...)
                lineNumber += 1
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<lineEnd])
                if !line.isEmpty {
                    if !sawFirstRecord {
                        sawFirstRecord = true
                        if let record = Self.moduleRecord(line) {
                            module = record
                            start = end + 1
                            continue
                        }
                        // symbolic writes CFI-only files without a MODULE line (its py tests'
                        // crash_linux.sym); anything else that does not start with a record is not a .sym.
                        var tokens = Tokens(line)
                        guard let first = tokens.next(), let keyword = Self.keyword(first), keyword != .module else {
                            failure = ParseError(
                                offset: bytes.fileOffset + Int64(start), field: "MODULE record",
                                kind: .badSignature(expected: "MODULE <os> <arch> <id> <name>", found: Self.preview(line)))
                            return
                        }
                    }
                    if !handle(line) {
                        warn("line \(lineNumber): cannot parse \(Self.preview(line))")
                    }
                }
                start = end + 1
            }
        }
        if let failure { throw failure }
        guard sawFirstRecord else {
            throw ParseError(offset: bytes.fileOffset, field: "MODULE record", kind: .truncated(needed: 1, available: 0))
        }
        var origins = [UInt32: String]()
        for origin in rawOrigins {
            var name = origin.rest
            // The first format wrote `INLINE_ORIGIN <id> <file id> <name>` (breakpad's linux_inline.old.sym).
            if oldInlineFormat, let space = name.firstIndex(of: " "), UInt32(name[..<space]) != nil {
                name = String(name[name.index(after: space)...])
            }
            origins[origin.index] = name
        }
        var file = SymbolFile(
            module: module, codeID: codeID, codeFile: codeFile, info: info, files: files, inlineOrigins: origins,
            functions: functions, publics: publics, stackWin: stackWin, cfi: cfi)
        file.warnings = warnings
        return file
    }

    private mutating func warn(_ message: String) {
        if warnings.count < Self.maximumWarnings { warnings.append(message) }
    }

    /// Handles one line after MODULE; false when it is malformed.
    private mutating func handle(_ line: UnsafeRawBufferPointer) -> Bool {
        var tokens = Tokens(line)
        guard let first = tokens.next() else { return true }
        switch Self.keyword(first) {
        case .file:
            guard let index = tokens.decimal(), let name = tokens.rest() else { return false }
            files[UInt32(truncatingIfNeeded: index)] = name
        case .inlineOrigin:
            guard let index = tokens.decimal(), let rest = tokens.rest() else { return false }
            rawOrigins.append((UInt32(truncatingIfNeeded: index), rest))
        case .function:
            var multiple = false
            if tokens.peekIs("m") {
                multiple = true
                _ = tokens.next()
            }
            guard let address = tokens.hex(), let size = tokens.hex(), let parameters = tokens.hex() else { return false }
            functions.append(
                FunctionRecord(
                    address: address, size: size, parameterSize: parameters, isMultiple: multiple, name: tokens.rest() ?? ""))
        case .publicSymbol:
            var multiple = false
            if tokens.peekIs("m") {
                multiple = true
                _ = tokens.next()
            }
            guard let address = tokens.hex(), let parameters = tokens.hex() else { return false }
            publics.append(
                PublicRecord(address: address, parameterSize: parameters, isMultiple: multiple, name: tokens.rest() ?? ""))
        case .inline:
            return handleInline(&tokens)
        case .stack:
            return handleStack(&tokens)
        case .info:
            guard let rest = tokens.rest() else { return true }
            if rest.hasPrefix("CODE_ID ") {
                let parts = rest.dropFirst(8).split(separator: " ", maxSplits: 1)
                codeID = parts.first.map(String.init)
                codeFile = parts.count > 1 ? String(parts[1]) : nil
            } else {
                info.append(rest)
            }
        case .module:
            return false
        case nil:
            // A line record: `<address> <size> <line> <file>`, belonging to the last FUNC.
            guard let address = Self.parseHex(first), let size = tokens.hex(), let line = tokens.signedDecimal(),
                let file = tokens.decimal(), !functions.isEmpty
            else { return false }
            functions[functions.count - 1].lines.append(
                LineRecord(address: address, size: size, line: line, file: UInt32(truncatingIfNeeded: file)))
        }
        return true
    }

    private mutating func handleInline(_ tokens: inout Tokens) -> Bool {
        var numbers = [UInt64]()
        var fields = 0
        // depth, line, [file,] origin are decimal; the ranges after them are hex pairs. Collect raw tokens first.
        var raw = [UnsafeRawBufferPointer]()
        while let token = tokens.next() {
            raw.append(token)
            fields += 1
            if fields > 2 + 2 + 2 * 100_000 { return false }
        }
        guard !functions.isEmpty, raw.count >= 5 else { return false }
        // New format: 4 header fields + pairs (even count); old format: 3 + pairs (odd count).
        let headerCount = raw.count % 2 == 0 ? 4 : 3
        if headerCount == 3 { oldInlineFormat = true }
        for token in raw[0..<headerCount] {
            guard let value = Self.parseDecimal(token) else { return false }
            numbers.append(value)
        }
        var ranges = [AddressRange]()
        ranges.reserveCapacity((raw.count - headerCount) / 2)
        var index = headerCount
        while index + 1 < raw.count {
            guard let address = Self.parseHex(raw[index]), let size = Self.parseHex(raw[index + 1]) else { return false }
            ranges.append(AddressRange(address: address, size: size))
            index += 2
        }
        let record = InlineRecord(
            depth: UInt32(truncatingIfNeeded: numbers[0]), callLine: UInt32(truncatingIfNeeded: numbers[1]),
            callFile: headerCount == 4 ? UInt32(truncatingIfNeeded: numbers[2]) : nil,
            origin: UInt32(truncatingIfNeeded: numbers[headerCount - 1]), ranges: ranges)
        functions[functions.count - 1].inlines.append(record)
        return true
    }

    private mutating func handleStack(_ tokens: inout Tokens) -> Bool {
        guard let kind = tokens.next() else { return false }
        if Self.equals(kind, "CFI") {
            if tokens.peekIs("INIT") {
                _ = tokens.next()
                guard let address = tokens.hex(), let size = tokens.hex() else { return false }
                cfi.append(CFIRecord(address: address, size: size, rules: tokens.rest() ?? ""))
            } else {
                guard let address = tokens.hex(), !cfi.isEmpty else { return false }
                cfi[cfi.count - 1].deltas.append(.init(address: address, rules: tokens.rest() ?? ""))
            }
            return true
        }
        guard Self.equals(kind, "WIN") else { return false }
        var values = [UInt64]()
        for _ in 0..<10 {
            guard let value = tokens.hex() else { return false }
            values.append(value)
        }
        let hasProgram = values[9] != 0
        var program: String?
        var allocatesBasePointer = false
        if hasProgram {
            program = tokens.rest() ?? ""
        } else {
            allocatesBasePointer = (tokens.decimal() ?? 0) != 0
        }
        stackWin.append(
            StackWinRecord(
                type: UInt8(truncatingIfNeeded: values[0]), rva: values[1], codeSize: values[2], prologSize: values[3],
                epilogSize: values[4], parameterSize: values[5], savedRegisterSize: values[6], localSize: values[7],
                maxStackSize: values[8], programString: program, allocatesBasePointer: allocatesBasePointer))
        return true
    }

    // MARK: - Tokens

    enum Keyword {
        case module, info, file, inlineOrigin, function, publicSymbol, inline, stack
    }

    static func keyword(_ token: UnsafeRawBufferPointer) -> Keyword? {
        switch token.count {
        case 4:
            if equals(token, "FILE") { return .file }
            if equals(token, "FUNC") { return .function }
            if equals(token, "INFO") { return .info }
        case 5:
            if equals(token, "STACK") { return .stack }
        case 6:
            if equals(token, "PUBLIC") { return .publicSymbol }
            if equals(token, "INLINE") { return .inline }
            if equals(token, "MODULE") { return .module }
        case 13:
            if equals(token, "INLINE_ORIGIN") { return .inlineOrigin }
        default:
            break
        }
        return nil
    }

    static func equals(_ token: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        text.withUTF8Buffer { expected in token.elementsEqual(expected) }
    }

    static func moduleRecord(_ line: UnsafeRawBufferPointer) -> ModuleRecord? {
        var tokens = Tokens(line)
        guard let first = tokens.next(), equals(first, "MODULE"), let os = tokens.next(), let arch = tokens.next(),
            let id = tokens.next(), let name = tokens.rest()
        else { return nil }
        return ModuleRecord(os: string(os), arch: string(arch), id: string(id), name: name)
    }

    static func string(_ token: UnsafeRawBufferPointer) -> String {
        String(decoding: token, as: UTF8.self)
    }

    static func preview(_ line: UnsafeRawBufferPointer) -> String {
        "\"" + String(decoding: line.prefix(60), as: UTF8.self) + (line.count > 60 ? "…" : "") + "\""
    }

    static func parseHex(_ token: UnsafeRawBufferPointer) -> UInt64? {
        guard !token.isEmpty, token.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in token {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    static func parseDecimal(_ token: UnsafeRawBufferPointer) -> UInt64? {
        guard !token.isEmpty, token.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in token {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        return value
    }

    /// Splits a line on single or repeated spaces; `rest()` returns the remainder verbatim (names contain spaces).
    struct Tokens {
        let line: UnsafeRawBufferPointer
        var position = 0

        init(_ line: UnsafeRawBufferPointer) {
            self.line = line
        }

        private mutating func skipSpaces() {
            while position < line.count, line[position] == 0x20 || line[position] == 0x09 { position += 1 }
        }

        mutating func next() -> UnsafeRawBufferPointer? {
            skipSpaces()
            guard position < line.count else { return nil }
            let start = position
            while position < line.count, line[position] != 0x20, line[position] != 0x09 { position += 1 }
            return UnsafeRawBufferPointer(rebasing: line[start..<position])
        }

        func peekIs(_ text: StaticString) -> Bool {
            var copy = self
            guard let token = copy.next() else { return false }
            return SymbolFileParser.equals(token, text)
        }

        mutating func rest() -> String? {
            // Exactly one separator before a name: names may start with spaces only in broken files.
            skipSpaces()
            guard position < line.count else { return nil }
            defer { position = line.count }
            return String(decoding: UnsafeRawBufferPointer(rebasing: line[position...]), as: UTF8.self)
        }

        mutating func hex() -> UInt64? { next().flatMap(SymbolFileParser.parseHex) }
        mutating func decimal() -> UInt64? { next().flatMap(SymbolFileParser.parseDecimal) }

        mutating func signedDecimal() -> Int64? {
            guard let token = next(), !token.isEmpty else { return nil }
            if token[0] == UInt8(ascii: "-") {
                return SymbolFileParser.parseDecimal(UnsafeRawBufferPointer(rebasing: token.dropFirst()))
                    .flatMap { Int64(exactly: $0) }.map { -$0 }
            }
            return SymbolFileParser.parseDecimal(token).flatMap { Int64(exactly: $0) }
        }
    }
}
