import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

/// The kdlibcpp fixtures: two small kernel dumps written by Windows (ARM64, ARM32) and a legacy
/// full user-mode dump (x64), checked against kdlibcpp/EXPECTED.md and the bytes themselves.
@Suite(.ownThread) struct KdlibcppSmallDumpTests {
    static let arm64 = "kdlibcpp/kdlib/tests/dumps/win10_arm64_mem/win10_arm64_mem.dmp"
    static let arm32 = "kdlibcpp/kdlib/tests/dumps/win10_arm_rpi3_mem/RPi3_ARM_mini.cab.dmp"

    static func open(_ path: String) throws -> KernelDumpFile {
        #expect(TestEnvironment.hasSharedFixtures, "shared fixtures are required")
        return try KernelDumpFile(path: TestEnvironment.shared(path))
    }

    static func u64(_ view: ByteView, _ offset: Int) throws -> UInt64 { try view.load(UInt64.self, at: offset, field: "test") }
    static func u32(_ view: ByteView, _ offset: Int) throws -> UInt32 { try view.load(UInt32.self, at: offset, field: "test") }

    @Test func arm64Header() throws {
        let dump = try Self.open(Self.arm64)
        let header = dump.header
        // EXPECTED.md: dump type KernelSmall, CPU ARM64, 64-bit pointers.
        #expect(header.is64Bit)
        #expect(header.pointerSize == 8)
        #expect(header.dumpType == .small)
        #expect(header.machineImageType == .arm64)
        #expect(header.machineImageType?.pointerSize == 8)
        // REFERENCES.md: BugCheckCode 0xE2 MANUALLY_INITIATED_CRASH.
        #expect(header.bugCheckCode == .manuallyInitiatedCrash)
        #expect(header.bugCheckCode?.name == "MANUALLY_INITIATED_CRASH")
        #expect(header.bugCheckParameters == [0, 0, 0, 0])
        #expect(header.majorVersion == 0xF)
        #expect(header.minorVersion == 17134)
        #expect(header.numberProcessors == 8)
        #expect(header.directoryTableBase == 0x400A_9000)
        #expect(header.psLoadedModuleList == 0xFFFF_F801_BCE7_6C30)
        #expect(header.psActiveProcessHead == 0xFFFF_F801_BCE6_FDA0)
        #expect(header.pfnDataBase == 0xFFFF_F801_BCF3_92B0)
        #expect(header.kdDebuggerDataBlock == 0xFFFF_F801_BCE5_EF70)
        // Never filled in by the writer: they still read PAGE.
        #expect(header.comment == nil)
        #expect(header.versionUser == nil)
        #expect(try header.physicalMemoryDescriptor() == nil)
        #expect(header.requiredDumpSpace == 0xF_4EF4)
        #expect(header.systemTime == 0x01D4_1576_EE8D_CE77)
        #expect(header.systemUpTime == 0x4792_838B)
        #expect(header.miniDumpFields == 0xCFF)
        #expect(header.secondaryDataState == nil)
        #expect(header.productType == 1)
        #expect(header.suiteMask == 0x110)
        #expect(header.writerStatus == 0)
        let exception = try #require(header.exception)
        #expect(exception.exceptionCode == 0x8000_0003)
        #expect(exception.exceptionAddress == 0xFFFF_F801_BCD5_2DE8)
        #expect(header.contextRecord.count == 3000)
        #expect(throws: ParseError.self) { try dump.physicalMemory() }
    }

