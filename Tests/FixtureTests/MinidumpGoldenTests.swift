import Analysis
import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Reads Breakpad's `minidump_dump` golden output: sections named by a line like `module[3]`
/// or `MDException`, each followed by `key = value` lines and, for memory, a hex line.
struct MinidumpDumpGolden {
    struct Section {
        var name: String
        var values: [String: String] = [:]
        var hexBytes: [UInt8]?
    }
    var sections: [Section] = []

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var current: Section?
        var expectHex = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.isEmpty { continue }
            if line == "Stack" || line == "Memory" {
                expectHex = true
                continue
            }
            if expectHex, line.hasPrefix("0x") {
                let bytes = Self.bytes(fromHex: String(line.dropFirst(2)))
                // A thread's stack follows its context section; it belongs to the thread.
                if current?.name.hasPrefix("MDRawContext") == true, !sections.isEmpty {
                    sections[sections.count - 1].hexBytes = bytes
                } else {
                    current?.hexBytes = bytes
                }
                expectHex = false
                continue
            }
            expectHex = false
            if !line.hasPrefix(" ") {
                // `module[3]` then `MDRawModule`: keep the indexed name, which is more specific.
                if let open = current, open.values.isEmpty, open.name.hasSuffix("]") { continue }
                if let open = current { sections.append(open) }
                current = Section(name: line)
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { current?.values[parts[0]] = parts[1] }
        }
        if let open = current { sections.append(open) }
    }

    func sections(named prefix: String) -> [Section] { sections.filter { $0.name.hasPrefix(prefix) } }

    static func bytes(fromHex hex: String) -> [UInt8] {
        var out = [UInt8]()
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index != hex.endIndex {
            out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return out
    }

    /// `0x1a` or `26` as a number.
    static func number(_ text: String?) -> UInt64? {
        guard let text else { return nil }
        let first = text.split(separator: " ").first.map(String.init) ?? text
        return first.hasPrefix("0x") ? UInt64(first.dropFirst(2), radix: 16) : UInt64(first)
    }

    /// A quoted value without its quotes.
    static func string(_ text: String?) -> String? {
        guard var text, text.hasPrefix("\"") else { return nil }
        text.removeFirst()
        if text.hasSuffix("\"") { text.removeLast() }
        return text
    }
}

@Suite("Breakpad's minidump2.dump.out, field by field", .ownThread)
struct BreakpadDumpGoldenTests {
    let dump: MinidumpFile
    let golden: MinidumpDumpGolden

    init() throws {
        dump = try MinidumpFile(path: TestEnvironment.shared("breakpad/src/processor/testdata/minidump2.dmp"))
        golden = try MinidumpDumpGolden(path: TestEnvironment.shared("breakpad/src/processor/testdata/minidump2.dump.out"))
    }

    @Test func header() {
        let header = golden.sections(named: "MDRawHeader")[0].values
        #expect(UInt64(dump.header.version) == MinidumpDumpGolden.number(header["version"]))
        #expect(UInt64(dump.header.numberOfStreams) == MinidumpDumpGolden.number(header["stream_count"]))
        #expect(UInt64(dump.header.timeDateStamp) == MinidumpDumpGolden.number(header["time_date_stamp"]))
        let directory = golden.sections(named: "mDirectory[")
        #expect(directory.count == dump.directory.count)
        for (entry, section) in zip(dump.directory, directory) {
            #expect(UInt64(entry.streamType.rawValue) == MinidumpDumpGolden.number(section.values["stream_type"]))
            #expect(UInt64(entry.location.rva) == MinidumpDumpGolden.number(section.values["location.rva"]))
            #expect(UInt64(entry.location.dataSize) == MinidumpDumpGolden.number(section.values["location.data_size"]))
        }
    }

