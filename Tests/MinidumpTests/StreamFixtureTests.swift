import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Opens a shared fixture; fails (never skips) when the shared fixtures are absent.
func openSharedDump(_ relativePath: String) throws -> MinidumpFile {
    try #require(TestEnvironment.hasSharedFixtures, "shared fixtures are absent: \(TestEnvironment.sharedFixtures.path)")
    return try MinidumpFile(path: TestEnvironment.shared(relativePath))
}

@Suite("Windows streams in real dumps", .ownThread)
struct StreamWindowsFixtureTests {
    // rust-minidump test.dmp == breakpad minidump2.dmp; values from test_minidump.rs and minidump2.dump.out.
    @Test(arguments: ["rust-minidump/testdata/test.dmp", "breakpad/src/processor/testdata/minidump2.dmp"])
    func breakpadWrittenXPDump(path: String) throws {
        let dump = try openSharedDump(path)
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.sizeOfInfo == 24)
        #expect(misc.version == 1)
        #expect(misc.flags1 == [.processId, .processTimes])
        #expect(misc.flags1.rawValue == 0x3)
        #expect(misc.processId == 3932)
        #expect(misc.processCreateTime == 0x45d3_5f73)
        #expect(misc.processUserTime == 0)
        #expect(misc.processKernelTime == 0)
        #expect(misc.processorMaxMhz == nil)
        #expect(misc.timeZone == nil)

