import BinaryReading
import BreakpadSymbols
import Foundation
import PortableExecutable
import ProgramDatabase
import TestSupport
import Testing

@testable import Symbolication

/// A PDB (and maybe its image) with the .sym file dump_syms wrote from it.
struct GoldenCase: CustomStringConvertible, Sendable {
    var pdb: String?
    var image: String?
    var golden: String
    /// Mozilla's dump_syms lists saved registers in STACK CFI; Breakpad's lists only the CFA.
    var mozillaStyle: Bool
    var description: String { (golden as NSString).lastPathComponent }
}

let breakpadData = "breakpad/src/tools/windows/dump_syms/testdata/"
let mozillaData = "dump_syms/test_data/windows/"
let symbolicData = "symbolic/symbolic-testutils/fixtures/windows/"

let pdbCases: [GoldenCase] = [
    GoldenCase(
        pdb: breakpadData + "dump_syms_regtest.pdb", image: nil, golden: breakpadData + "dump_syms_regtest.sym",
        mozillaStyle: false),
    GoldenCase(
        pdb: breakpadData + "dump_syms_regtest64.pdb", image: breakpadData + "dump_syms_regtest64.exe",
        golden: breakpadData + "dump_syms_regtest64.sym", mozillaStyle: false),
    GoldenCase(
        pdb: mozillaData + "dump_syms_regtest64.pdb", image: mozillaData + "dump_syms_regtest64.exe",
        golden: mozillaData + "dump_syms_regtest64.sym", mozillaStyle: true),
    GoldenCase(
        pdb: mozillaData + "basic32-min.pdb", image: mozillaData + "basic32-min.dll", golden: mozillaData + "basic32-min.sym",
        mozillaStyle: true),
    GoldenCase(
        pdb: symbolicData + "crash.pdb", image: symbolicData + "crash.exe", golden: symbolicData + "crash.sym",
        mozillaStyle: false),
    GoldenCase(
        pdb: symbolicData + "CrashWithException.pdb", image: symbolicData + "CrashWithException.exe",
        golden: symbolicData + "CrashWithException.pdb.sym", mozillaStyle: false),
    GoldenCase(
        pdb: breakpadData + "omap_reorder_funcs.pdb", image: nil, golden: breakpadData + "omap_reorder_funcs.sym",
        mozillaStyle: false),
    GoldenCase(
        pdb: breakpadData + "omap_reorder_bbs.pdb", image: nil, golden: breakpadData + "omap_reorder_bbs.sym",
        mozillaStyle: false),
    GoldenCase(
        pdb: breakpadData + "omap_stretched.pdb", image: nil, golden: breakpadData + "omap_stretched.sym", mozillaStyle: false),
    GoldenCase(
        pdb: breakpadData + "omap_stretched_filled.pdb", image: nil, golden: breakpadData + "omap_stretched_filled.sym",
        mozillaStyle: false),
]

/// Images whose golden .sym carries STACK CFI written from the same image (their PDBs are not shipped).
let imageCases: [GoldenCase] = [
    GoldenCase(
        pdb: nil, image: breakpadData + "pe_only_symbol_test.dll", golden: breakpadData + "pe_only_symbol_test.sym",
        mozillaStyle: false),
    GoldenCase(pdb: nil, image: mozillaData + "basic64.dll", golden: mozillaData + "basic64.sym", mozillaStyle: true),
    GoldenCase(pdb: nil, image: mozillaData + "basic-opt64.dll", golden: mozillaData + "basic-opt64.sym", mozillaStyle: true),
    GoldenCase(pdb: nil, image: mozillaData + "mozwer.dll", golden: mozillaData + "mozwer.sym", mozillaStyle: true),
    GoldenCase(pdb: nil, image: mozillaData + "basic32.dll", golden: mozillaData + "basic32.sym", mozillaStyle: true),
    GoldenCase(pdb: nil, image: mozillaData + "basic32-dwarf.dll", golden: mozillaData + "basic32-dwarf.sym", mozillaStyle: true),
    GoldenCase(pdb: nil, image: mozillaData + "basic64-dwarf.dll", golden: mozillaData + "basic64-dwarf.sym", mozillaStyle: true),
]

