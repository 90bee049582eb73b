import Foundation
import TestSupport
import Testing

@Suite("postmortem dump-syms", .ownThread)
struct DumpSymsCommandTests {
    @Test("PDB with its PE, and a PE alone: the golden MODULE and INFO lines, FUNC records at the golden addresses")
    func againstGolden() throws {
        let folder = TestEnvironment.shared("dump_syms/test_data/windows") + "/"
        let golden = try String(contentsOfFile: folder + "dump_syms_regtest64.sym", encoding: .utf8).split(separator: "\n")
        let result = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["dump-syms", folder + "dump_syms_regtest64.pdb", "--pe", folder + "dump_syms_regtest64.exe"])
        #expect(result.status == 0, "\(result.stderrText)")
        let ours = result.stdoutText.split(separator: "\n")
        #expect(ours.first == golden.first)
        #expect(ours.dropFirst().first == golden.dropFirst().first)
        func funcAddresses(_ lines: [Substring]) -> Set<String> {
            Set(
                lines.filter { $0.hasPrefix("FUNC ") }.map { line in
                    let fields = line.split(separator: " ")
                    return String(fields[1] == "m" ? fields[2] : fields[1]) + " "
                        + String(fields[1] == "m" ? fields[3] : fields[2])
                })
        }
        #expect(funcAddresses(ours) == funcAddresses(golden))
        #expect(ours.contains { $0.hasPrefix("STACK CFI INIT ") })

        let imageOnly = try runProcess(TestEnvironment.postmortemExecutable, ["dump-syms", folder + "dump_syms_regtest64.exe"])
        #expect(imageOnly.status == 0)
        #expect(
            imageOnly.stdoutText.hasPrefix("MODULE windows x86_64 72E103A85CB249078B76B2E7C06257B13 dump_syms_regtest64.pdb\n"))

        let notSymbols = try runProcess(
            TestEnvironment.postmortemExecutable, ["dump-syms", TestEnvironment.local("rust-minidump/test.dmp")])
        #expect(notSymbols.status == 1)
    }
}
