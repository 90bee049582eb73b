import BinaryReading
import BreakpadSymbols
import Foundation
import PortableExecutable
import ProgramDatabase
import TestSupport
import Testing

@testable import Symbolication

/// The converted file answers address lookups the way the PDB itself does.
@Suite(.ownThread) struct ConversionLookupTests {
    static let cases: [GoldenCase] = pdbCases

    @Test(arguments: cases)
    func lookupsAgreeWithThePDB(_ entry: GoldenCase) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let pdb = try PDBFile(path: TestEnvironment.shared(entry.pdb!))
        let index = try PDBAddressIndex(pdb)
        let ours = try convert(entry, inlines: true)
        let symbols = try SymbolFile(parsing: MappedFile(bytes: Array(ours.text().utf8)).bytes)
        #expect(symbols.warnings.isEmpty)

        // Every function, ours and the golden file's, sampled at up to 16 points, plus the first
        // byte of every inline range.
        let golden = try SymbolFile(path: TestEnvironment.shared(entry.golden))
        var samples = [UInt64]()
        for function in symbols.functions + golden.functions {
            let step = max(1, function.size / 16)
            var address = function.address
            while address < function.address + function.size {
                samples.append(address)
                address += step
            }
        }
        samples += index.inlineRangeStarts().map(UInt64.init)
        var compared = 0
        var agreed = 0
        var inlineFrames = 0
        var disagreements = [String]()
        for address in samples {
            guard let expected = index.lookup(rva: UInt32(address)), !expected.isPublicSymbol else { continue }
            compared += 1
            let actual = symbols.lookup(address)
            var frames = [(function: String, file: String?, line: Int64?)]()
            for frame in expected.inlineFrames { frames.append((frame.function, frame.file, frame.line.map(Int64.init))) }
            frames.append((expected.function, expected.file, expected.line.map(Int64.init)))
            let got = actual?.frames.map { ($0.function, $0.file, $0.line) } ?? []
            let same =
                got.count == frames.count
                && zip(got, frames).allSatisfy { mine, theirs in
                    let sameName =
                        mine.0 == theirs.function || mine.0 == PublicNames.undecorate(theirs.function, isX86: true).name
                    // Where the caller's line table has no entry (a procedure that is all inlined
                    // code), INLINE records can only say call line 0.
                    if theirs.line == nil { return sameName && (mine.2 == nil || mine.2 == 0) }
                    return sameName && mine.1 == theirs.file && mine.2 == theirs.line
                }
            inlineFrames += expected.inlineFrames.count
            if same {
                agreed += 1
            } else if disagreements.count < 8 {
                disagreements.append("0x\(hex(address)): PDB \(frames) ours \(got)")
            }
        }
        print("[dump-syms] lookup \(entry): \(agreed)/\(compared) addresses agree (\(inlineFrames) inline frames)")
        for line in disagreements { print("[dump-syms]   \(line)") }
        #expect(compared >= 1000)
        #expect(Double(agreed) >= 0.99 * Double(compared))
    }

    @Test func inlineRecordsAreWrittenAndResolve() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        for name in ["crash", "CrashWithException"] {
            let symbols = try BreakpadConversion.symbolFile(
                pdbPath: TestEnvironment.shared(symbolicData + name + ".pdb"),
                imagePath: TestEnvironment.shared(symbolicData + name + ".exe"))
            let inlined = symbols.functions.filter { !$0.inlines.isEmpty }
            #expect(!inlined.isEmpty, "\(name): no INLINE records")
            #expect(!symbols.inlineOrigins.isEmpty)
            let text = symbols.text()
            #expect(text.contains("\nINLINE_ORIGIN 0 "))
            // The new format: depth, call line, call file, origin, ranges.
            let line = text.split(separator: "\n").first { $0.hasPrefix("INLINE ") }!
            #expect(line.split(separator: " ").count >= 7)
            // A lookup inside inlined code yields more than one frame.
            let function = inlined[0]
            let range = function.inlines[0].ranges[0]
            #expect((symbols.lookup(range.address)?.frames.count ?? 0) >= 2)
        }
    }
}

