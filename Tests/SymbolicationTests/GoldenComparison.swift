import BreakpadSymbols
import Foundation

/// Record-set comparison of a converted .sym against a golden one written by dump_syms.
struct GoldenComparison {
    var functionsGolden = 0
    var functionsOurs = 0
    /// Golden FUNC records with a FUNC of ours at the same address and size.
    var functionsMatched = 0
    var namesExact = 0
    /// Names equal once the golden's parameter list, return type and qualifiers are dropped
    /// (dump_syms prints DIA's or its demangler's full signature; the PDB's procedure record
    /// holds the qualified name only).
    var namesBase = 0
    /// Base names equal once one leading underscore is dropped from ours: DIA's undecorator,
    /// which Breakpad's dump_syms uses, strips it from C names (`_XcptFilter` → `XcptFilter`).
    var namesDIA = 0
    var linesCompared = 0
    var linesEqual = 0
    var publicsGolden = 0
    var publicsMatched = 0
    var publicNamesExact = 0
    var stackWinGolden = 0
    var stackWinMatched = 0
    var cfiAddresses = 0
    /// Addresses where every golden rule evaluates the same.
    var cfiEqual = 0
    /// Addresses where `.cfa` and `.ra` evaluate the same.
    var cfiFrameEqual = 0
    var mismatchSamples: [String] = []

    init(ours: SymbolFile, golden: SymbolFile, compareRegisterSets: Bool) {
        var byAddress = [UInt64: FunctionRecord]()
        for function in ours.functions { byAddress[function.address] = function }
        functionsGolden = golden.functions.count
        functionsOurs = ours.functions.count
        for function in Self.linesInTheirPieces(golden.functions) {
            guard let mine = byAddress[function.address], mine.size == function.size else {
                note(
                    "FUNC \(hex(function.address)) \(function.name): ours \(byAddress[function.address].map { "size \(hex($0.size))" } ?? "absent")"
                )
                continue
            }
            functionsMatched += 1
            // Mozilla's dump_syms prints MSVC's `anonymous namespace' as (anonymous namespace).
            let goldenName = function.name.replacingOccurrences(of: "(anonymous namespace)", with: "`anonymous namespace'")
            if mine.name == function.name {
                namesExact += 1
                namesBase += 1
            } else if Self.baseName(goldenName) == mine.name || Self.baseName(goldenName).hasSuffix(" " + mine.name) {
                namesBase += 1
            } else if mine.name.hasPrefix("_"),
                Self.baseName(goldenName) == mine.name.dropFirst()
                    || Self.baseName(goldenName).hasSuffix(" " + mine.name.dropFirst())
            {
                namesDIA += 1
            } else {
                note("name \(hex(function.address)): golden '\(function.name)' ours '\(mine.name)'")
            }
            linesCompared += 1
            // dump_syms keeps zero-length entries (two line numbers at one offset); they cover no
            // address and are not written here.
            let a = function.lines.filter { $0.size > 0 }.map { LineKey($0, golden.files) }
            let b = mine.lines.map { LineKey($0, ours.files) }
            if Self.mergeRuns(a) == Self.mergeRuns(b) {
                linesEqual += 1
            } else {
                note(
                    "lines \(hex(function.address)) \(function.name): golden \(a.count) ours \(b.count) first diff \(String(describing: zip(Self.mergeRuns(a), Self.mergeRuns(b)).first { $0 != $1 }))"
                )
            }
        }
        var publicsByAddress = [UInt64: PublicRecord]()
        for symbol in ours.publics { publicsByAddress[symbol.address] = symbol }
        publicsGolden = golden.publics.count
        for symbol in golden.publics {
            guard let mine = publicsByAddress[symbol.address] else {
                note("PUBLIC \(hex(symbol.address)) \(symbol.name) absent")
                continue
            }
            publicsMatched += 1
            if mine.name == symbol.name && mine.parameterSize == symbol.parameterSize {
                publicNamesExact += 1
            } else {
                note(
                    "PUBLIC \(hex(symbol.address)): golden '\(symbol.name)' \(symbol.parameterSize) ours '\(mine.name)' \(mine.parameterSize)"
                )
            }
        }
        let stackWins = Set(ours.stackWin.map(StackWinKey.init))
        stackWinGolden = golden.stackWin.count
        for record in golden.stackWin {
            if stackWins.contains(StackWinKey(record)) {
                stackWinMatched += 1
            } else {
                note("STACK WIN \(record.type) \(hex(record.rva)) differs or absent")
            }
        }
        for record in golden.cfi {
            var addresses = [record.address] + record.deltas.map(\.address)
            addresses = Array(Set(addresses)).sorted()
            for address in addresses {
                cfiAddresses += 1
                let expected = CFIRules.evaluate(record.rules(at: address))
                let actual = ours.cfi(at: address).map { CFIRules.evaluate($0.rules(at: address)) } ?? [:]
                if expected[".cfa"] == actual[".cfa"] && expected[".ra"] == actual[".ra"] {
                    cfiFrameEqual += 1
                } else {
                    note(
                        "CFA \(hex(address)): golden \(expected[".cfa"] ?? "-") \(expected[".ra"] ?? "-") ours \(actual[".cfa"] ?? "-") \(actual[".ra"] ?? "-")"
                    )
                }
                var equal = expected.allSatisfy { actual[$0.key] == $0.value }
                if compareRegisterSets { equal = equal && expected.count == actual.count }
                if equal {
                    cfiEqual += 1
                } else {
                    note(
                        "CFI \(hex(address)): golden \(expected.sorted { $0.key < $1.key }) ours \(actual.sorted { $0.key < $1.key })"
                    )
                }
            }
        }
    }