        let breakpad = try #require(try dump.stream(BreakpadInfo.self))
        #expect(breakpad.validity.rawValue == 0x3)
        #expect(breakpad.dumpThreadId == 0x11c0)
        #expect(breakpad.requestingThreadId == 0xbf4)
        #expect(breakpad.validDumpThreadId == 0x11c0)
        #expect(breakpad.validRequestingThreadId == 0xbf4)
    }

    // rust-minidump test_minidump.rs: invalid-parameter.dmp assertion stream.
    @Test func assertionInfoOfInvalidParameterDump() throws {
        let dump = try openSharedDump("rust-minidump/testdata/invalid-parameter.dmp")
        let assertion = try #require(try dump.stream(AssertionInfo.self))
        #expect(assertion.expression == "format != nullptr")
        #expect(assertion.function == "common_vfprintf")
        #expect(assertion.file == #"minkernel\crts\ucrt\src\appcrt\stdio\output.cpp"#)
        #expect(assertion.line == 32)
        #expect(assertion.type == .invalidParameter)

        // MINIDUMP_MISC_INFO_5 written by dbghelp on Windows 10.
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.sizeOfInfo == 1364)
        #expect(misc.version == 5)
        #expect(misc.processId == 6256)
        #expect(misc.flags1.contains([.processId, .processTimes, .processorPowerInfo, .timeZone, .buildString, .processCookie]))
        #expect(misc.timeZone?.standardName == "Eastern Standard Time")
        #expect(misc.timeZone?.bias == 300)
        #expect(misc.xStateData != nil)
        #expect(misc.processCookie != nil)
        #expect(misc.buildString?.isEmpty == false)

        let vm = try #require(try dump.stream(ProcessVmCounters.self))
        #expect(vm.revision == 2)
        #expect(vm.pageFaultCount == 7973)
        #expect(vm.peakWorkingSetSize == 9_965_568)
        #expect(vm.peakVirtualSize == 4_467_310_592)
        #expect(vm.privateUsage == vm.pagefileUsage)

        let memory = try #require(try dump.stream(SystemMemoryInfo.self))
        #expect(memory.revision == 1)
        #expect(memory.basicInfo.pageSize == 4096)
        #expect(memory.basicInfo.numberOfProcessors == 16)
        #expect(memory.basicInfo.allocationGranularity == 65536)
        #expect(memory.basicInfo.maximumUserModeAddress == 0x7FFF_FFFE_FFFF)
    }

    // breakpad minidump_unittest.cc (thread names) — Windows 10 x86 dump with SetThreadDescription names.
    @Test func threadNamesOfBreakpadThreadNameList() throws {
        let dump = try openSharedDump("breakpad/src/processor/testdata/thread_name_list.dmp")
        let list = try #require(try dump.stream(ThreadNameList.self))
        #expect(list.names.map(\.threadId) == [6564, 8820, 10976])
        #expect(list.names.map(\.name) == ["main thread", "sleep thread", "overflow thread"])
        #expect(list.names.allSatisfy { $0.warning == nil })
        #expect(list.name(of: 8820) == "sleep thread")
        // MINIDUMP_MISC_INFO_5 with a non-ASCII time zone name.
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.processId == 6040)
        #expect(misc.timeZone?.standardName == "Mitteleuropäische Zeit")
    }

    // lldb MinidumpParserTest.cpp / TestMiniDump.py: fizzbuzz_no_heap.dmp pid 4440.
    @Test func visualStudioDump() throws {
        let dump = try openSharedDump("lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp")
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.processId == 4440)
        #expect(misc.sizeOfInfo == 232)
        #expect(misc.version == 3)
        #expect(misc.timeZone?.standardName == "Pacific Standard Time")
        #expect(misc.buildString == nil)
        let info = try #require(try dump.stream(ThreadInfoList.self))
        #expect(info.threads.count == 1)
        #expect(info.threads.first?.threadId == 8992)
        #expect(info.threads.first?.exitStatus == 259)  // STILL_ACTIVE
    }

    // lldb's regions-memlist64.dmp (made by yaml2obj) writes SizeOfInfo 0 in a 24-byte misc info
    // stream; lldb reads it by the stream size, and so do we, with a warning.
    @Test func miscInfoWithZeroSizeOfInfo() throws {
        let dump = try openSharedDump("lldb/unittests/Process/minidump/Inputs/regions-memlist64.dmp")
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.sizeOfInfo == 0)
        #expect(misc.version == 1)
        #expect(misc.processId == 123)
        #expect(misc.warnings.count == 1)
    }

    // kdlibcpp: written by WinDbg `.dump /m` with handle data, full memory info, thread info.
    @Test func windbgDumpHandlesAndMemoryInfo() throws {
        let dump = try openSharedDump("kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp")
        let handles = try #require(try dump.stream(HandleDataStream.self))
        #expect(handles.sizeOfHeader == 16)
        #expect(handles.sizeOfDescriptor == 40)
        #expect(handles.numberOfDescriptors == 43)
        #expect(handles.handles.count == 43)
        #expect(handles.handles[0].handle == 4)
        #expect(handles.handles[0].typeName == "Event")
        #expect(handles.handles[0].objectName == nil)
        #expect(handles.handles[1].typeName == "Key")
        #expect(
            handles.handles[1].objectName
                == #"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options"#)
        #expect(handles.handles.allSatisfy { $0.warnings.isEmpty })
        // WinDbg chains one MiniEventInformation1 (8 bytes) to each event handle.
        let event = try #require(handles.handles[0].objectInformation.first)
        #expect(handles.handles[0].objectInformation.count == 1)
        #expect(event.infoType.description == "MiniEventInformation1")
        #expect(event.sizeOfInfo == 8)
        #expect(event.info == [0, 0, 0, 0, 1, 0, 0, 0])
        #expect(event.nextInfoRva == 0)
        #expect(handles.handles[1].objectInformation.isEmpty)

        let memory = try #require(try dump.stream(MemoryInfoList.self))
        #expect(memory.regions.first?.state == .free)
        #expect(memory.regions[1].baseAddress == 2_147_352_576)
        #expect(memory.regions[1].state == .commit)
        #expect(memory.regions[1].protect == .readOnly)
        #expect(memory.regions[1].type == .private)
        #expect(memory.regions[1].protect.description == "PAGE_READONLY")
        // Regions are contiguous and ascending, as VirtualQuery walks them.
        for (previous, next) in zip(memory.regions, memory.regions.dropFirst()) {
            #expect(previous.endAddress <= next.baseAddress)
        }
        #expect(memory.regions.contains { $0.type == .image && $0.protect.isExecutable })

        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.processId == 11664)
        #expect(misc.timeZone?.standardName == "Russia TZ 2 Standard Time")
        let vm = try #require(try dump.stream(ProcessVmCounters.self))
        #expect(vm.flags?.contains(.job) == true)
    }

    // Wine's MiniDumpWriteDump writes a MINIDUMP_MISC_INFO (24 bytes) with only the process id.
    @Test(arguments: [
        "generated/dumps/x64-null-aedebug.dmp", "generated/dumps/x64-null-aedebug-cv.dmp",
        "generated/dumps/x64-dll-inproc-cv.dmp",
    ])
    func wineMiscInfo(path: String) throws {
        let dump = try openSharedDump(path)
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.sizeOfInfo == 24)
        #expect(misc.flags1 == .processId)
        #expect(misc.processId != 0)
        // Wine's private stream 0xFFF0 is none of ours: every decoder ignores it.
        #expect(dump.entry(of: StreamType(rawValue: 0xFFF0)) != nil)
    }
}

