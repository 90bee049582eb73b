import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Builds a `MINIDUMP_MISC_INFO_N` of `size` bytes with every field set to a recognizable value.
func miscInfoBytes(size: Int, sizeOfInfo: UInt32? = nil) -> [UInt8] {
    var bytes = le32(sizeOfInfo ?? UInt32(size)) + le32(0x3F7) + le32(4242) + le32(0x5000_0000) + le32(7) + le32(9)
    if size >= 44 { bytes += le32(3000) + le32(2900) + le32(2800) + le32(3) + le32(2) }
    if size >= 232 {
        bytes += le32(0x2000) + le32(0x4D) + le32(1) + le32(2)
        bytes += lei32(-60) + wchars("W. Europe Standard Time", count: 32) + systemTime([0, 10, 0, 5, 3, 0, 0, 0])
        bytes += lei32(0) + wchars("W. Europe Daylight Time", count: 32) + systemTime([0, 3, 0, 5, 2, 0, 0, 0]) + lei32(-60)
    }
    if size >= 832 {
        bytes += wchars("19041.1.amd64fre.vb_release.191206-1406", count: 260) + wchars("dbghelp.10.0.19041", count: 40)
    }
    if size >= 1364 {
        bytes += le32(528) + le32(0x3C0) + le64(0b111)
        for index in 0..<64 { bytes += le32(UInt32(index * 64)) + le32(index < 3 ? 256 : 0) }
        bytes += le32(0xC0FF_EE00)
    }
    return bytes
}

@Suite("Synthetic misc info", .ownThread)
struct StreamMiscInfoSyntheticTests {
    @Test(arguments: [(24, 1), (44, 2), (232, 3), (832, 4), (1364, 5)])
    func everyVersion(size: Int, version: Int) throws {
        let builder = StreamDumpBuilder()
        let bytes = miscInfoBytes(size: size)
        #expect(bytes.count == size)
        builder.addStream(15, bytes)
        let misc = try #require(try builder.open().stream(MiscInfo.self))
        #expect(misc.version == version)
        #expect(misc.warnings.isEmpty)
        #expect(misc.processId == 4242)
        #expect(misc.processCreateTime == 0x5000_0000)
        #expect(misc.processUserTime == 7 && misc.processKernelTime == 9)
        #expect(misc.flags1.contains([.processId, .processTimes, .processorPowerInfo, .timeZone, .buildString, .processCookie]))
        #expect(misc.processorMaxMhz == (version >= 2 ? 3000 : nil))
        #expect(misc.processorCurrentIdleState == (version >= 2 ? 2 : nil))
        #expect(misc.processExecuteFlags == (version >= 3 ? 0x4D : nil))
        #expect(misc.timeZoneId == (version >= 3 ? 2 : nil))
        #expect(misc.timeZone?.bias == (version >= 3 ? -60 : nil))
        #expect(misc.timeZone?.standardName == (version >= 3 ? "W. Europe Standard Time" : nil))
        #expect(misc.timeZone?.daylightName == (version >= 3 ? "W. Europe Daylight Time" : nil))
        #expect(misc.timeZone?.standardDate.month == (version >= 3 ? 10 : nil))
        #expect(misc.timeZone?.daylightDate.hour == (version >= 3 ? 2 : nil))
        #expect(misc.timeZone?.daylightBias == (version >= 3 ? -60 : nil))
        #expect(misc.buildString == (version >= 4 ? "19041.1.amd64fre.vb_release.191206-1406" : nil))
        #expect(misc.dbgBuildString == (version >= 4 ? "dbghelp.10.0.19041" : nil))
        #expect(misc.xStateData?.contextSize == (version >= 5 ? 0x3C0 : nil))
        #expect(misc.xStateData?.features.count == (version >= 5 ? 64 : nil))
        #expect(misc.xStateData?.enabled.map(\.index) == (version >= 5 ? [0, 1, 2] : nil))
        #expect(misc.xStateData?.features[2].offset == (version >= 5 ? 128 : nil))
        #expect(misc.xStateData?.features[2].size == (version >= 5 ? 256 : nil))
        #expect(misc.processCookie == (version >= 5 ? 0xC0FF_EE00 : nil))
    }