/// x64 unwind data becomes CFI rules.
@Suite(.ownThread) struct X64CFIConversionTests {
    // dump_syms_regtest64.exe at 0x14f4 starts `mov [rsp+8],rbx; mov [rsp+10h],rbp;
    // mov [rsp+18h],rsi; push rdi; sub rsp,20h`: the MOV saves land in the caller's home area,
    // at CFA+0, +8 and +16. (Mozilla's golden file puts all three at `.cfa 0 -`.)
    @Test func movSavesAreRelativeToTheFinalStackPointer() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let image = try PEImage(path: TestEnvironment.shared(mozillaData + "dump_syms_regtest64.exe"))
        let symbols = try BreakpadConversion.symbolFile(image: image, fileName: "dump_syms_regtest64.exe")
        let record = try #require(symbols.cfi(at: 0x14f4))
        let rules = CFIRules.evaluate(record.rules(at: 0x14f4))
        #expect(rules[".cfa"] == "$rsp+48")
        #expect(rules[".ra"] == "*($rsp+40)")
        #expect(rules["$rdi"] == "*($rsp+32)")
        #expect(rules["$rbx"] == "*($rsp+48)")
        #expect(rules["$rbp"] == "*($rsp+56)")
        #expect(rules["$rsi"] == "*($rsp+64)")
    }
}

/// Bad input gives errors, not traps.
@Suite(.ownThread) struct ConversionErrorTests {
    @Test func truncatedPDBThrows() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared(symbolicData + "crash.pdb"))))
        for length in [0, 31, 4096, bytes.count / 3] {
            #expect(throws: ParseError.self) {
                let pdb = try PDBFile(bytes: MappedFile(bytes: bytes.prefix(length)).bytes)
                _ = try BreakpadConversion.symbolFile(pdb: pdb, image: nil)
            }
        }
    }

    @Test func corruptedPDBNeverTraps() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared(symbolicData + "crash.pdb"))))
        // Overwrite spans after the MSF header with a fixed pattern: either an error or a file.
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<24 {
            var copy = bytes
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let start = 4096 + Int(seed >> 33) % max(1, bytes.count - 8192)
            for offset in start..<min(start + 512, copy.count) { copy[offset] = UInt8(truncatingIfNeeded: offset &* 37) }
            if let pdb = try? PDBFile(bytes: MappedFile(bytes: copy).bytes) {
                _ = try? BreakpadConversion.symbolFile(pdb: pdb, image: nil)
            }
        }
        bytes.removeAll()
    }

    @Test func garbageImageThrows() {
        #expect(throws: ParseError.self) {
            let image = try PEImage(bytes: MappedFile(bytes: Array(repeating: 0x4D, count: 512)).bytes)
            _ = try BreakpadConversion.symbolFile(image: image, fileName: "x.dll")
        }
    }

    @Test func mismatchedImageThrows() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        #expect(throws: ParseError.self) {
            _ = try BreakpadConversion.symbolFile(
                pdbPath: TestEnvironment.shared(symbolicData + "crash.pdb"),
                imagePath: TestEnvironment.shared(symbolicData + "CrashWithException.exe"))
        }
    }

    @Test func absentFilesThrow() {
        #expect(throws: ParseError.self) {
            _ = try BreakpadConversion.symbolFile(pdbPath: "/nonexistent/x.pdb")
        }
    }

    // symbolic's cfi_chained_loop.exe chains unwind info back to itself: that function is
    // left out, the rest of the image still converts.
    @Test func chainLoopSkipsTheFunction() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let image = try PEImage(path: TestEnvironment.shared(symbolicData + "cfi_chained_loop.exe"))
        let (records, warnings) = try X64CFIConversion.records(image)
        #expect(!warnings.isEmpty)
        _ = records
        _ = try BreakpadConversion.symbolFile(image: image, fileName: "cfi_chained_loop.exe")
    }
}

/// Images without their PDB: exports become PUBLIC records.
@Suite(.ownThread) struct ImageOnlyConversionTests {
    @Test(arguments: ["basic32.dll", "basic64.dll", "basic-opt64.dll"])
    func exportsBecomePublics(_ name: String) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let path = TestEnvironment.shared(mozillaData + name)
        let image = try PEImage(path: path)
        let symbols = try BreakpadConversion.symbolFile(image: image, fileName: name)
        let exports = try #require(try image.exports())
        #expect(!symbols.publics.isEmpty)
        #expect(symbols.publics.count == Set(exports.functions.filter { $0.forwarder == nil }.map(\.rva)).count)
        // Each names an export at its address (these DLLs export incremental-linking stubs,
        // which the golden files, made from the PDBs, do not list).
        let names = Dictionary(
            exports.functions.filter { $0.forwarder == nil }.map { (UInt64($0.rva), Set($0.names)) },
            uniquingKeysWith: { $0.union($1) })
        for symbol in symbols.publics { #expect(names[symbol.address]?.contains(symbol.name) == true) }
        #expect(symbols.module?.name == (name as NSString).deletingPathExtension + ".pdb")
    }
}