@Suite("Linux streams in real dumps", .ownThread)
struct StreamLinuxFixtureTests {
    // rust-minidump linux-mini.dmp: the module /work/linux/build/crash (symbolic linux/crash).
    @Test func linuxMini() throws {
        let dump = try openSharedDump("rust-minidump/testdata/linux-mini.dmp")
        #expect(try dump.stream(LinuxCmdLine.self)?.arguments == ["./crash"])
        let lsb = try #require(try dump.stream(LinuxLsbRelease.self))
        #expect(lsb.entries[key: "DISTRIB_ID"] == "Ubuntu")
        #expect(lsb.entries[key: "DISTRIB_RELEASE"] == "16.04")
        #expect(lsb.entries[key: "DISTRIB_DESCRIPTION"] == "Ubuntu 16.04.3 LTS")
        let status = try #require(try dump.stream(LinuxProcStatus.self))
        #expect(status.entries[key: "Name"] == "crash")
        #expect(status.pid == 1304)
        let cpu = try #require(try dump.stream(LinuxCpuInfo.self))
        #expect(cpu.processors.count == 4)
        #expect(cpu.processors.map { $0[key: "processor"] } == ["0", "1", "2", "3"])
        #expect(cpu.processors.first?[key: "vendor_id"] == "GenuineIntel")
        #expect(cpu.processors.first?[key: "model name"] == "Intel(R) Core(TM) i7-4960HQ CPU @ 2.60GHz")
        let environ = try #require(try dump.stream(LinuxEnviron.self))
        #expect(environ.variables[key: "HOME"] == "/root")
        #expect(environ.variables[key: "SHLVL"] == "1")

        let auxv = try #require(try dump.stream(LinuxAuxv.self))
        #expect(auxv.pointerSize == 8)
        #expect(auxv.entries.count == 19)  // 304 bytes of 16-byte pairs
        #expect(auxv[.pageSize] == 4096)
        #expect(auxv[.phent] == 56)
        #expect(auxv.entries.last?.type == .null)
        #expect(auxv.warnings.isEmpty)

        let maps = try #require(try dump.stream(LinuxMaps.self))
        #expect(maps.warnings.isEmpty)
        let first = try #require(maps.mappings.first)
        #expect(first.start == 0x400000)
        #expect(first.end == 0x41A000)
        #expect(first.permissions == "r-xp")
        #expect(first.isExecutable && first.isReadable && !first.isWritable && !first.isShared)
        #expect(first.deviceMajor == 0 && first.deviceMinor == 0x47)
        #expect(first.inode == 8_612_374_361)
        #expect(first.path == "/work/linux/build/crash")
        #expect(maps.mappings.contains { $0.path == "[stack]" })

        let debug = try #require(try dump.stream(LinuxDsoDebug.self))
        #expect(debug.pointerSize == 8)
        #expect(debug.version == 1)
        #expect(debug.dsoCount == 8)
        #expect(debug.linkMaps.count == 8)
        #expect(debug.dynamicSection.count == 472 - 40)
        #expect(debug.linkMaps.contains { $0.name == "/lib/x86_64-linux-gnu/libpthread.so.0" })
        #expect(debug.linkMaps.allSatisfy { $0.warning == nil })
        // The executable's own entry: load bias 0, ld == r_debug's dynamic address.
        #expect(debug.linkMaps[0].addr == 0)
        #expect(debug.linkMaps[0].ld == debug.dynamic)
        // Every shared library's load bias is the start of one of its mappings (the link map
        // names the symlink, /proc/self/maps the file it points to).
        for entry in debug.linkMaps where entry.name.hasPrefix("/") {
            #expect(maps.mapping(containing: entry.addr)?.start == entry.addr, "\(entry.name)")
        }
        #expect(debug.linkMaps.first { $0.name == "/lib64/ld-linux-x86-64.so.2" }?.addr == debug.ldbase)
    }