    // A SizeOfInfo between two versions reads the smaller version.
    @Test func sizeBetweenVersionsReadsTheSmaller() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(15, miscInfoBytes(size: 232) + [UInt8](repeating: 0, count: 8))
        let misc = try #require(try builder.open().stream(MiscInfo.self))
        #expect(misc.sizeOfInfo == 232)
        #expect(misc.version == 3)
    }

    // SizeOfInfo larger than the stream: read by stream size, with a warning.
    @Test func sizeOfInfoPastTheStream() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(15, miscInfoBytes(size: 44, sizeOfInfo: 1364))
        let misc = try #require(try builder.open().stream(MiscInfo.self))
        #expect(misc.version == 2)
        #expect(misc.warnings.count == 1)
    }

    @Test(arguments: [0, 4, 23])
    func tooShortStreamFails(length: Int) throws {
        let builder = StreamDumpBuilder()
        builder.addStream(15, Array(miscInfoBytes(size: 24).prefix(length)))
        #expect(throws: ParseError.self) { try builder.open().stream(MiscInfo.self) }
    }
}

@Suite("Synthetic Windows streams", .ownThread)
struct StreamWindowsSyntheticTests {
    @Test func comments() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(10, Array("crashed in the night".utf8) + [0, 0x41, 0x42])
        builder.addStream(11, wchars("héllo wörld", count: 16))
        let dump = try builder.open()
        #expect(try dump.stream(CommentA.self)?.text == "crashed in the night")
        #expect(try dump.stream(CommentW.self)?.text == "héllo wörld")
    }

    @Test func threadNamesWithBadRvas() throws {
        let builder = StreamDumpBuilder()
        let good = builder.appendMinidumpString("worker")
        var stream = le32(3)
        stream += le32(1) + le64(UInt64(good))
        stream += le32(2) + le64(0xFFFF_FFF0)  // past the end of the file
        stream += le32(3) + le64(0x1_0000_0000)  // an RVA64 beyond 4 GiB
        builder.addStream(24, stream)
        let list = try #require(try builder.open().stream(ThreadNameList.self))
        #expect(list.names.map(\.threadId) == [1, 2, 3])
        #expect(list.names.map(\.name) == ["worker", "", ""])
        #expect(list.names[0].warning == nil)
        #expect(list.names[1].warning != nil)
        #expect(list.names[2].warning != nil)
    }

    @Test func handleDescriptorVersion1WithBadName() throws {
        let builder = StreamDumpBuilder()
        let type = builder.appendMinidumpString("File")
        var stream = le32(16) + le32(32) + le32(2) + le32(0)
        stream += le64(0x44) + le32(type) + le32(0) + le32(0x2) + le32(0x12019F) + le32(1) + le32(3)
        stream += le64(0x48) + le32(type) + le32(0xFFFF_0000) + le32(0) + le32(0) + le32(1) + le32(1)
        builder.addStream(12, stream)
        let handles = try #require(try builder.open().stream(HandleDataStream.self))
        #expect(handles.sizeOfDescriptor == 32)
        #expect(handles.handles.count == 2)
        #expect(handles.handles[0].handle == 0x44)
        #expect(handles.handles[0].typeName == "File")
        #expect(handles.handles[0].objectName == nil)
        #expect(handles.handles[0].grantedAccess == 0x12019F)
        #expect(handles.handles[0].objectInfoRva == nil)
        #expect(handles.handles[1].objectName == "")
        #expect(handles.handles[1].warnings.count == 1)
    }

    @Test func handleObjectInformationLoopIsCut() throws {
        let builder = StreamDumpBuilder()
        // Two links pointing at each other.
        let first = builder.append(le32(0) + le32(2) + le32(4) + [1, 2, 3, 4])
        let second = builder.append(le32(first) + le32(6) + le32(0))
        var stream = le32(16) + le32(40) + le32(1) + le32(0)
        stream += le64(4) + le32(0) + le32(0) + le32(0) + le32(0) + le32(1) + le32(1) + le32(second) + le32(0)
        builder.addStream(12, stream)
        var file = builder.build()
        file.replaceSubrange(Int(first)..<Int(first) + 4, with: le32(second))
        let handles = try #require(try openDump(file).stream(HandleDataStream.self))
        let chain = handles.handles[0].objectInformation
        #expect(chain.map(\.infoType.rawValue) == [6, 2])
        #expect(chain[1].info == [1, 2, 3, 4])
        #expect(handles.handles[0].warnings.count == 1)
    }

    @Test func handleCountPastTheStreamFails() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(12, le32(16) + le32(40) + le32(0x1000_0000) + le32(0))
        let error = try #require(throws: ParseError.self) { try builder.open().stream(HandleDataStream.self) }
        #expect(error.field.contains("NumberOfEntries"))
    }

    @Test func memoryInfoNames() throws {
        let builder = StreamDumpBuilder()
        var stream = le32(16) + le32(48) + le64(2)
        stream +=
            le64(0x1000) + le64(0x1000) + le32(0x04) + le32(0) + le64(0x2000) + le32(0x1000) + le32(0x104) + le32(0x20000)
            + le32(0)
        stream += le64(0x3000) + le64(0) + le32(0) + le32(0) + le64(0x1000) + le32(0x10000) + le32(0x01) + le32(0) + le32(0)
        builder.addStream(16, stream)
        let list = try #require(try builder.open().stream(MemoryInfoList.self))
        #expect(list.regions.count == 2)
        #expect(list.regions[0].protect.description == "PAGE_READWRITE|PAGE_GUARD")
        #expect(list.regions[0].protect.isWritable && list.regions[0].protect.isReadable && !list.regions[0].protect.isExecutable)
        #expect(list.regions[0].state.description == "MEM_COMMIT")
        #expect(list.regions[0].type.description == "MEM_PRIVATE")
        #expect(list.regions[1].state == .free)
        #expect(list.regions[1].type.description == "0")
        #expect(MemoryProtection(rawValue: 0x20).description == "PAGE_EXECUTE_READ")
        #expect(MemoryState(rawValue: 0x7).description == "0x7")
        #expect(list.region(containing: 0x2FFF)?.baseAddress == 0x1000)
        #expect(list.region(containing: 0x5000) == nil)
    }

    @Test func processVmCountersRevision1() throws {
        let builder = StreamDumpBuilder()
        var stream = le16(1) + le16(0) + le32(77)
        for value in 1...9 { stream += le64(UInt64(value) * 0x1000) }
        #expect(stream.count == 80)
        builder.addStream(22, stream)
        let vm = try #require(try builder.open().stream(ProcessVmCounters.self))
        #expect(vm.revision == 1)
        #expect(vm.flags == nil)
        #expect(vm.pageFaultCount == 77)
        #expect(vm.peakWorkingSetSize == 0x1000)
        #expect(vm.peakPagefileUsage == 0x8000)
        #expect(vm.privateUsage == 0x9000)
        #expect(vm.peakVirtualSize == nil && vm.jobTotalCommitLimit == nil)
    }

    @Test func processVmCountersUnknownRevisionFails() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(22, le16(3) + [UInt8](repeating: 0, count: 150))
        #expect(throws: ParseError.self) { try builder.open().stream(ProcessVmCounters.self) }
    }

    @Test func assertionTypes() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(
            0x4767_0002, wchars("x", count: 128) + wchars("f", count: 128) + wchars("a.cc", count: 128) + le32(7) + le32(2))
        let assertion = try #require(try builder.open().stream(AssertionInfo.self))
        #expect(assertion.type == .pureVirtualCall)
        #expect(assertion.file == "a.cc")
        #expect(assertion.line == 7)
    }
}