    @Test func arm64Triage() throws {
        let dump = try Self.open(Self.arm64)
        let triage = try dump.triage()
        #expect(triage.isValid)
        #expect(triage.warnings.isEmpty)
        #expect(triage.header.contextOffset == 0x348)
        // ARM64 CONTEXT: Sp at 0x100, Pc at 0x108; the stack is saved from SP up.
        let context = try #require(triage.context)
        #expect(context.count == 0x390)
        let sp = try Self.u64(context, 0x100)
        let pc = try Self.u64(context, 0x108)
        #expect(sp == 0xFFFF_F801_BE08_7BE0)
        #expect(pc == dump.header.exception?.exceptionAddress)
        let stack = try #require(triage.stack)
        #expect(stack.address == sp)
        #expect(stack.bytes.count == 0x1420)
        #expect(triage.read(sp, count: 16) == Array(stack.bytes.array.prefix(16)))
        // Drivers: 228 entries; ntoskrnl first, holding the faulting PC (frame 0 is KeBugCheck2).
        #expect(triage.drivers.count == 228)
        let kernel = triage.drivers[0]
        #expect(kernel.name == #"\SystemRoot\system32\ntoskrnl.exe"#)
        #expect(kernel.fileName == "ntoskrnl.exe")
        #expect(kernel.baseAddress == 0xFFFF_F801_BCB3_0000)
        #expect(kernel.sizeOfImage == 0x91_1000)
        #expect(kernel.checkSum == 0x85_48BA)
        #expect(kernel.timeDateStamp == 0x5B1A_4560)
        #expect(pc >= kernel.baseAddress && pc < kernel.baseAddress + UInt64(kernel.sizeOfImage))
        #expect(triage.drivers.map(\.fileName).contains("hal.dll"))
        // EXPECTED.md: module clipsp is loaded (symbols by exports) and frames run through Wdf (FxRequest).
        #expect(triage.drivers.map { $0.fileName.lowercased() }.contains("clipsp.sys"))
        #expect(triage.drivers.map { $0.fileName.lowercased() }.contains("wdf01000.sys"))
        #expect(triage.drivers.allSatisfy { !$0.name.isEmpty && $0.sizeOfImage > 0 })
        // Data blocks: 0x621 of them, each readable by address.
        #expect(triage.dataBlocks.count == 0x621)
        let first = triage.dataBlocks[0]
        #expect(first.address == 0xFFFF_F801_BCE7_6C40)
        #expect(first.bytes.count == 0x9C)
        #expect(triage.read(first.address, count: 4) == Array(first.bytes.array.prefix(4)))
        #expect(triage.process != nil && triage.thread != nil && triage.prcb != nil)
        #expect(triage.debuggerData?.count == 0x368)
        // Unloaded drivers: nine, names cut to 12 characters by the writer.
        #expect(triage.unloadedDrivers.count == 9)
        #expect(triage.unloadedDrivers.first?.name == "MSKSSRV.sys")
        #expect(triage.unloadedDrivers.first?.startAddress == 0xFFFF_F800_A192_0000)
        #expect(triage.unloadedDrivers.first?.endAddress == 0xFFFF_F800_A192_F000)
        #expect(triage.unloadedDrivers[1].name == "dump_storpor")
    }

    @Test func arm32Header() throws {
        let dump = try Self.open(Self.arm32)
        let header = dump.header
        // EXPECTED.md: dump type KernelSmall, CPU ARM, 32-bit pointers.
        #expect(!header.is64Bit)
        #expect(header.pointerSize == 4)
        #expect(header.dumpType == .small)
        #expect(header.machineImageType == .armNT)
        #expect(header.machineImageType?.pointerSize == 4)
        #expect(header.minorVersion == 17134)
        #expect(header.numberProcessors == 4)
        #expect(header.directoryTableBase == 0x0720_0000)
        #expect(header.psLoadedModuleList == 0x80E1_6D78)
        #expect(header.kdDebuggerDataBlock == 0x80DE_EC58)
        // The writer left BugCheckCode and its parameters zero in this dump (a breakpoint-style
        // capture: the exception record holds 0x80000003).
        #expect(header.bugCheckCode?.rawValue == 0)
        #expect(header.paeEnabled == false)
        #expect(header.exception?.exceptionCode == 0x8000_0003)
        #expect(header.exception?.exceptionAddress == 0x80C3_1E40)
        #expect(header.miniDumpFields == 0xCFF)
        #expect(header.requiredDumpSpace == 0x5_2410)
        #expect(header.systemUpTime == 0x1BC7_8E58)
        #expect(header.systemTime == 0x01D4_1D41_B482_B936)
        #expect(header.contextRecord.count == 1200)
        #expect(try header.physicalMemoryDescriptor() == nil)
    }

