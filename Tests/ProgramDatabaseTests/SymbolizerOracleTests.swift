import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Address lookups against `llvm-symbolizer --inlines` on images whose PDB sits beside them.
@Suite("address lookups agree with llvm-symbolizer", .ownThread)
struct SymbolizerOracleTests {
    struct SymbolizerFrame: Decodable {
        var FunctionName: String
        var FileName: String
        var Line: Int
    }
    struct SymbolizerAnswer: Decodable {
        var Address: String
        var Symbol: [SymbolizerFrame]
    }

    /// Runs the symbolizer over `addresses` (RVAs) in one process and returns one answer each.
    static func symbolize(
        _ symbolizer: String, image: String, addresses: [UInt32], functions: String, inlines: Bool
    ) throws -> [SymbolizerAnswer] {
        let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
        let result = try runProcess(
            symbolizer,
            [
                "--obj=" + image, inlines ? "--inlines" : "--no-inlines", "--relative-address", "--output-style=JSON",
                "--functions=" + functions,
                "--no-demangle",
            ],
            input: Data(input.utf8))
        guard result.status == 0 else {
            throw OracleFailure(description: "llvm-symbolizer failed on \(image): \(result.stderrText)")
        }
        let decoder = JSONDecoder()
        return try result.stdout.split(separator: UInt8(ascii: "\n")).map { line in
            try decoder.decode(SymbolizerAnswer.self, from: Data(line))
        }
    }

    /// The `symbolic` package's (PyPI, Sentry; its own PDB reader) frames at each address:
    /// (name with parameter list, file, line), innermost first.
    static let symbolicScript = """
        import json, sys
        from symbolic.debuginfo import Archive
        obj = list(Archive.open(sys.argv[1]).iter_objects())[0]
        cache = obj.make_symcache()
        for line in sys.stdin:
            frames = cache.lookup(int(line, 16))
            print(json.dumps([[f.symbol, f.full_path or "", f.line] for f in frames]))
        """

    static func symbolicFrames(pdb: String, addresses: [UInt32]) throws -> [[[JSONScalar]]] {
        guard !addresses.isEmpty else { return [] }
        let input = addresses.map { String($0, radix: 16) }.joined(separator: "\n") + "\n"
        let result = try runProcess(TestEnvironment.python, ["-c", symbolicScript, pdb], input: Data(input.utf8))
        guard result.status == 0 else {
            throw OracleFailure(description: "symbolic failed on \(pdb): \(result.stderrText)")
        }
        return try result.stdout.split(separator: UInt8(ascii: "\n")).map { line in
            try JSONDecoder().decode([[JSONScalar]].self, from: Data(line))
        }
    }