@Suite("Synthetic Linux streams", .ownThread)
struct StreamLinuxSyntheticTests {
    @Test func auxvAndDsoDebug32Bit() throws {
        let builder = StreamDumpBuilder()
        builder.addSystemInfo(architecture: 0)  // PROCESSOR_ARCHITECTURE_INTEL: 4-byte words
        builder.addStream(0x4767_0008, le32(6) + le32(4096) + le32(9) + le32(0x8048000) + le32(0) + le32(0) + [1, 2])
        let libc = builder.appendMinidumpString("/lib/libc.so.6")
        let maps = builder.append(le32(0) + le32(0) + le32(0x804_9F00) + le32(0xF750_0000) + le32(libc) + le32(0xF76A_0000))
        builder.addStream(
            0x4767_000A, le32(1) + le32(maps) + le32(2) + le32(0xF770_1000) + le32(0xF770_0000) + le32(0x804_9F00) + [9, 9, 9, 9])
        let dump = try builder.open()
        let auxv = try #require(try dump.stream(LinuxAuxv.self))
        #expect(auxv.pointerSize == 4)
        #expect(auxv.entries.count == 3)
        #expect(auxv[.pageSize] == 4096)
        #expect(auxv[.entry] == 0x8048000)
        #expect(auxv.warnings.count == 1)  // two bytes after the last pair
        let debug = try #require(try dump.stream(LinuxDsoDebug.self))
        #expect(debug.pointerSize == 4)
        #expect(debug.dsoCount == 2)
        #expect(debug.brk == 0xF770_1000 && debug.ldbase == 0xF770_0000 && debug.dynamic == 0x804_9F00)
        #expect(debug.dynamicSection == [9, 9, 9, 9])
        #expect(debug.linkMaps.map(\.name) == ["", "/lib/libc.so.6"])
        #expect(debug.linkMaps[1].addr == 0xF750_0000)
        #expect(debug.linkMaps[1].ld == 0xF76A_0000)
    }

