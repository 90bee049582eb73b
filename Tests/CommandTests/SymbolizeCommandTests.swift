import Foundation
import TestSupport
import Testing

/// `postmortem symbolize` against llvm-symbolizer (the toolchain's, LLVM 21) on the lld-written PDBs.
@Suite("postmortem symbolize", .ownThread)
struct SymbolizeCommandTests {
    static let llvmSymbolizer =
        ProcessInfo.processInfo.environment["POSTMORTEM_LLVM_SYMBOLIZER"] ?? "/opt/swift/usr/bin/llvm-symbolizer"

    /// (image, pdb, image base) for the generated fixtures.
    static let images: [(String, String, UInt64)] = [
        ("generated/pe/x64/fixturedll.dll", "generated/pe/x64/fixturedll.pdb", 0x1_8000_0000),
        ("generated/pe/x64/fixture.exe", "generated/pe/x64/fixture.pdb", 0x1_4000_0000),
        ("generated/pe/x86/fixturedll.dll", "generated/pe/x86/fixturedll.pdb", 0x1000_0000),
        ("generated/pe/arm64/fixturedll.dll", "generated/pe/arm64/fixturedll.pdb", 0x1_8000_0000),
    ]

    /// Splits symbolizer output into one block of lines per address.
    static func blocks(_ text: String) -> [[String]] {
        text.components(separatedBy: "\n\n").map { $0.split(separator: "\n").map(String.init) }.filter { !$0.isEmpty }
    }

    @Test("the same functions and lines as llvm-symbolizer at every 3rd byte of the code", arguments: images.map { $0.0 })
    func agreesWithLLVM(image: String) throws {
        let entry = try #require(Self.images.first { $0.0 == image })
        let pdb = TestEnvironment.shared(entry.1)
        let imagePath = TestEnvironment.shared(entry.0)
        // Addresses across the first 0x400 bytes of .text (RVA 0x1000), absolute as llvm-symbolizer takes them.
        let addresses = stride(from: UInt64(0x1000), to: 0x1400, by: 3).map { "0x" + String(entry.2 + $0, radix: 16) }
        let ours = try runProcess(
            TestEnvironment.postmortemExecutable, ["symbolize", "--symbols", pdb, "--base", "0x" + String(entry.2, radix: 16)],
            input: Data(addresses.joined(separator: "\n").utf8))
        #expect(ours.status == 0, "\(ours.stderrText)")
        let theirs = try runProcess(Self.llvmSymbolizer, ["--obj=" + imagePath, "--inlines"] + addresses)
        try #require(theirs.status == 0, "llvm-symbolizer failed: \(theirs.stderrText)")
        let ourBlocks = Self.blocks(ours.stdoutText)
        let theirBlocks = Self.blocks(theirs.stdoutText)
        #expect(ourBlocks.count == addresses.count)
        #expect(theirBlocks.count == addresses.count)
        // lld wrote two line entries at fixture_dll_compute's first byte in the x86 PDB (lines 23 and 25,
        // llvm-pdbutil -l shows both); LLVM answers the first, DIA and Breakpad's .sym files the second, as we do.
        let knownDifferences: Set<String> = ["0x10001000"]
        var compared = 0
        var differing = Set<String>()
        for (index, (mine, other)) in zip(ourBlocks, theirBlocks).enumerated() {
            // Compare where llvm-symbolizer knows the code: past the functions (padding, other sections) it
            // reports the nearest public symbol, which is no answer a debugger should give.
            guard !other.contains(where: { $0.hasPrefix("??") }) else { continue }
            if mine != other { differing.insert(addresses[index]) }
            if !knownDifferences.contains(addresses[index]) {
                #expect(mine == other, "\(addresses[index])")
            }
            compared += 1
        }
        #expect(differing.isSubset(of: knownDifferences))
        #expect(compared > 20, "only \(compared) addresses inside functions")
    }

    @Test("a .sym and the PDB it was made from give the same answers")
    func symAgreesWithPDB() throws {
        // dump_syms' golden dump_syms_regtest64.sym was made from dump_syms_regtest64.pdb; compare at every FUNC start.
        let folder = "dump_syms/test_data/windows/"
        let sym = TestEnvironment.shared(folder + "dump_syms_regtest64.sym")
        let pdb = TestEnvironment.shared(folder + "dump_syms_regtest64.pdb")
        let text = try String(contentsOfFile: sym, encoding: .utf8)
        let addresses = text.split(separator: "\n").filter { $0.hasPrefix("FUNC ") }.prefix(400).map { line -> String in
            let fields = line.split(separator: " ")
            return "0x" + (fields[1] == "m" ? fields[2] : fields[1])
        }
        #expect(addresses.count >= 100)
        let input = Data(addresses.joined(separator: "\n").utf8)
        let fromSym = try runProcess(TestEnvironment.postmortemExecutable, ["symbolize", "--symbols", sym], input: input)
        let fromPDB = try runProcess(TestEnvironment.postmortemExecutable, ["symbolize", "--symbols", pdb], input: input)
        #expect(fromSym.status == 0 && fromPDB.status == 0)
        let symBlocks = Self.blocks(fromSym.stdoutText)
        let pdbBlocks = Self.blocks(fromPDB.stdoutText)
        #expect(symBlocks.count == addresses.count)
        // dump_syms adds parameter lists from the type records (`main(int, char**)` for the PDB's `main`);
        // without them, names and every file:line must agree.
        for (a, b) in zip(symBlocks, pdbBlocks) {
            #expect(a.count == b.count)
            for (x, y) in zip(a, b) {
                let withoutParameters = x.firstIndex(of: "(").map { String(x[..<$0]) } ?? x
                #expect(x == y || withoutParameters == y, "\(x) vs \(y)")
            }
        }
    }

    @Test("JSON output, stdin, --base and bad input")
    func interface() throws {
        let pdb = TestEnvironment.shared("generated/pe/x64/fixturedll.pdb")
        let json = try runProcess(TestEnvironment.postmortemExecutable, ["symbolize", "--json", "--symbols", pdb, "0x1090"])
        #expect(json.status == 0)
        let parsed = try JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]]
        let frames = try #require(parsed?.first?["frames"] as? [[String: Any]])
        #expect(frames.first?["function"] as? String == "dll_fault")
        #expect(frames.first?["line"] as? Int == 9)
        #expect(frames.first?["function_offset"] != nil)
        let below = try runProcess(
            TestEnvironment.postmortemExecutable, ["symbolize", "--symbols", pdb, "--base", "0x180000000", "0x10"])
        #expect(below.stdoutText == "??\n??:0:0\n\n")
        let usage = try runProcess(TestEnvironment.postmortemExecutable, ["symbolize", "--symbols", pdb, "zz"])
        #expect(usage.status == 2)
        let notSymbols = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["symbolize", "--symbols", TestEnvironment.local("rust-minidump/test.dmp"), "0x10"])
        #expect(notSymbols.status == 1)
    }
}