    private var sampleCounts: [Substring: Int] = [:]

    /// Keeps the first few mismatches of each kind (the note's first word).
    private mutating func note(_ text: String) {
        let kind = text.prefix { $0 != " " }
        guard sampleCounts[kind, default: 0] < 6 else { return }
        sampleCounts[kind, default: 0] += 1
        mismatchSamples.append(text)
    }

    var summary: String {
        "FUNC \(functionsMatched)/\(functionsGolden) at same address+size (ours \(functionsOurs)), names exact \(namesExact), base \(namesBase), base after DIA's underscore strip \(namesBase + namesDIA); "
            + "lines equal \(linesEqual)/\(linesCompared); PUBLIC \(publicsMatched)/\(publicsGolden) (names+size exact \(publicNamesExact)); "
            + "STACK WIN \(stackWinMatched)/\(stackWinGolden); CFI addresses: .cfa/.ra equal \(cfiFrameEqual)/\(cfiAddresses), all rules equal \(cfiEqual)/\(cfiAddresses)"
    }

    struct LineKey: Equatable {
        var address: UInt64
        var size: UInt64
        var line: Int64
        var file: String

        init(_ record: LineRecord, _ files: [UInt32: String]) {
            address = record.address
            size = record.size
            line = record.line
            file = files[record.file] ?? "?"
        }
        init(address: UInt64, size: UInt64, line: Int64, file: String) {
            self.address = address
            self.size = size
            self.line = line
            self.file = file
        }
    }

    /// `functions` (sorted by address) with each line moved to the piece of its procedure that
    /// holds it.
    ///
    /// Breakpad's dump_syms writes a procedure that OMAP split into pieces as one FUNC record per
    /// piece, then all of the procedure's lines, so every line follows the last piece
    /// (omap_reorder_bbs.sym: `FUNC 198c`, `FUNC 1ff0`, `FUNC 455c`, `FUNC 4d0c`, then lines at
    /// 1ff0, 4d0c, 455c and 198c). A reader finds a line only in the FUNC record holding its
    /// address, so our writer puts each line there; the comparison moves the golden's lines there.
    /// Pieces of one procedure carry its name; a line moves only to a piece of the same name.
    static func linesInTheirPieces(_ functions: [FunctionRecord]) -> [FunctionRecord] {
        var byName = [String: [Int]]()
        for (index, function) in functions.enumerated() { byName[function.name, default: []].append(index) }
        var lines = Array(repeating: [LineRecord](), count: functions.count)
        for (index, function) in functions.enumerated() {
            for line in function.lines {
                let holds = { (piece: FunctionRecord) in
                    line.address >= piece.address && line.address - piece.address < piece.size
                }
                if !holds(function), let owner = byName[function.name]?.first(where: { holds(functions[$0]) }) {
                    lines[owner].append(line)
                } else {
                    lines[index].append(line)
                }
            }
        }
        var result = functions
        for index in result.indices { result[index].lines = lines[index] }
        return result
    }

