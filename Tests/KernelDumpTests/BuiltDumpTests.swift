import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

/// Synthetic 64-bit dumps written by `DumpWriter`, read by us and by kdmp-parser (PyPI), an
/// independent reader of 64-bit kernel dumps.
@Suite(.ownThread) struct BuiltDumpTests {
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func write(_ bytes: [UInt8], name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-kd-\(getpid())-\(name).dmp")
        try Data(bytes).write(to: url)
        return url.path
    }

    /// What kdmp-parser reads from the dump at `path`; every number as a hex string.
    static let oracleScript = #"""
        import sys, json, kdmp_parser
        d = kdmp_parser.KernelDumpParser(sys.argv[1])
        h = d.header
        out = {"type": hex(int(d.type))}
        for n in ["MajorVersion", "MinorVersion", "DirectoryTableBase", "PfnDatabase", "PsLoadedModuleList",
                  "PsActiveProcessHead", "MachineImageType", "NumberProcessors", "BugCheckCode",
                  "KdDebuggerDataBlock", "RequiredDumpSpace", "SystemTime", "SystemUpTime"]:
            out[n] = hex(int(getattr(h, n)))
        out["BugCheckCodeParameter"] = [hex(int(x)) for x in h.BugCheckCodeParameter]
        c = d.context
        out["Rip"], out["Rsp"], out["Rax"] = hex(c.Rip), hex(c.Rsp), hex(c.Rax)
        e = h.Exception
        out["ExceptionCode"], out["ExceptionAddress"] = hex(e.ExceptionCode), hex(e.ExceptionAddress)
        out["pages"] = {hex(pa): bytes(d.read_physical_page(pa)).hex() for pa in d.pages.keys()}
        tr = {}
        for va in [int(x, 16) for x in sys.argv[2:]]:
            t = d.translate_virtual(va)
            page = d.read_virtual_page(va)
            tr[hex(va)] = {"pa": None if t is None else hex(t), "page": None if page is None else bytes(page).hex()}
        out["translations"] = tr
        print(json.dumps(out))
        """#

    static func oracle(_ path: String, probes: [UInt64]) throws -> [String: Any] {
        let result = try runProcess(TestEnvironment.python, ["-c", oracleScript, path] + probes.map { hex($0) })
        // kdmp-parser prints diagnostics on stdout; the JSON is the last line.
        let lastLine = result.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any]
        else {
            throw OracleFailure(
                description: "kdmp-parser failed (\(result.status)): \(result.stderrText) \(result.stdoutText.prefix(2000))")
        }
        return object
    }

    @Test(arguments: DumpWriter.Kind.allCases)
    func matchesKdmpParser(kind: DumpWriter.Kind) throws {
        let writer = DumpWriter.scenario()
        let bytes = writer.build(kind)
        let path = try Self.write(bytes, name: kind.rawValue)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let theirs = try Self.oracle(path, probes: DumpWriter.probeAddresses)

        let dump = try KernelDumpFile(path: path)
        let header = dump.header
        let expectedType = DumpType(rawValue: kind.dumpType)
        #expect(header.dumpType == expectedType)
        #expect(theirs["type"] as? String == Self.hex(UInt64(expectedType.rawValue)))
        let fields: [(String, UInt64?)] = [
            ("MajorVersion", UInt64(header.majorVersion)), ("MinorVersion", UInt64(header.minorVersion)),
            ("DirectoryTableBase", header.directoryTableBase), ("PfnDatabase", header.pfnDataBase),
            ("PsLoadedModuleList", header.psLoadedModuleList), ("PsActiveProcessHead", header.psActiveProcessHead),
            ("MachineImageType", header.machineImageType.map { UInt64($0.rawValue) }),
            ("NumberProcessors", header.numberProcessors.map(UInt64.init)),
            ("BugCheckCode", header.bugCheckCode.map { UInt64($0.rawValue) }),
            ("KdDebuggerDataBlock", header.kdDebuggerDataBlock), ("RequiredDumpSpace", header.requiredDumpSpace),
            ("SystemTime", header.systemTime), ("SystemUpTime", header.systemUpTime),
        ]
        for (name, ours) in fields {
            #expect(ours.map(Self.hex) == theirs[name] as? String, "\(name)")
        }
        #expect(header.bugCheckParameters.map { $0.map(Self.hex) ?? "nil" } == theirs["BugCheckCodeParameter"] as? [String])
        #expect(header.bugCheckCode == .driverIrqlNotLessOrEqual)
        #expect(header.comment == writer.comment)
        // Context registers at their x64 CONTEXT offsets.
        let context = header.contextRecord
        #expect(Self.hex(try context.load(UInt64.self, at: 0xF8, field: "Rip")) == theirs["Rip"] as? String)
        #expect(Self.hex(try context.load(UInt64.self, at: 0x98, field: "Rsp")) == theirs["Rsp"] as? String)
        #expect(Self.hex(try context.load(UInt64.self, at: 0x78, field: "Rax")) == theirs["Rax"] as? String)
        #expect(header.exception.map { Self.hex(UInt64($0.exceptionCode)) } == theirs["ExceptionCode"] as? String)
        #expect(header.exception.map { Self.hex($0.exceptionAddress) } == theirs["ExceptionAddress"] as? String)

        // Physical pages: the same set, the same bytes, and what the writer put there.
        let memory = try dump.physicalMemory()
        #expect(memory.warnings.isEmpty)
        let theirPages = try #require(theirs["pages"] as? [String: String])
        #expect(theirPages.count == writer.pages.count)
        #expect(memory.pageCount == UInt64(writer.pages.count))
        for (pfn, content) in writer.pages {
            let address = pfn << 12
            let page = try #require(memory.page(physical: address))
            #expect(page.array == content, "page \(Self.hex(pfn))")
            #expect(theirPages[Self.hex(address)] == Self.hex(content), "kdmp-parser page \(Self.hex(pfn))")
        }
        #expect(memory.page(physical: 0x14 << 12) == nil)
        #expect(
            memory.read(physical: 0x21FF8, count: 16) == Array(writer.pages[0x21]![0xFF8...]) + Array(writer.pages[0x22]![..<8]))

        // Virtual translation: the same physical address and page as kdmp-parser.
        let virtual = try dump.virtualMemory(memory)
        let translations = try #require(theirs["translations"] as? [String: [String: Any]])
        for address in DumpWriter.probeAddresses {
            let theirEntry = try #require(translations[Self.hex(address)])
            let ours = virtual.translate(address)
            #expect(ours.map(Self.hex) == theirEntry["pa"] as? String, "translate \(Self.hex(address))")
            let pageAddress = address & ~0xFFF
            let ourPage = ours.flatMap { _ in virtual.read(pageAddress, count: 4096) }
            #expect(ourPage.map(Self.hex) == theirEntry["page"] as? String, "page at \(Self.hex(address))")
        }
        // And what the page tables say, independently of the oracle.
        #expect(virtual.translate(0xFFFF_8000_0000_1234) == 0x21234)
        #expect(virtual.translate(0xFFFF_8000_0020_1ABC) == 0x201ABC)
        #expect(virtual.translate(0xFFFF_8000_4000_5008) == 0x4000_5008)
        #expect(virtual.translate(0xFFFF_8000_0000_3000) == nil)
        #expect(virtual.read(0xFFFF_8000_0000_6000, count: 1) == nil)
        #expect(
            virtual.read(0xFFFF_8000_0000_0FFC, count: 8) == Array(writer.pages[0x20]![0xFFC...])
                + Array(writer.pages[0x21]![..<4]))
    }

    @Test func bitmapAndRDMPHeaders() throws {
        let writer = DumpWriter.scenario()
        let bitmapDump = try KernelDumpFile(bytes: MappedFile(bytes: writer.build(.bitmap)).bytes)
        let bitmap = try bitmapDump.bitmapHeader()
        #expect(bitmap.signature == BitmapDumpHeader.summarySignature)
        #expect(bitmap.presentPages == UInt64(writer.pages.count))
        #expect(bitmap.bitmapBits == 0x40008)
        let rdmpDump = try KernelDumpFile(bytes: MappedFile(bytes: writer.build(.kernelMemory)).bytes)
        let rdmp = try rdmpDump.rdmpHeader()
        #expect(rdmp.marker == 0x40)
        #expect(rdmp.ranges.count == writer.runs.count)
        #expect(rdmp.ranges.first == PhysicalMemoryRun(basePage: 0x10, pageCount: 4))
        let full = try KernelDumpFile(bytes: MappedFile(bytes: writer.build(.full)).bytes)
        let descriptor = try #require(try full.header.physicalMemoryDescriptor())
        #expect(descriptor.numberOfRuns == 5)
        #expect(descriptor.numberOfPages == 11)
        #expect(descriptor.runs.map(\.basePage) == [0x10, 0x20, 0x40, 0x200, 0x40005])
    }
}

struct OracleFailure: Error, CustomStringConvertible {
    var description: String
}

@Suite(.ownThread) struct BugCheckCodeTests {
    @Test(arguments: [
        (UInt32(0xE2), "MANUALLY_INITIATED_CRASH"), (0xDEAD_DEAD, "MANUALLY_INITIATED_CRASH1"),
        (0x0A, "IRQL_NOT_LESS_OR_EQUAL"), (0x1E, "KMODE_EXCEPTION_NOT_HANDLED"), (0x3B, "SYSTEM_SERVICE_EXCEPTION"),
        (0x50, "PAGE_FAULT_IN_NONPAGED_AREA"), (0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"),
        (0x9F, "DRIVER_POWER_STATE_FAILURE"), (0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"), (0x133, "DPC_WATCHDOG_VIOLATION"),
        (0x139, "KERNEL_SECURITY_CHECK_FAILURE"), (0xEF, "CRITICAL_PROCESS_DIED"), (0x1A, "MEMORY_MANAGEMENT"),
        (0x124, "WHEA_UNCORRECTABLE_ERROR"), (0xC2, "BAD_POOL_CALLER"), (0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION"),
        (0xF4, "CRITICAL_OBJECT_TERMINATION"), (0x101, "CLOCK_WATCHDOG_TIMEOUT"), (0x116, "VIDEO_TDR_FAILURE"),
        (0x7F, "UNEXPECTED_KERNEL_MODE_TRAP"),
    ])
    func named(code: UInt32, name: String) {
        let bugCheck = BugCheckCode(rawValue: code)
        #expect(bugCheck.name == name)
        #expect(bugCheck.parameterMeanings?.count == 4)
        #expect(bugCheck.description.hasPrefix(name))
    }

    @Test func unknownSurvives() {
        let code = BugCheckCode(rawValue: 0x1234_5678)
        #expect(code.name == nil)
        #expect(code.parameterMeanings == nil)
        #expect(code.description == "0x12345678")
        #expect(BugCheckCode.known.count >= 40)
    }
}