    // lldb TestMiniDumpNew.py: linux-x86_64_not_crashed.dmp is process 29939.
    @Test func lldbNotCrashedPid() throws {
        let dump = try openSharedDump(
            "lldb/packages/Python/lldbsuite/test/functionalities/postmortem/minidump-new/linux-x86_64_not_crashed.dmp")
        #expect(try dump.stream(LinuxProcStatus.self)?.pid == 29939)
    }

    static let linuxDumpPaths = TestEnvironment.sharedFiles(
        under: "breakpad/src/processor/testdata", suffixes: [".dmp"]
    ).filter { $0.contains("/linux_") && !$0.hasSuffix("/linux_inline.dmp") && !$0.hasSuffix("/linux_executable_stack.dmp") }

    // Every Breakpad-written Linux dump in the fixtures (linux_inline.dmp is Crashpad-written and
    // has none of these streams): the streams decode and the maps have no bad lines.
    @Test(arguments: linuxDumpPaths)
    func breakpadLinuxDumps(path: String) throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let dump = try MinidumpFile(path: path)
        let maps = try #require(try dump.stream(LinuxMaps.self))
        #expect(maps.warnings.isEmpty)
        #expect(!maps.mappings.isEmpty)
        #expect(try dump.stream(LinuxAuxv.self)?[.pageSize] == 4096)
        #expect(try dump.stream(LinuxProcStatus.self)?.pid != nil)
        #expect(try dump.stream(LinuxCmdLine.self)?.arguments.isEmpty == false)
        let debug = try #require(try dump.stream(LinuxDsoDebug.self))
        #expect(debug.linkMaps.count == Int(debug.dsoCount))
        #expect(debug.linkMaps.allSatisfy { $0.warning == nil })
    }

    @Test func breakpadLinuxDumpsAreFound() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        #expect(Self.linuxDumpPaths.count >= 20)
    }

    // breakpad linux_executable_stack.dmp is damaged: its maps text ends inside a line and its
    // MD_LINUX_DSO_DEBUG `map` RVA points outside the file. The maps keep every whole line and
    // report the cut one; the DSO debug stream fails with the offending field.
    @Test func damagedBreakpadLinuxDump() throws {
        let dump = try openSharedDump("breakpad/src/processor/testdata/linux_executable_stack.dmp")
        let maps = try #require(try dump.stream(LinuxMaps.self))
        #expect(maps.warnings.count == 1)
        #expect(maps.warnings.first?.contains("invalid device") == true)
        #expect(maps.mappings.last?.path == "[vdso]")
        let error = try #require(throws: ParseError.self) { try dump.stream(LinuxDsoDebug.self) }
        #expect(error.field == "MDRawDebug64.map")
        // The rest of the dump still reads.
        #expect(try dump.stream(LinuxAuxv.self)?[.pageSize] == 4096)
    }
}