    @Test func dsoCountPastTheFileFails() throws {
        let builder = StreamDumpBuilder()
        builder.addSystemInfo(architecture: 9)  // AMD64
        let maps = builder.append(le64(0) + le32(0) + le32(0) + le64(0))
        builder.addStream(0x4767_000A, le32(1) + le32(maps) + le32(0xFFFF_FFFF) + le32(0) + le64(0) + le64(0) + le64(0))
        let error = try #require(throws: ParseError.self) { try builder.open().stream(LinuxDsoDebug.self) }
        #expect(error.field == "MDRawDebug64.dso_count")
    }

    @Test func wordStreamsNeedAnArchitecture() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(0x4767_0008, le64(6) + le64(4096))
        #expect(throws: ParseError.self) { try builder.open().stream(LinuxAuxv.self) }
    }

    @Test func mapsLines() throws {
        let text = """
            00400000-0041a000 r-xp 00000000 08:01 1234    /usr/bin/my app
            7f00000000-7f00001000 rw-s 00001000 fd:00 99 /dev/shm/x (deleted)
            7ffd0000-7ffe0000 rw-p 00000000 00:00 0                          [stack]
            00500000-00400000 r--p 00000000 00:00 0
            zzzz-0001 r--p 00000000 00:00 0
            00600000-00601000 rw-p 00000000 00:00 0

            """
        let builder = StreamDumpBuilder()
        builder.addStream(0x4767_0009, Array(text.utf8))
        let maps = try #require(try builder.open().stream(LinuxMaps.self))
        #expect(maps.mappings.count == 4)
        #expect(maps.mappings[0].path == "/usr/bin/my app")
        #expect(maps.mappings[0].deviceMajor == 8 && maps.mappings[0].deviceMinor == 1)
        #expect(maps.mappings[1].isShared && maps.mappings[1].offset == 0x1000 && maps.mappings[1].deviceMajor == 0xFD)
        #expect(maps.mappings[1].path == "/dev/shm/x (deleted)")
        #expect(maps.mappings[2].path == "[stack]")
        #expect(maps.mappings[3].path == "")
        #expect(maps.warnings.count == 2)
        #expect(maps.warnings[0].contains("line 4"))
        #expect(maps.warnings[1].contains("line 5"))
        #expect(maps.mapping(containing: 0x7ffd_1234)?.path == "[stack]")
    }

    @Test func textStreams() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(0x4767_0006, Array("/bin/app\0--flag\0\0last\0".utf8))
        builder.addStream(0x4767_0007, Array("A=1\0B=x=y\0EMPTY=\0".utf8))
        builder.addStream(0x4767_0005, Array("# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID='12'\n".utf8))
        builder.addStream(0x4767_0004, Array("Name:\tapp\r\nPid:\t42\r\n".utf8))
        builder.addStream(
            0x4D7A_0003,
            Array(
                "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n"
                    .utf8))
        builder.addStream(0x4D7A_0005, Array("[{\"kind\":\"x\"}]\0".utf8))
        let dump = try builder.open()
        #expect(try dump.stream(LinuxCmdLine.self)?.arguments == ["/bin/app", "--flag", "", "last"])
        let environ = try #require(try dump.stream(LinuxEnviron.self))
        #expect(
            environ.variables == [
                MinidumpKeyValue(key: "A", value: "1"), MinidumpKeyValue(key: "B", value: "x=y"),
                MinidumpKeyValue(key: "EMPTY", value: ""),
            ])
        let release = try #require(try dump.stream(LinuxLsbRelease.self))
        #expect(release.entries.map(\.key) == ["NAME", "ID", "VERSION_ID"])
        #expect(release.entries[key: "NAME"] == "Debian GNU/Linux")
        #expect(release.entries[key: "VERSION_ID"] == "12")
        #expect(try dump.stream(LinuxProcStatus.self)?.pid == 42)
        #expect(try dump.stream(LinuxLimits.self)?.lines.count == 2)
        #expect(try dump.stream(SoftErrors.self)?.json == "[{\"kind\":\"x\"}]")
    }
}