    @Test func modules() throws {
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        let golden = golden.sections(named: "module[")
        #expect(golden.count == 13)
        #expect(modules.count == golden.count)
        for (module, section) in zip(modules, golden) {
            let v = section.values
            #expect(module.baseOfImage == MinidumpDumpGolden.number(v["base_of_image"]))
            #expect(UInt64(module.sizeOfImage) == MinidumpDumpGolden.number(v["size_of_image"]))
            #expect(UInt64(module.checkSum) == MinidumpDumpGolden.number(v["checksum"]))
            #expect(UInt64(module.timeDateStamp) == MinidumpDumpGolden.number(v["time_date_stamp"]))
            #expect(module.name == MinidumpDumpGolden.string(v["(code_file)"]))
            #expect(module.codeID == MinidumpDumpGolden.string(v["(code_identifier)"]))
            #expect(module.debugID == MinidumpDumpGolden.string(v["(debug_identifier)"]))
            #expect(module.debugFile == MinidumpDumpGolden.string(v["(debug_file)"]))
            #expect(UInt64(module.versionInfo.signature) == MinidumpDumpGolden.number(v["version_info.signature"]))
            let version = MinidumpDumpGolden.string(v["(version)"]) ?? ""
            #expect((module.versionInfo.fileVersion ?? "") == version)
            if case .pdb70(let guid, let age, let name) = module.codeView {
                #expect(guid.description.lowercased() == v["(cv_record).signature"])
                #expect(UInt64(age) == MinidumpDumpGolden.number(v["(cv_record).age"]))
                #expect(name == MinidumpDumpGolden.string(v["(cv_record).pdb_file_name"]))
            } else {
                Issue.record("\(module.name): expected an RSDS record")
            }
        }
    }

    @Test func threadsAndStackBytes() throws {
        let threads = try #require(try dump.stream(ThreadList.self)).threads
        let golden = golden.sections(named: "thread[")
        #expect(threads.count == 2)
        #expect(threads.count == golden.count)
        let memory = dump.memoryIndex()
        for (thread, section) in zip(threads, golden) {
            let v = section.values
            #expect(UInt64(thread.threadId) == MinidumpDumpGolden.number(v["thread_id"]))
            #expect(thread.teb == MinidumpDumpGolden.number(v["teb"]))
            #expect(thread.stack.startOfMemoryRange == MinidumpDumpGolden.number(v["stack.start_of_memory_range"]))
            #expect(UInt64(thread.stack.memory.dataSize) == MinidumpDumpGolden.number(v["stack.memory.data_size"]))
            #expect(UInt64(thread.threadContext.rva) == MinidumpDumpGolden.number(v["thread_context.rva"]))
            let expected = try #require(section.hexBytes)
            let actual = try #require(memory.bytes(at: thread.stack.startOfMemoryRange, count: expected.count))
            #expect(actual.array == expected)
        }
    }

    @Test func memoryRegions() throws {
        let list = try #require(try dump.stream(MemoryList.self))
        let golden = golden.sections(named: "region[")
        #expect(list.ranges.count == 3)
        #expect(list.ranges.count == golden.count)
        let memory = dump.memoryIndex()
        for (range, section) in zip(list.ranges, golden) {
            #expect(range.startOfMemoryRange == MinidumpDumpGolden.number(section.values["start_of_memory_range"]))
            let expected = try #require(section.hexBytes)
            #expect(memory.bytes(at: range.startOfMemoryRange, count: expected.count)?.array == expected)
        }
    }

    @Test func exceptionAndSystemInfo() throws {
        let exception = try #require(try dump.stream(ExceptionStream.self))
        let e = golden.sections(named: "MDException")[0].values
        #expect(UInt64(exception.threadId) == MinidumpDumpGolden.number(e["thread_id"]))
        #expect(
            UInt64(exception.exceptionRecord.exceptionCode) == MinidumpDumpGolden.number(e["exception_record.exception_code"]))
        #expect(exception.exceptionRecord.exceptionAddress == MinidumpDumpGolden.number(e["exception_record.exception_address"]))
        #expect(exception.exceptionRecord.parameters == [1, 0x45])
        #expect(UInt64(exception.threadContext.rva) == MinidumpDumpGolden.number(e["thread_context.rva"]))

        let system = try #require(try dump.stream(SystemInfo.self))
        let s = golden.sections(named: "MDRawSystemInfo")[0].values
        #expect(UInt64(system.processorLevel) == MinidumpDumpGolden.number(s["processor_level"]))
        #expect(UInt64(system.processorRevision) == MinidumpDumpGolden.number(s["processor_revision"]))
        #expect(UInt64(system.buildNumber) == MinidumpDumpGolden.number(s["build_number"]))
        #expect(UInt64(system.suiteMask) == MinidumpDumpGolden.number(s["suite_mask"]))
        #expect(system.csdVersion == MinidumpDumpGolden.string(s["(csd_version)"]))
        guard case .x86(let vendor, let version, let features, let amd) = system.cpu else {
            Issue.record("expected x86 CPU information")
            return
        }
        #expect(vendor == MinidumpDumpGolden.string(s["(cpu_vendor)"]))
        #expect(UInt64(version) == MinidumpDumpGolden.number(s["cpu.x86_cpu_info.version_information"]))
        #expect(UInt64(features) == MinidumpDumpGolden.number(s["cpu.x86_cpu_info.feature_information"]))
        #expect(UInt64(amd) == MinidumpDumpGolden.number(s["cpu.x86_cpu_info.amd_extended_cpu_features"]))
    }
}