    /// Adjacent records with the same line and file joined: a split run describes the same addresses.
    static func mergeRuns(_ lines: [LineKey]) -> [LineKey] {
        var result = [LineKey]()
        for line in lines.sorted(by: { $0.address < $1.address }) {
            if let last = result.last, last.address + last.size == line.address, last.line == line.line, last.file == line.file {
                result[result.count - 1].size += line.size
            } else {
                result.append(line)
            }
        }
        return result
    }

    struct StackWinKey: Hashable {
        var text: String
        init(_ record: StackWinRecord) {
            text =
                [
                    UInt64(record.type), record.rva, record.codeSize, record.prologSize, record.epilogSize, record.parameterSize,
                    record.savedRegisterSize, record.localSize, record.maxStackSize,
                ].map { String($0, radix: 16) }.joined(separator: " ")
                + (record.programString.map { " 1 " + $0.trimmingCharacters(in: .whitespaces) }
                    ?? " 0 \(record.allocatesBasePointer ? 1 : 0)")
        }
    }

    /// The golden name without its parameter list, trailing qualifiers and leading return type.
    static func baseName(_ name: String) -> String {
        var text = Substring(name)
        for suffix in [" const", " volatile", " __ptr64"] where text.hasSuffix(suffix) { text = text.dropLast(suffix.count) }
        if text.last == ")" {
            var depth = 0
            var index = text.endIndex
            while index > text.startIndex {
                index = text.index(before: index)
                if text[index] == ")" { depth += 1 }
                if text[index] == "(" {
                    depth -= 1
                    if depth == 0 { break }
                }
            }
            // `operator()(...)`: keep the operator's own parentheses.
            text = text[..<index]
        }
        return String(text)
    }
}

func hex(_ value: UInt64) -> String { String(value, radix: 16) }

/// Evaluation of Breakpad CFI rule strings into comparable linear forms.
enum CFIRules {
    /// `register → normalized expression` after applying `ruleSets` in order; `.cfa` substituted.
    static func evaluate(_ ruleSets: [String]) -> [String: String] {
        var raw = [String: [String]]()
        for rules in ruleSets {
            var current: String?
            for token in rules.split(separator: " ") {
                if token.hasSuffix(":") {
                    current = String(token.dropLast())
                    raw[current!] = []
                } else if let name = current {
                    raw[name, default: []].append(String(token))
                }
            }
        }
        let cfa = raw[".cfa"].flatMap { evaluateExpression($0, cfa: nil) }
        var result = [String: String]()
        for (name, tokens) in raw {
            guard let value = evaluateExpression(tokens, cfa: cfa) else {
                result[name] = "?" + tokens.joined(separator: " ")
                continue
            }
            result[name] = value.description
        }
        return result
    }

    struct Value: CustomStringConvertible {
        var base: String?
        var offset: Int64
        var dereferenced: Bool
        var description: String {
            let linear = (base ?? "") + (offset >= 0 ? "+" : "") + String(offset)
            return dereferenced ? "*(\(linear))" : linear
        }
    }

    static func evaluateExpression(_ tokens: [String], cfa: Value?) -> Value? {
        var stack = [Value]()
        for token in tokens {
            switch token {
            case "+", "-":
                guard stack.count >= 2 else { return nil }
                let b = stack.removeLast()
                let a = stack.removeLast()
                guard !a.dereferenced, !b.dereferenced, b.base == nil || (a.base == nil && token == "+") else { return nil }
                stack.append(
                    Value(
                        base: a.base ?? b.base, offset: token == "+" ? a.offset + b.offset : a.offset - b.offset,
                        dereferenced: false))
            case "^":
                guard var top = stack.popLast(), !top.dereferenced else { return nil }
                top.dereferenced = true
                stack.append(top)
            case ".cfa":
                guard let cfa else { return nil }
                stack.append(cfa)
            default:
                if token.hasPrefix("$") {
                    stack.append(Value(base: token, offset: 0, dereferenced: false))
                } else if let number = Int64(token) {
                    stack.append(Value(base: nil, offset: number, dereferenced: false))
                } else {
                    return nil
                }
            }
        }
        return stack.count == 1 ? stack[0] : nil
    }
}