    @Test func arm32Triage() throws {
        let dump = try Self.open(Self.arm32)
        let triage = try dump.triage()
        #expect(triage.isValid)
        #expect(triage.warnings.isEmpty)
        // ARM CONTEXT: Sp at 0x38, Lr at 0x3C, Pc at 0x40.
        let context = try #require(triage.context)
        #expect(context.count == 0x1A0)
        let sp = UInt64(try Self.u32(context, 0x38))
        let pc = UInt64(try Self.u32(context, 0x40))
        #expect(sp == 0x80A7_5CD0)
        // TopOfStack is stored as 32 bits and sign-extended like the data block addresses.
        let stack = try #require(triage.stack)
        #expect(stack.address == 0xFFFF_FFFF_80A7_5CD0)
        #expect(stack.bytes.count == 0x1000)
        #expect(triage.drivers.count == 136)
        let kernel = triage.drivers[0]
        #expect(kernel.fileName == "ntoskrnl.exe")
        #expect(kernel.baseAddress == 0xFFFF_FFFF_80C0_6000)
        #expect(kernel.sizeOfImage == 0x5B_1000)
        #expect(kernel.checkSum == 0x55_BCD7)
        #expect(kernel.timeDateStamp == 0x5ACD_88B6)
        // EXPECTED.md: frame 0 is FxRequest::CompleteInternal, which lives in Wdf01000.sys.
        let extendedPC = 0xFFFF_FFFF_0000_0000 | pc
        let holder = triage.drivers.first { extendedPC >= $0.baseAddress && extendedPC - $0.baseAddress < UInt64($0.sizeOfImage) }
        #expect(holder?.fileName.lowercased() == "wdf01000.sys")
        #expect(triage.dataBlocks.count == 0x2DC)
        #expect(triage.dataBlocks[0].address == 0xFFFF_FFFF_80E1_71A0)
        #expect(triage.dataBlocks[0].bytes.count == 0x84)
        #expect(triage.unloadedDrivers.map(\.name) == ["ft5406_touch", "WudfRd.sys", "sacdrv.sys"])
        #expect(triage.unloadedDrivers[0].startAddress == 0xFFFF_FFFF_87AC_0000)
        #expect(triage.unloadedDrivers[0].endAddress == 0xFFFF_FFFF_87AC_C000)
    }
}

@Suite(.ownThread) struct KdlibcppUserDumpTests {
    static let path = "kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_x64_release/targetapp_stacktest_x64_release.dmp"

    @Test func userDu64() throws {
        #expect(TestEnvironment.hasSharedFixtures, "shared fixtures are required")
        let dump = try UserDumpFile(path: TestEnvironment.shared(Self.path))
        #expect(UserDumpHeader.matches(dump.bytes))
        #expect(!DumpHeader.matches(dump.bytes))
        let header = dump.header
        #expect(header.is64Bit)
        #expect(header.machineImageType == .amd64)
        #expect(header.threadCount == 3)
        #expect(header.moduleCount == 7)
        #expect(header.memoryRegionCount == 0x38)

        let modules = try dump.modules()
        #expect(modules.count == 7)
        #expect(modules[0].imageName == "targetapp.exe")
        #expect(modules[0].baseOfImage == 0x7FF7_E145_0000)
        #expect(modules[0].sizeOfImage == 0x1_0000)
        #expect(modules[1].imageName == #"C:\WINDOWS\SYSTEM32\VCRUNTIME140.dll"#)
        #expect(modules[1].baseOfImage == 0x7FFD_C736_0000)
        #expect(modules[1].sizeOfImage == 0x1_5000)
        #expect(modules.contains { $0.imageName.lowercased().hasSuffix("ntdll.dll") })

        let event = try #require(try dump.debugEvent())
        #expect(event.debugEventCode == 1)
        #expect(event.processId == 0xC3C)
        #expect(event.threadId == 0x2098)
        #expect(event.exception?.exceptionCode == 0x8000_0003)

        let threads = try dump.threads()
        #expect(threads.count == 3)
        #expect(threads[0].threadId == 0x2098)
        #expect(threads[0].teb == 0x8F_E21A_5000)
        #expect(threads.allSatisfy { $0.context.count == 0x4D0 })

        // The regions' bytes fill the file from DataOffset to the version information.
        let regions = try dump.memoryRegions()
        #expect(regions.count == 0x38)
        let total = regions.reduce(UInt64(0)) { $0 + $1.regionSize }
        #expect(header.dataOffset + total == header.versionInfoOffset)
        #expect(regions[0].baseAddress == 0x7FFE_0000)
        #expect(regions[0].regionSize == 0x1000)
        #expect(regions[0].state == 0x1000)

        // The breakpoint's address holds int3, and the module's image starts with MZ.
        let memory = try dump.memory()
        let address = try #require(event.exception?.exceptionAddress)
        #expect(memory.read(address, count: 1) == [0xCC])
        #expect(memory.read(modules[0].baseOfImage, count: 2) == Array("MZ".utf8))
        // The crashing thread's RIP (CONTEXT + 0xF8) lies in a loaded module.
        let rip = try threads[0].context.load(UInt64.self, at: 0xF8, field: "Rip")
        #expect(modules.contains { rip >= $0.baseOfImage && rip - $0.baseOfImage < UInt64($0.sizeOfImage) })
        #expect(memory.read(0x10, count: 1) == nil)
    }
}
