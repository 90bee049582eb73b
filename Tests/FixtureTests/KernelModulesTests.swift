import Analysis
import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

@Suite("Modules of kernel and full user-mode dumps", .ownThread)
struct KernelModulesTests {
    @Test(
        "kernel small dumps list their drivers",
        arguments: [
            (VerifyFixtures.arm64Small, 228, "0xfffff801bcb30000", "0xfffff801bc7cc000"),
            (VerifyFixtures.arm32Small, 136, "0xffffffff80c06000", "0xffffffff811b7000"),
        ])
    func smallDumpDrivers(path: String, count: Int, kernelBase: String, halBase: String) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let modules = DumpModules(kernelDump: try KernelDumpFile(path: path), path: path)
        #expect(modules.errors.isEmpty, "\(modules.errors)")
        #expect(modules.kind == "kernel")
        #expect(modules.dumpType == "small (triage)")
        #expect(modules.modules.count == count)
        let kernel = try #require(modules.modules.first)
        #expect(kernel.filename == "ntoskrnl.exe")
        #expect(kernel.codeFile == "\\SystemRoot\\system32\\ntoskrnl.exe")
        #expect(kernel.baseAddr == kernelBase)
        #expect(kernel.identitySource == "driver list")
        let hal = try #require(modules.modules.first { $0.filename == "hal.dll" })
        #expect(hal.baseAddr == halBase)
        // The code id is TimeDateStamp %08X then SizeOfImage %x, from the same record.
        for row in modules.modules {
            let stamp = try #require(row.timestamp)
            #expect(row.codeId == stamp.dropFirst(2).uppercased() + row.size.dropFirst(2))
            #expect(row.timestampUTC != nil && row.checksum != nil)
        }
        #expect(!modules.unloadedModules.isEmpty)
    }

    @Test("the ARM64 kernel's identity from its driver entry")
    func arm64KernelIdentity() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let modules = DumpModules(kernelDump: try KernelDumpFile(path: VerifyFixtures.arm64Small), path: "x")
        let kernel = try #require(modules.modules.first)
        #expect(kernel.endAddr == "0xfffff801bd441000")
        #expect(kernel.size == "0x911000")
        #expect(kernel.timestamp == "0x5b1a4560")
        #expect(kernel.checksum == "0x008548ba")
        #expect(kernel.codeId == "5B1A4560911000")
    }

    @Test("other kernel dump types say why their loaded-module list could not be walked")
    func otherTypesNeedSymbols() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        var bytes = try VerifyFixtures.bytes(VerifyFixtures.arm64Small)
        VerifyFixtures.put32(1, at: 0xF98, in: &bytes)  // DumpType = full
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: bytes, name: "full").bytes)
        let modules = DumpModules(kernelDump: dump, path: "full")
        #expect(modules.modules.isEmpty)
        #expect(modules.notes.first?.contains("could not be walked") == true, "\(modules.notes)")
    }

    @Test("the USERDU64 dump's modules, identified from their captured header pages")
    func userDumpModules() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let modules = DumpModules(userDump: try UserDumpFile(path: VerifyFixtures.userDump), path: VerifyFixtures.userDump)
        #expect(modules.errors.isEmpty, "\(modules.errors)")
        #expect(modules.kind == "user")
        #expect(modules.modules.count == 7)
        let main = try #require(modules.modules.first)
        #expect(main.filename == "targetapp.exe")
        #expect(main.baseAddr == "0x00007ff7e1450000")
        #expect(main.debugId == "DC1EB176CD52469895EBBB75895BEC2B2")
        #expect(main.debugFile == "targetapp.pdb")
        #expect(main.identitySource == "header page")
        let ntdll = try #require(modules.modules.first { $0.filename.lowercased() == "ntdll.dll" })
        #expect(ntdll.codeId != nil && ntdll.timestamp != nil)
        #expect(modules.modules.allSatisfy { $0.codeId != nil && $0.warnings.isEmpty })
    }

    @Test("file kinds are detected by signature")
    func detection() {
        #expect(DumpFileKind.detect(prefix: Array("MDMP\u{93}\u{a7}\0\0".utf8)) == .minidump)
        #expect(DumpFileKind.detect(prefix: Array("PAGEDU64".utf8)) == .kernel)
        #expect(DumpFileKind.detect(prefix: Array("PAGEDUMP".utf8)) == .kernel)
        #expect(DumpFileKind.detect(prefix: Array("USERDU64".utf8)) == .user)
        #expect(DumpFileKind.detect(prefix: Array("USERDUMP".utf8)) == .user)
        #expect(DumpFileKind.detect(prefix: Array("ELF".utf8)) == .unknown)
        #expect(DumpFileKind.detect(prefix: []) == .unknown)
    }
}
