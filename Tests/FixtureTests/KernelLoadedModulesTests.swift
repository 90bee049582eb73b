import Analysis
import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

/// `postmortem modules` and `analyze` on synthetic x64 full and bitmap dumps whose drivers are
/// only in the kernel's loaded-module list (built by `ModuleListWriter`).
@Suite("Drivers of full and bitmap kernel dumps, from PsLoadedModuleList", .ownThread)
struct KernelLoadedModulesTests {
    static func file(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-kmods-\(getpid())-\(name).dmp")
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test(arguments: [DumpWriter.Kind.full, .bitmap])
    func modulesRows(kind: DumpWriter.Kind) throws {
        let bytes = ModuleListWriter.scenario().writer.build(kind)
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: bytes, name: "x").bytes)
        let modules = DumpModules(kernelDump: dump, path: "synthetic")
        #expect(modules.errors.isEmpty && modules.notes.isEmpty, "\(modules.errors) \(modules.notes)")
        #expect(modules.cpuArch == "amd64")
        #expect(modules.modules.map(\.filename) == ["ntoskrnl.exe", "hal.dll", "storport.sys"])
        #expect(modules.modules.map(\.baseAddr) == ["0xfffff80002000000", "0xfffff80001e00000", "0xfffff80005000000"])
        #expect(modules.modules.map(\.size) == ["0x800000", "0x6b000", "0x90000"])
        let kernel = modules.modules[0]
        #expect(kernel.codeFile == "\\SystemRoot\\system32\\ntoskrnl.exe")
        #expect(kernel.endAddr == "0xfffff80002800000")
        #expect(kernel.timestamp == "0x5f1a2b3c")
        #expect(kernel.checksum == "0x00a1b2c3")
        #expect(kernel.codeId == "5F1A2B3C800000")
        // GUID bytes 10...1F on disk: Data1, Data2, Data3 little-endian, then Data4 and the age.
        #expect(kernel.debugId == "131211101514171618191A1B1C1D1E1F1")
        #expect(kernel.debugFile == "ntkrnlmp.pdb")
        #expect(kernel.identitySource == "loaded-module list, header page")
        #expect(kernel.warnings.isEmpty)
        let hal = modules.modules[1]
        #expect(hal.timestamp == nil && hal.debugId == nil)
        #expect(hal.identitySource == "loaded-module list")
        #expect(hal.warnings.first?.contains("was not captured") == true, "\(hal.warnings)")
    }

    @Test func modulesCommand() throws {
        let path = try Self.file(ModuleListWriter.scenario().writer.build(.full), "full")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try runProcess(TestEnvironment.postmortemExecutable, ["modules", path])
        #expect(text.status == 0, "\(text.stderrText)")
        for name in ["ntoskrnl.exe", "hal.dll", "storport.sys", "0xfffff80002000000", "5F1A2B3C800000"] {
            #expect(text.stdoutText.contains(name), "\(name) in \(text.stdoutText)")
        }
        let json = try runProcess(TestEnvironment.postmortemExecutable, ["modules", path, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let rows = try #require(object["modules"] as? [[String: Any]])
        #expect(rows.map { $0["filename"] as? String } == ["ntoskrnl.exe", "hal.dll", "storport.sys"])
    }

    @Test(arguments: [DumpWriter.Kind.full, .bitmap])
    func analyzeListsTheDrivers(kind: DumpWriter.Kind) async throws {
        let path = try Self.file(ModuleListWriter.scenario().writer.build(kind), "analyze-\(kind.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let crash = try await CrashAnalyzer.analyze(path: path, options: AnalysisOptions())
        #expect(crash.modules.map(\.filename) == ["ntoskrnl.exe", "hal.dll", "storport.sys"])
        #expect(crash.modules.first?.codeId == "5F1A2B3C800000")
        #expect(crash.modules.first?.debugFile == "ntkrnlmp.pdb")
        #expect(
            !crash.warnings.contains { $0.contains("not walked yet") || $0.contains("could not be walked") }, "\(crash.warnings)")
        // The crash address lies inside ntoskrnl.
        #expect(crash.crashingThread?.frames.first?.module == "ntoskrnl.exe", "\(String(describing: crash.crashingThread))")
    }

    @Test("verify passes the modules check from the loaded-module list", arguments: [DumpWriter.Kind.full, .bitmap])
    func verifyFindsTheKernel(kind: DumpWriter.Kind) throws {
        let path = try Self.file(ModuleListWriter.scenario().writer.build(kind), "verify-\(kind.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runProcess(TestEnvironment.postmortemExecutable, ["verify", path, "--json"])
        let text = result.stdoutText
        #expect(text.contains("3 drivers from PsLoadedModuleList, ntoskrnl.exe at 0xfffff80002000000"), "\(text)")
    }

    @Test func damagedListsWarnInAnalyze() async throws {
        var space = ModuleListWriter.scenario()
        space.write(ModuleListWriter.entry(0), at: ModuleListWriter.entry(1))  // the second entry loops to the first
        space.write(UInt16(0xFFFE), at: ModuleListWriter.entry(0) + 0x48)
        let path = try Self.file(space.writer.build(.full), "damaged")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let crash = try await CrashAnalyzer.analyze(path: path, options: AnalysisOptions())
        #expect(crash.modules.map(\.filename) == ["ntoskrnl.exe", "hal.dll"])
        #expect(crash.warnings.contains { $0.contains("loops back") }, "\(crash.warnings)")
        #expect(crash.warnings.contains { $0.contains("impossible length") }, "\(crash.warnings)")

        var headless = ModuleListWriter.scenario()
        headless.writer.psLoadedModuleList = 0xFFFF_F800_7777_0000
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: headless.writer.build(.bitmap), name: "x").bytes)
        let contents = DumpContents(kernelDump: dump)
        #expect(contents.modules.isEmpty)
        #expect(contents.warnings.contains { $0.contains("could not be walked") && $0.contains("PsLoadedModuleList") })
        let rows = DumpModules(kernelDump: dump, path: "x")
        #expect(rows.notes.first?.contains("not in the dump") == true, "\(rows.notes)")
    }
}