@Suite("Synthetic Crashpad info", .ownThread)
struct StreamCrashpadSyntheticTests {
    @Test func annotationsAndDamagedStrings() throws {
        let builder = StreamDumpBuilder()
        let key = builder.appendUTF8String("channel")
        let value = builder.appendUTF8String("beta")
        let dictionary = builder.append(le32(2) + le32(key) + le32(value) + le32(key) + le32(0xFFFF_FF00))
        let listItem = builder.appendUTF8String("abort() called")
        let list = builder.append(le32(2) + le32(listItem) + le32(0xFFFF_FF00))
        let name = builder.appendUTF8String("crash_reason")
        let bytes = builder.append(le32(3) + [0x61, 0x62, 0x63])
        let objects = builder.append(le32(1) + le32(name) + le16(1) + le16(0) + le32(bytes))
        let moduleInfo = builder.append(le32(1) + le32(12) + le32(list) + le32(0) + le32(0) + le32(16) + le32(objects))
        let oldModuleInfo = builder.append(le32(1) + le32(0) + le32(0) + le32(20) + le32(dictionary))
        let moduleList = builder.append(
            le32(3) + le32(4) + le32(28) + le32(moduleInfo) + le32(5) + le32(20) + le32(oldModuleInfo)
                + le32(6) + le32(28) + le32(0xFFFF_FF00))
        let guid1: [UInt8] = [0x72, 0xDE, 0xF9, 0x42, 0x8A, 0x51, 0xDD, 0x43, 0x97, 0xD7, 0x8D, 0xDC, 0x32, 0x8D, 0x36, 0x62]
        let stream =
            le32(1) + guid1 + [UInt8](repeating: 0xAB, count: 16) + le32(44) + le32(dictionary) + le32(40) + le32(moduleList)
        #expect(stream.count == 52)
        builder.addStream(0x4350_0001, stream)
        let info = try #require(try builder.open().stream(CrashpadInfo.self))
        #expect(info.reportId.description == "42F9DE72-518A-43DD-97D7-8DDC328D3662")
        #expect(info.clientId.description == "ABABABAB-ABAB-ABAB-ABAB-ABABABABABAB")
        #expect(info.addressMask == nil)
        #expect(info.simpleAnnotations.first == MinidumpKeyValue(key: "channel", value: "beta"))
        #expect(info.simpleAnnotations.count == 2)
        #expect(info.modules.map(\.minidumpModuleListIndex) == [4, 5, 6])
        let first = try #require(info.modules[0].info)
        #expect(first.listAnnotations == ["abort() called", ""])
        #expect(first.annotationObjects.count == 1)
        #expect(first.annotationObjects[0].name == "crash_reason")
        #expect(first.annotationObjects[0].type == .string)
        #expect(first.annotationObjects[0].stringValue == "abc")
        // A record written before annotation_objects existed (20 bytes).
        let old = try #require(info.modules[1].info)
        #expect(old.annotationObjectsLocation == nil)
        #expect(old.simpleAnnotations.count == 2)
        // A link whose record lies outside the file.
        #expect(info.modules[2].info == nil)
        // Bad value in the process dictionary, bad list item, old record's bad value, bad record.
        #expect(info.warnings.count == 4)
    }