@Suite("Crashpad streams in real dumps", .ownThread)
struct StreamCrashpadFixtureTests {
    // rust-minidump test_minidump.rs: simple-crashpad.dmp.
    @Test func simpleCrashpad() throws {
        let dump = try openSharedDump("rust-minidump/testdata/simple-crashpad.dmp")
        let info = try #require(try dump.stream(CrashpadInfo.self))
        #expect(info.version == 1)
        #expect(info.reportId.description == "42F9DE72-518A-43DD-97D7-8DDC328D3662")
        #expect(info.clientId.description == "6FD2B3B9-9833-4B2F-BBF7-0BCF501BAD7E")
        #expect(info.simpleAnnotations == [MinidumpKeyValue(key: "hello", value: "world")])
        #expect(info.modules.count == 2)
        let first = try #require(info.modules.first)
        #expect(first.minidumpModuleListIndex == 16)
        #expect(first.info?.listAnnotations == ["abort() called"])
        #expect(first.info?.simpleAnnotations.isEmpty == true)
        #expect(first.info?.annotationObjects.isEmpty == true)
        #expect(info.warnings.isEmpty)
    }

    // breakpad minidump_unittest.cc: the iOS Crashpad dump's annotation objects.
    @Test func annotationObjects() throws {
        let dump = try openSharedDump("breakpad/src/processor/testdata/minidump_crashpad_annotation.dmp")
        let info = try #require(try dump.stream(CrashpadInfo.self))
        #expect(info.warnings.isEmpty)
        #expect(info.modules.count == 2)
        #expect(info.modules.map(\.minidumpModuleListIndex) == [1, 100])
        #expect(info.modules.allSatisfy { $0.info?.annotationObjectsLocation != nil })
        let objects = try #require(info.modules.first?.info?.annotationObjects)
        #expect(
            objects.map(\.name) == [
                "exceptionReason", "exceptionName", "firstexception_bt", "firstexception", "CounterAnnotation",
            ])
        #expect(objects.allSatisfy { $0.type.rawValue > 0 && !$0.value.isEmpty })
        #expect(info.simpleAnnotations[key: "plat"] == "iOS")
        #expect(info.simpleAnnotations[key: "prod"] == "xcuitest")
    }
}

@Suite("System memory and VM counters in real dumps", .ownThread)
struct StreamMemoryCountersFixtureTests {
    static let dumps = [
        "rust-minidump/testdata/invalid-parameter.dmp",
        "breakpad/src/processor/testdata/thread_name_list.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp",
    ]

