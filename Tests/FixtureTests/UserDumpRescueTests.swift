import Analysis
import BinaryReading
import Foundation
import KernelDump
import PortableExecutable
import TestSupport
import Testing

@Suite("Rescue from a full user-mode dump", .ownThread)
struct UserDumpRescueTests {
    static let dump = "kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_x64_release/targetapp_stacktest_x64_release.dmp"

    @Test("the rescued images' sections are the bytes the dump captured, and targetapp.exe names its PDB")
    func capturedSections() throws {
        let path = TestEnvironment.shared(Self.dump)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-userdump-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let userDump = try UserDumpFile(path: path)
        let report = ModuleRescue.rescue(
            userDump: userDump, path: path, outputFolder: folder, all: true, layout: .flat, searchPath: ExecutableSearchPath())
        #expect(report.succeeded, "\(report.errors) \(report.modules.compactMap(\.error))")
        let modules = try userDump.modules()
        #expect(report.modules.count == 7)
        let memory = try userDump.memory()
        var sectionsCompared = 0
        for (module, row) in zip(modules, report.modules) {
            #expect(row.headersFromMemory, "\(row.filename)")
            let image = try PEImage(path: try #require(row.path))
            #expect(image.optionalHeader.sizeOfImage == module.sizeOfImage)
            // The one change the writer makes inside sections: each debug directory entry's
            // PointerToRawData (offset 24 of 28) is set to its RVA, since the file is laid out like memory.
            let debug = image.optionalHeader.dataDirectories.count > 6 ? image.optionalHeader.dataDirectories[6] : nil
            var rewritten = Set<Int>()
            if let debug, debug.size > 0 {
                for entry in stride(from: Int(debug.virtualAddress), to: Int(debug.virtualAddress) + Int(debug.size) - 27, by: 28)
                {
                    for byte in 0..<4 { rewritten.insert(entry + 24 + byte) }
                }
            }
            for section in image.sections where section.virtualSize > 0 {
                let size = Int(min(section.virtualSize, module.sizeOfImage - section.virtualAddress))
                guard let captured = memory.read(module.baseOfImage + UInt64(section.virtualAddress), count: size) else {
                    continue
                }
                let inFile = try image.bytes.slice(offset: Int(section.virtualAddress), size: size, field: "section").array
                let differing = (0..<size).filter {
                    inFile[$0] != captured[$0] && !rewritten.contains(Int(section.virtualAddress) + $0)
                }
                #expect(
                    differing.isEmpty,
                    "\(row.filename): \(differing.count) bytes differ in the section at \(hex0x(section.virtualAddress)), first at +\(hex0x(differing.first ?? 0))"
                )
                sectionsCompared += 1
            }
        }
        #expect(sectionsCompared >= 40, "only \(sectionsCompared) sections compared")
        // kdlibcpp/EXPECTED.md: the matching targetapp.pdb has debug id DC1EB176CD52469895EBBB75895BEC2B2.
        let target = try #require(report.modules.first { $0.filename == "targetapp.exe" }?.path)
        #expect(try PEImage(path: target).identity.debugID == "DC1EB176CD52469895EBBB75895BEC2B2")

        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Oracles/pe_identity.py").path
        let oracle = try runProcess(TestEnvironment.python, [script, target])
        #expect(oracle.status == 0, "\(oracle.stderrText)")
        #expect(oracle.stdoutText.contains("DC1EB176-CD52-4698-95EB-BB75895BEC2B"))
    }
}