    @Test func truncatedFixedPartFails() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(0x4350_0001, le32(1) + [UInt8](repeating: 0, count: 40))
        #expect(throws: ParseError.self) { try builder.open().stream(CrashpadInfo.self) }
    }
}

@Suite("Synthetic Mac crash info", .ownThread)
struct StreamMacCrashInfoSyntheticTests {
    static func record(version: UInt64, strings: [String]) -> [UInt8] {
        var bytes = le64(0x4D7A_0001) + le64(version) + le64(0x1234) + le64(0) + le64(6)
        for string in strings { bytes += Array(string.utf8) + [0] }
        return bytes
    }

    @Test func versionFiveRecords() throws {
        let builder = StreamDumpBuilder()
        let first = Self.record(
            version: 5, strings: ["/usr/lib/libSystem.B.dylib", "abort() called", "", "", ""])
        let second = Self.record(version: 5, strings: ["/usr/lib/libobjc.A.dylib", "", "sig"])
        let firstRva = builder.append(first)
        let secondRva = builder.append(second)
        var stream = le32(0x4D7A_0001) + le32(2) + le32(40)
        stream += le32(UInt32(first.count)) + le32(firstRva) + le32(UInt32(second.count)) + le32(secondRva)
        stream += [UInt8](repeating: 0, count: 18 * 8)
        #expect(stream.count == 172)
        builder.addStream(0x4D7A_0001, stream)
        let info = try #require(try builder.open().stream(MacCrashInfo.self))
        #expect(info.records.count == 2)
        #expect(info.records[0].version == 5)
        #expect(info.records[0].thread == 0x1234)
        #expect(info.records[0].abortCause == 6)
        #expect(info.records[0].modulePath == "/usr/lib/libSystem.B.dylib")
        #expect(info.records[0].message == "abort() called")
        #expect(info.records[1].signatureString == "sig")
        #expect(info.records[1].message2 == "")
        #expect(info.warnings.isEmpty)
    }

    @Test func tooManyRecordsFail() throws {
        let builder = StreamDumpBuilder()
        builder.addStream(0x4D7A_0001, le32(0x4D7A_0001) + le32(21) + le32(40) + [UInt8](repeating: 0, count: 160))
        let error = try #require(throws: ParseError.self) { try builder.open().stream(MacCrashInfo.self) }
        #expect(error.field == "MDRawMacCrashInfo.record_count")
    }
}