    // No oracle reads these two streams, so the layout is checked by relations the counters must
    // satisfy: a field read from the wrong offset would break them.
    @Test(arguments: dumps)
    func countersAreConsistent(path: String) throws {
        let dump = try openSharedDump(path)
        let memory = try #require(try dump.stream(SystemMemoryInfo.self))
        #expect(memory.revision == 1)
        #expect(memory.basicInfo.pageSize == 4096)
        #expect(memory.basicInfo.allocationGranularity == 65536)
        #expect(memory.basicInfo.minimumUserModeAddress == 0x10000)
        #expect(memory.basicInfo.numberOfPhysicalPages <= memory.basicInfo.highestPhysicalPageNumber)
        let processors = UInt64(memory.basicInfo.numberOfProcessors)
        #expect(memory.basicInfo.activeProcessorsAffinityMask == (processors >= 64 ? UInt64.max : (1 << processors) - 1))
        #expect(memory.fileCacheInfo.currentSize <= memory.fileCacheInfo.peakSize)
        #expect(memory.basicPerfInfo.committedPages <= memory.basicPerfInfo.commitLimit)
        #expect(memory.basicPerfInfo.committedPages <= memory.basicPerfInfo.peakCommitment)
        // The 32-bit page counts of the performance information repeat the basic ones.
        #expect(UInt64(memory.perfInfo.commitLimit) == memory.basicPerfInfo.commitLimit)
        #expect(UInt64(memory.perfInfo.peakCommitment) == memory.basicPerfInfo.peakCommitment)
        #expect(memory.perfInfo.ccDirtyPageThreshold > 0)

        let vm = try #require(try dump.stream(ProcessVmCounters.self))
        #expect(vm.revision == 2)
        #expect(vm.workingSetSize <= vm.peakWorkingSetSize)
        #expect(vm.pagefileUsage <= vm.peakPagefileUsage)
        #expect(vm.quotaPagedPoolUsage <= vm.quotaPeakPagedPoolUsage)
        #expect(vm.quotaNonPagedPoolUsage <= vm.quotaPeakNonPagedPoolUsage)
        #expect(try #require(vm.virtualSize) <= (try #require(vm.peakVirtualSize)))
        #expect(try #require(vm.privateWorkingSetSize) <= vm.workingSetSize)
        #expect(vm.pageFaultCount > 0)

        // The misc info of the same dumps: MINIDUMP_MISC_INFO_5 from dbghelp/WinDbg.
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(misc.version == 5)
        // These writers leave XStateData zeroed; the cookie after it is set (a misplaced
        // XSTATE_CONFIG_FEATURE_MSC_INFO would move it).
        #expect(misc.xStateData?.sizeOfInfo == 0)
        #expect(misc.xStateData?.enabled.isEmpty == true)
        #expect(misc.flags1.contains(.processCookie))
        #expect(misc.processCookie.map { $0 != 0 } == true)
        #expect(misc.buildString?.contains(".") == true)
    }
}

@Suite("Stream values round-trip through Codable", .ownThread)
struct StreamCodableTests {
    func roundTrip<S: MinidumpStream & Codable & Equatable>(_ type: S.Type, _ path: String) throws {
        let dump = try openSharedDump(path)
        let value = try #require(try dump.stream(type), "\(type) in \(path)")
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(type, from: data) == value)
    }

    @Test func everyStreamType() throws {
        try roundTrip(MiscInfo.self, "rust-minidump/testdata/invalid-parameter.dmp")
        try roundTrip(AssertionInfo.self, "rust-minidump/testdata/invalid-parameter.dmp")
        try roundTrip(SystemMemoryInfo.self, "rust-minidump/testdata/invalid-parameter.dmp")
        try roundTrip(ProcessVmCounters.self, "rust-minidump/testdata/invalid-parameter.dmp")
        try roundTrip(BreakpadInfo.self, "rust-minidump/testdata/test.dmp")
        try roundTrip(ThreadNameList.self, "breakpad/src/processor/testdata/thread_name_list.dmp")
        try roundTrip(HandleDataStream.self, "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp")
        try roundTrip(MemoryInfoList.self, "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp")
        try roundTrip(ThreadInfoList.self, "lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp")
        try roundTrip(CrashpadInfo.self, "breakpad/src/processor/testdata/minidump_crashpad_annotation.dmp")
        for type in [
            LinuxCpuInfo.self, LinuxProcStatus.self, LinuxLsbRelease.self, LinuxCmdLine.self, LinuxEnviron.self,
        ] as [any (MinidumpStream & Codable & Equatable).Type] {
            try roundTrip(type, "rust-minidump/testdata/linux-mini.dmp")
        }
        try roundTrip(LinuxAuxv.self, "rust-minidump/testdata/linux-mini.dmp")
        try roundTrip(LinuxMaps.self, "rust-minidump/testdata/linux-mini.dmp")
        try roundTrip(LinuxDsoDebug.self, "rust-minidump/testdata/linux-mini.dmp")
    }
}