@Suite("Values the fixtures' owners assert (EXPECTED.md)", .ownThread)
struct ExpectedValueTests {
    @Test("rust-minidump test.dmp: modules, system info, exception, threads, stack memory")
    func rustMinidumpTestDump() throws {
        let dump = try MinidumpFile(path: TestEnvironment.shared("rust-minidump/testdata/test.dmp"))
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        #expect(modules.count == 13)
        #expect(modules[0].baseOfImage == 0x400000)
        #expect(modules[0].sizeOfImage == 0x2d000)
        #expect(modules[0].name == #"c:\test_app.exe"#)
        #expect(modules[0].codeID == "45D35F6C2d000")
        #expect(modules[0].debugFile == #"c:\test_app.pdb"#)
        #expect(modules[0].debugID == "5A9832E5287241C1838ED98914E9B7FF1")
        #expect(modules[0].versionInfo.fileVersion == nil)
        #expect(modules[12].baseOfImage == 0x76bf0000)
        #expect(modules[12].sizeOfImage == 0xb000)
        #expect(modules[12].name == #"C:\WINDOWS\system32\psapi.dll"#)
        #expect(modules[12].codeID == "411096CAb000")
        #expect(modules[12].debugFile == "psapi.pdb")
        #expect(modules[12].debugID == "A5C3A1F9689F43D8AD228A09293889702")
        #expect(modules[12].versionInfo.fileVersion == "5.1.2600.2180")
        let order = modules.map(\.fileName)
        #expect(
            order == [
                "test_app.exe", "ntdll.dll", "kernel32.dll", "ole32.dll", "advapi32.dll", "rpcrt4.dll", "gdi32.dll",
                "user32.dll", "msvcrt.dll", "imm32.dll", "dbghelp.dll", "version.dll", "psapi.dll",
            ])
        let byAddress = modules.sorted { $0.baseOfImage < $1.baseOfImage }.map {
            $0.fileName.replacingOccurrences(of: ".dll", with: "")
        }
        #expect(
            byAddress == [
                "test_app.exe", "dbghelp", "imm32", "psapi", "ole32", "version", "msvcrt", "user32", "advapi32", "rpcrt4",
                "gdi32", "kernel32", "ntdll",
            ])

        let system = try #require(try dump.stream(SystemInfo.self))
        #expect(system.processorArchitecture == .x86)
        #expect(system.platformId == .win32NT)
        #expect(system.cpuDescription == "GenuineIntel family 6 model 13 stepping 8")
        #expect(system.csdVersion == "Service Pack 2")
        #expect(system.osVersion == "5.1.2600")

        let exception = try #require(try dump.stream(ExceptionStream.self))
        #expect(exception.threadId == 0xbf4)
        #expect(exception.exceptionRecord.exceptionCode == 0xc000_0005)
        #expect(exception.exceptionRecord.parameters.last == 0x45)

        let threads = try #require(try dump.stream(ThreadList.self)).threads
        #expect(threads.map(\.threadId) == [0xbf4, 0x11c0])
        let memory = dump.memoryIndex()
        #expect(memory.read(UInt8.self, at: 0x12f31c) == 0)
        #expect(memory.read(UInt16.self, at: 0x12f31c) == 0)
        #expect(memory.read(UInt32.self, at: 0x12f31c) == 0)
        #expect(memory.read(UInt64.self, at: 0x12f31c) == 0x7c90_e9c0_0000_0000)
        #expect(memory.read(UInt64.self, at: 0x12fff8) == 0x405443)
        #expect(memory.read(UInt8.self, at: 0x12ffff) == 0)
        #expect(memory.read(UInt8.self, at: 0x130000) == nil)
    }

    @Test("lldb fizzbuzz_no_heap.dmp: six modules with the GUIDs and ages lldb reports")
    func lldbFizzbuzz() throws {
        let dump = try MinidumpFile(
            path: TestEnvironment.shared("lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp"))
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        let expected: [(String, String, UInt32)] = [
            ("fizzbuzz.exe", "0F45B791-9A96-46F9-BF8F-2D6076EA421A", 0x11),
            ("ntdll.dll", "BBB0846A-402C-4052-A16B-67650BBFE6B0", 2),
            ("kernel32.dll", "E5CB7E1B-005E-4113-AB98-98D6913B52D8", 2),
            ("KERNELBASE.dll", "0BF95241-CB0D-4BD4-AC5D-186A6452E522", 1),
            ("MSVCP120D.dll", "3C05516E-57E7-40EB-8D3F-9722C5BD80DD", 1),
            ("MSVCR120D.dll", "6382FB86-46C4-4046-AE42-8D97B3F91FF2", 1),
        ]
        #expect(modules.count == expected.count)
        for (module, (name, guid, age)) in zip(modules, expected) {
            #expect(module.fileName == name)
            guard case .pdb70(let actualGUID, let actualAge, _) = module.codeView else {
                Issue.record("\(name): no RSDS record")
                continue
            }
            #expect(actualGUID.description == guid)
            #expect(actualAge == age)
        }
        #expect(try dump.stream(ThreadList.self)?.threads.count == 1)
        let exception = try #require(try dump.stream(ExceptionStream.self))
        #expect(exception.exceptionRecord.exceptionCode == 0xc000_0005)
        #expect(exception.exceptionRecord.exceptionAddress == 0x164d14)
        #expect(try dump.stream(SystemInfo.self)?.osVersion == "6.1.7601")
    }

    @Test("kdlibcpp minidumps: thread and module counts, breakpoints, debug ids")
    func kdlibcpp() throws {
        let base = "kdlibcpp/kdlib/tests/dumps/"
        let cases: [(String, Int, Int, UInt64?, String)] = [
            ("targetapp_minidump/target_minidump.dmp", 2, 7, nil, "38CDA79CC1EA486C9154EC97629B3A7C4"),
            (
                "targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp", 4, 8, 0xbf2872,
                "A39E8075781D441C964F489A06A626901"
            ),
            (
                "targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp", 4, 8, 0x7ff6_6d9f_29e9,
                "B3715C7EDE8E48A98BE5204FF5C9E3AA1"
            ),
        ]
        for (path, threads, modules, breakpoint, debugID) in cases {
            let dump = try MinidumpFile(path: TestEnvironment.shared(base + path))
            #expect(try dump.stream(ThreadList.self)?.threads.count == threads, "\(path)")
            let list = try #require(try dump.stream(ModuleList.self)).modules
            #expect(list.count == modules, "\(path)")
            #expect(list.first { $0.fileName.lowercased() == "targetapp.exe" }?.debugID == debugID, "\(path)")
            #expect(try dump.stream(SystemInfo.self)?.buildNumber == 18362, "\(path)")
            if let breakpoint {
                let exception = try #require(try dump.stream(ExceptionStream.self))
                #expect(exception.exceptionRecord.exceptionCode == 0x8000_0003, "\(path)")
                #expect(exception.exceptionRecord.exceptionAddress == breakpoint, "\(path)")
            }
        }
        let flags = try MinidumpFile(path: TestEnvironment.shared(base + cases[0].0)).header.flags
        #expect(flags == 0x40824)
    }

    @Test("generated Wine dumps: the fault in fixturedll and the CodeView records Wine leaves out")
    func wineDumps() throws {
        let dump = try MinidumpFile(path: TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp"))
        let exception = try #require(try dump.stream(ExceptionStream.self))
        #expect(exception.exceptionRecord.exceptionCode == 0xc000_0005)
        #expect(exception.exceptionRecord.exceptionAddress == 0x1_8000_1090)
        #expect(dump.directory.contains { $0.streamType.rawValue == 0xFFF0 }, "Wine's private stream is listed")
        let withCV = try #require(try dump.stream(ModuleList.self)).modules
        #expect(withCV.first?.fileName == "fixture.exe")
        #expect(withCV.first?.debugFile == "fixture.pdb")

        let plain = try MinidumpFile(path: TestEnvironment.shared("generated/dumps/x64-null-aedebug.dmp"))
        let modules = try #require(try plain.stream(ModuleList.self)).modules
        #expect(modules.allSatisfy { $0.cvRecordLocation.dataSize == 0 && $0.codeView == nil && $0.debugID == nil })
    }

    @Test("symbolic crash_macos.dmp: a module list padded after its count")
    func paddedModuleList() throws {
        let dump = try MinidumpFile(path: TestEnvironment.shared("symbolic/py/tests/res/minidump/crash_macos.dmp"))
        let entry = try #require(dump.entry(of: .moduleList))
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        #expect(Int(entry.location.dataSize) == 8 + modules.count * Module.size)
        #expect(modules[0].name == "/Users/jauer/Coding/breakpad/examples/target/crash_macos")
        #expect(modules[0].baseOfImage == 0x1_0215_c000)
    }
}