    enum JSONScalar: Decodable {
        case text(String)
        case number(Int)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }
        var text: String { if case .text(let value) = self { value } else { "" } }
        var number: Int { if case .number(let value) = self { value } else { 0 } }
    }

    /// Whether symbolic's frames agree with ours: same number of frames, each name ours plus
    /// symbolic's parameter list, same file and line.
    static func agrees(_ ours: PDBSourceLocation?, symbolic frames: [[JSONScalar]]) -> Bool {
        guard let ours else { return frames.isEmpty }
        var mine = ours.inlineFrames.map { ($0.function, $0.file ?? "", Int($0.line ?? 0)) }
        mine.append((ours.function, ours.file ?? "", Int(ours.line ?? 0)))
        guard mine.count == frames.count else { return false }
        for (frame, other) in zip(mine, frames) where other.count == 3 {
            let name = other[0].text
            guard name == frame.0 || (name.hasPrefix(frame.0) && name.dropFirst(frame.0.count).hasPrefix("(")),
                frame.1 == other[1].text, frame.2 == other[2].number
            else { return false }
        }
        return true
    }

    static func describe(symbolic frames: [[JSONScalar]]) -> String {
        frames.map { "\($0.first?.text ?? "") \($0.count > 1 ? $0[1].text : ""):\($0.count > 2 ? $0[2].number : 0)" }
            .joined(separator: " <- ")
    }

    struct LineKey: Hashable {
        var segment: UInt16
        var offset: UInt32
    }

    /// Every line entry `llvm-pdbutil dump -l` prints, by section and offset: (file, line).
    ///
    /// llvm-pdbutil 14 prints the previous module's lines again under a module that has no
    /// symbol stream (lld's `fixturedll.dll` import module in fixture.pdb); pass those modules
    /// in `skipping`. `NSI` and `ASI` stand for the marker lines 0xF00F00 and 0xFEEFEE.
    static func lineTable(pdb: String, skipping: Set<Int> = []) throws -> [LineKey: [(file: String, line: Int)]] {
        let text = try LLVMTools.runPDBUtil(["dump", "-l", pdb])
        var table = [LineKey: [(file: String, line: Int)]]()
        var file = ""
        var segment: UInt16 = 0
        var skip = false
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("Mod "), let number = Int(line.dropFirst(4).prefix(4)) {
                skip = skipping.contains(number)
                continue
            }
            if skip { continue }
            if line.hasSuffix(")"), let open = line.range(of: " (", options: .backwards) {
                file = String(line[..<open.lowerBound])
            } else if line.contains(", line/addr entries = ") {
                segment = UInt16(line.prefix(4)) ?? 0
            } else if let first = line.first, first.isNumber || first == "N" || first == "A" {
                let words = line.split(separator: " ").filter { $0 != "!" }
                var index = 0
                while index + 1 < words.count {
                    let number = words[index] == "NSI" ? 0xF0_0F00 : words[index] == "ASI" ? 0xFE_EFEE : Int(words[index])
                    if let number, let offset = UInt32(words[index + 1], radix: 16) {
                        table[LineKey(segment: segment, offset: offset), default: []].append((file, number))
                    }
                    index += 2
                }
            }
        }
        return table
    }

    /// Start, middle and last byte of every procedure, and the first byte of every inline range.
    static func sampleAddresses(_ index: PDBAddressIndex) -> [UInt32] {
        var addresses = Set<UInt32>()
        for function in index.functions where !function.isThunk && function.end > function.start {
            addresses.insert(function.start)
            addresses.insert(function.start + (function.end - function.start) / 2)
            addresses.insert(function.end - 1)
        }
        for start in index.inlineRangeStarts() { addresses.insert(start) }
        return addresses.sorted()
    }

    static func describe(_ location: PDBSourceLocation?) -> String {
        guard let location else { return "nothing" }
        var frames = location.inlineFrames.map { "\($0.function) \($0.file ?? "?"):\($0.line ?? 0)" }
        frames.append("\(location.function) \(location.file ?? "?"):\(location.line ?? 0)")
        return frames.joined(separator: " <- ")
    }

    static func describe(_ answer: SymbolizerAnswer) -> String {
        answer.Symbol.map { "\($0.FunctionName) \($0.FileName):\($0.Line)" }.joined(separator: " <- ")
    }

    /// Compares our answer with the symbolizer's, frame by frame (name, file, line).
    static func agrees(_ ours: PDBSourceLocation?, _ theirs: SymbolizerAnswer, inlines: Bool) -> Bool {
        guard let ours else { return theirs.Symbol.allSatisfy { $0.FunctionName == "??" || $0.FunctionName.isEmpty } }
        var frames = inlines ? ours.inlineFrames.map { ($0.function, $0.file ?? "", Int($0.line ?? 0)) } : []
        frames.append((ours.function, ours.file ?? "", Int(ours.line ?? 0)))
        guard frames.count == theirs.Symbol.count else { return false }
        for (mine, other) in zip(frames, theirs.Symbol) {
            guard mine.0 == other.FunctionName, mine.1 == other.FileName, mine.2 == other.Line else { return false }
        }
        return true
    }

    @Test("function, file, line and inline frames at every procedure's start, middle and end", arguments: PDBFixtures.imagePairs)
    func procedures(pair: PDBFixtures.ImagePair) throws {
        let pdb = try PDBFile(path: pair.pdb)
        let index = try PDBAddressIndex(pdb)
        #expect(index.warnings.isEmpty, "\(index.warnings)")
        let addresses = Self.sampleAddresses(index)
        #expect(addresses.count > 10)
        let image = pair.image.isEmpty ? try SyntheticImage.write(for: pair.pdb, pdb: pdb) : pair.image
        let answers = try Self.symbolize(
            pair.symbolizer, image: image, addresses: addresses, functions: "short", inlines: pair.inlines)
        try #require(answers.count == addresses.count)
        var differences = [(address: UInt32, ours: PDBSourceLocation?, llvm: SymbolizerAnswer)]()
        var inlined = 0
        for (address, answer) in zip(addresses, answers) {
            let ours = index.lookup(rva: address)
            if let ours, !ours.inlineFrames.isEmpty { inlined += 1 }
            if !Self.agrees(ours, answer, inlines: pair.inlines) { differences.append((address, ours, answer)) }
        }
        // Where llvm-symbolizer differs, a second independent reader decides: LLVM's native PDB
        // reader takes the first of several line entries at one offset (a zero-length entry:
        // DIA, Breakpad's dump_syms and symbolic take the last), and drops inline ranges that
        // MSVC closes with ChangeCodeLengthAndCodeOffset. symbolic must then agree with us.
        let symbolic = try Self.symbolicFrames(pdb: pair.pdb, addresses: differences.map(\.address))
        try #require(symbolic.count == differences.count)
        var mismatches = [String]()
        var unarbitrated = 0
        var sharedAddress = 0
        let lineTable = differences.isEmpty ? [:] : try Self.lineTable(pdb: pair.pdb)
        var lineStarts = [UInt16: [UInt32]]()
        for key in lineTable.keys { lineStarts[key.segment, default: []].append(key.offset) }
        for segment in lineStarts.keys { lineStarts[segment]?.sort() }
        for (difference, frames) in zip(differences, symbolic) where !Self.agrees(difference.ours, symbolic: frames) {
            // symbolic drops inline frames of functions that have no line records of their own
            // (compiler-generated destructors), so it cannot settle those. There llvm-symbolizer
            // must still agree on the function; the inline frames then follow the annotation
            // program (checked op by op against llvm-pdbutil in BinaryAnnotationOracleTests).
            if let ours = difference.ours, ours.line == nil, frames.count == 1, frames[0].count == 3,
                frames[0][2].number == 0, difference.llvm.Symbol.last?.FunctionName == ours.function
            {
                unarbitrated += 1
                continue
            }
            // Several line entries at the address that covers this one: a zero-length entry then
            // the real one (LLVM answers with the first, DIA, as Breakpad's dump_syms .sym files
            // show with `1000 0 51` then `1000 5 52`, and we with the last), or functions folded
            // within one module (each tool picks its own). Accept when llvm-pdbutil lists both
            // lines at that address and the function agrees.
            if let ours = difference.ours, let theirs = difference.llvm.Symbol.last, ours.inlineFrames.isEmpty,
                difference.llvm.Symbol.count == 1, theirs.FunctionName == ours.function, let line = ours.line,
                let place = index.sectionOffset(rva: difference.address),
                let covering = lineStarts[place.section]?.last(where: { $0 <= place.offset }),
                let entries = lineTable[LineKey(segment: place.section, offset: covering)], entries.count > 1,
                entries.contains(where: { $0.line == Int(line) && $0.file == ours.file }),
                entries.contains(where: { $0.line == theirs.Line && $0.file == theirs.FileName })
            {
                sharedAddress += 1
                continue
            }
            mismatches.append(
                "0x\(String(difference.address, radix: 16)): ours \(Self.describe(difference.ours)); "
                    + "llvm-symbolizer \(Self.describe(difference.llvm)); symbolic \(Self.describe(symbolic: frames))")
        }
        print(
            "[oracle] \(pair.testDescription): \(addresses.count) addresses, \(inlined) with inline frames, "
                + "\(addresses.count - differences.count) as llvm-symbolizer, "
                + "\(differences.count - mismatches.count - unarbitrated - sharedAddress) as symbolic only, "
                + "\(sharedAddress) at an address with several line entries, "
                + "\(unarbitrated) inline frames in a function without lines (same function as both), \(mismatches.count) as neither"
        )
        let summary = mismatches.prefix(12).joined(separator: "\n")
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(addresses.count) differ from both:\n\(summary)")
    }

    @Test(
        "addresses no procedure covers fall back to the public symbol, as llvm-symbolizer's linkage names do",
        arguments: PDBFixtures.imagePairs)
    func publics(pair: PDBFixtures.ImagePair) throws {
        let pdb = try PDBFile(path: pair.pdb)
        let index = try PDBAddressIndex(pdb)
        // Each public symbol's address and the byte after it, where no procedure or thunk covers them.
        var addresses = [UInt32]()
        for symbol in index.publics where index.lookup(rva: symbol.rva)?.isPublicSymbol == true {
            addresses.append(symbol.rva)
            addresses.append(symbol.rva + 1)
        }
        addresses = Array(Set(addresses)).sorted()
        guard !addresses.isEmpty else { return }
        let image = pair.image.isEmpty ? try SyntheticImage.write(for: pair.pdb, pdb: pdb) : pair.image
        let answers = try Self.symbolize(
            pair.symbolizer, image: image, addresses: addresses, functions: "linkage", inlines: false)
        try #require(answers.count == addresses.count)
        var differences = [String]()
        for (address, answer) in zip(addresses, answers) {
            let ours = index.lookup(rva: address)
            if ours?.function != answer.Symbol.first?.FunctionName {
                differences.append(
                    "0x\(String(address, radix: 16)): ours \(ours?.function ?? "-"), llvm-symbolizer \(answer.Symbol.first?.FunctionName ?? "-")"
                )
            }
        }
        print("[oracle] \(pair.testDescription): \(addresses.count) addresses outside procedures, \(differences.count) differ")
        let summary = differences.prefix(8).joined(separator: "\n")
        #expect(differences.isEmpty, "\(differences.count) of \(addresses.count) differ:\n\(summary)")
    }
}