func convert(_ entry: GoldenCase, inlines: Bool) throws -> SymbolFile {
    if let pdb = entry.pdb {
        return try BreakpadConversion.symbolFile(
            pdbPath: TestEnvironment.shared(pdb), imagePath: entry.image.map(TestEnvironment.shared), inlines: inlines)
    }
    let path = TestEnvironment.shared(entry.image!)
    return try BreakpadConversion.symbolFile(image: PEImage(path: path), fileName: (path as NSString).lastPathComponent)
}

@Suite(.ownThread) struct BreakpadConversionGoldenTests {
    @Test(arguments: pdbCases)
    func pdbAgainstGolden(_ entry: GoldenCase) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let golden = try SymbolFile(path: TestEnvironment.shared(entry.golden))
        // The goldens were written without inline records: compare the procedures' own line tables.
        let ours = try convert(entry, inlines: false)
        // Round trip through the text, so what is compared is what a reader gets.
        let reread = try SymbolFile(parsing: MappedFile(bytes: Array(ours.text().utf8)).bytes)
        if let folder = ProcessInfo.processInfo.environment["DUMPSYMS_OUT"] {
            try ours.text().write(toFile: folder + "/" + entry.description, atomically: true, encoding: .utf8)
        }
        #expect(reread.warnings.isEmpty)
        #expect(reread.module == golden.module)
        #expect(reread.codeID == golden.codeID)
        if golden.codeFile != nil { #expect(reread.codeFile == golden.codeFile) }
        // Every line of ours sits in the FUNC record holding its address, the only place a reader
        // looks (dump_syms puts a split procedure's lines after its last piece instead; the
        // comparison moves the golden's there too, see `GoldenComparison.linesInTheirPieces`).
        let strayLines = reread.functions.reduce(0) { count, function in
            count
                + function.lines.filter { $0.address < function.address || $0.address - function.address >= function.size }.count
        }
        #expect(strayLines == 0)
        let c = GoldenComparison(ours: reread, golden: golden, compareRegisterSets: entry.mozillaStyle)
        print("[dump-syms] \(entry): \(c.summary)")
        for sample in c.mismatchSamples { print("[dump-syms]   \(sample)") }
        #expect(c.functionsMatched == c.functionsGolden)
        #expect(c.functionsOurs == c.functionsGolden)
        // Names: the PDB's qualified procedure names against the golden's signatures with the
        // parameter list dropped, and DIA's leading-underscore strip allowed (Breakpad goldens).
        // Left over: folded functions that the golden names after another copy (3 in crash.pdb
        // and in CrashWithException.pdb).
        #expect(Double(c.namesBase + c.namesDIA) >= 0.95 * Double(c.functionsMatched))
        // Differences: folded functions named from another module's copy (crash.pdb,
        // CrashWithException.pdb: 2 each), last-entry sizes of MASM procedures (3 in
        // breakpad's dump_syms_regtest64.sym).
        #expect(Double(c.linesEqual) >= 0.96 * Double(c.linesCompared))
        #expect(c.publicsMatched >= c.publicsGolden - 1)
        #expect(Double(c.stackWinMatched) >= 0.99 * Double(c.stackWinGolden))
        // Breakpad's x64 records ignore the frame register (2 functions in dump_syms_regtest64).
        #expect(Double(c.cfiFrameEqual) >= 0.98 * Double(c.cfiAddresses))
    }

    @Test(arguments: imageCases)
    func imageAgainstGolden(_ entry: GoldenCase) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let golden = try SymbolFile(path: TestEnvironment.shared(entry.golden))
        let ours = try convert(entry, inlines: false)
        let reread = try SymbolFile(parsing: MappedFile(bytes: Array(ours.text().utf8)).bytes)
        #expect(reread.module == golden.module)
        #expect(reread.codeID == golden.codeID)
        #expect(reread.codeFile == golden.codeFile)
        let c = GoldenComparison(ours: reread, golden: golden, compareRegisterSets: entry.mozillaStyle)
        print(
            "[dump-syms] \(entry) (image only): CFI .cfa/.ra \(c.cfiFrameEqual)/\(c.cfiAddresses), all rules \(c.cfiEqual)/\(c.cfiAddresses); "
                + "golden CFI INIT \(golden.cfi.count), ours \(reread.cfi.count)")
        for sample in c.mismatchSamples where sample.hasPrefix("CF") { print("[dump-syms]   \(sample)") }
        #expect(reread.cfi.count == golden.cfi.count)
        #expect(Double(c.cfiFrameEqual) >= 0.98 * Double(c.cfiAddresses))
    }
}
