import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Compares the Windows streams with the `minidump` Python package (an independent reader).
///
/// The package rejects stream types it does not know (Wine's private 0xFFF0, Breakpad's and
/// Crashpad's), so the snippet hides those directory entries in a temporary copy first.
@Suite("Streams against the minidump Python package", .ownThread)
struct StreamOracleTests {
    static let script = #"""
        import sys, json, struct, tempfile, os, logging
        logging.disable(logging.CRITICAL)
        from minidump.minidumpfile import MinidumpFile
        from minidump.constants import MINIDUMP_STREAM_TYPE
        known = {t.value for t in MINIDUMP_STREAM_TYPE}
        data = bytearray(open(sys.argv[1], 'rb').read())
        count, rva = struct.unpack_from('<II', data, 8)
        hidden = []
        for i in range(count):
            t, = struct.unpack_from('<I', data, rva + 12 * i)
            if t not in known:
                struct.pack_into('<I', data, rva + 12 * i, 0)
                hidden.append(t)
        with tempfile.NamedTemporaryFile(suffix='.dmp', delete=False) as f:
            f.write(data)
            path = f.name
        try:
            m = MinidumpFile.parse(path)
        finally:
            os.unlink(path)
        def num(v):
            if v is None: return 0
            return int(getattr(v, 'value', v))
        out = {'hidden': hidden}
        if m.misc_info is not None:
            out['misc'] = {k: num(v) for k, v in vars(m.misc_info).items()}
        if m.handles is not None:
            out['handles'] = [[h.Handle, h.TypeName or '', h.ObjectName or '', h.Attributes, h.GrantedAccess,
                               h.HandleCount, h.PointerCount,
                               ' '.join('%d:%d:%s' % (num(o.InfoType), o.SizeOfInfo, o.info_bytes.hex())
                                        for o in h.ObjectInfos)] for h in m.handles.handles]
        if m.memory_info is not None:
            # The package leaves State/Protect/Type as None when the value is not one of its enum
            # members (PAGE_READWRITE|PAGE_GUARD, say): those stay null.
            def raw(v):
                return None if v is None else int(v.value)
            out['memoryInfo'] = [[i.BaseAddress, i.AllocationBase, num(i.AllocationProtect), i.RegionSize,
                                  raw(i.State), raw(i.Protect), raw(i.Type)] for i in m.memory_info.infos]
        if m.thread_info is not None:
            out['threadInfo'] = [[t.ThreadId, num(t.DumpFlags), t.DumpError, t.ExitStatus, t.CreateTime, t.ExitTime,
                                  t.KernelTime, t.UserTime, t.StartAddress, t.Affinity] for t in m.thread_info.infos]
        print(json.dumps(out))
        """#

    struct OracleOutput: Decodable {
        var hidden: [UInt32]
        var misc: [String: UInt64]?
        var handles: [[HandleField]]?
        var memoryInfo: [[UInt64?]]?
        var threadInfo: [[UInt64]]?
    }

    enum HandleField: Decodable, Equatable {
        case number(UInt64)
        case text(String)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(UInt64.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }
    }

    static func oracle(_ path: String) throws -> OracleOutput {
        let result = try runProcess(TestEnvironment.python, ["-c", script, path])
        try #require(result.status == 0, "oracle failed on \(path): \(result.stderrText)")
        return try JSONDecoder().decode(OracleOutput.self, from: result.stdout)
    }

    /// Every MDMP fixture with at least one of the streams the oracle reads.
    static let dumps = [
        "rust-minidump/testdata/test.dmp",
        "rust-minidump/testdata/invalid-parameter.dmp",
        "rust-minidump/testdata/simple-crashpad.dmp",
        "rust-minidump/testdata/pipeline-inlines-macos-segv.dmp",
        "breakpad/src/processor/testdata/thread_name_list.dmp",
        "breakpad/src/processor/testdata/minidump_crashpad_annotation.dmp",
        "breakpad/src/processor/testdata/null_read_av.dmp",
        "breakpad/src/processor/testdata/linux_inline.dmp",
        "lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp",
        "lldb/unittests/Process/minidump/Inputs/regions-memlist64.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp",
        "symbolic/py/tests/res/minidump/crash_macos.dmp",
        "generated/dumps/x64-null-aedebug.dmp",
        "generated/dumps/x64-null-aedebug-cv.dmp",
        "generated/dumps/x64-dll-inproc-cv.dmp",
    ]

    @Test(arguments: dumps)
    func matchesOracle(relativePath: String) throws {
        let dump = try openSharedDump(relativePath)
        let expected = try Self.oracle(TestEnvironment.shared(relativePath))

        // Misc info: the oracle reads the version-1 and version-2 fields.
        let misc = try dump.stream(MiscInfo.self)
        #expect((misc == nil) == (expected.misc == nil))
        if let misc, let oracle = expected.misc {
            #expect(UInt64(misc.processId) == oracle["ProcessId"])
            #expect(UInt64(misc.processCreateTime) == oracle["ProcessCreateTime"])
            #expect(UInt64(misc.processUserTime) == oracle["ProcessUserTime"])
            #expect(UInt64(misc.processKernelTime) == oracle["ProcessKernelTime"])
            if misc.version >= 2 {
                #expect(misc.processorMaxMhz.map(UInt64.init) == oracle["ProcessorMaxMhz"])
                #expect(misc.processorCurrentMhz.map(UInt64.init) == oracle["ProcessorCurrentMhz"])
                #expect(misc.processorMhzLimit.map(UInt64.init) == oracle["ProcessorMhzLimit"])
                #expect(misc.processorMaxIdleState.map(UInt64.init) == oracle["ProcessorMaxIdleState"])
                #expect(misc.processorCurrentIdleState.map(UInt64.init) == oracle["ProcessorCurrentIdleState"])
            }
        }

        let handles = try dump.stream(HandleDataStream.self)
        #expect((handles == nil) == (expected.handles == nil))
        if let handles, let oracle = expected.handles {
            let ours: [[HandleField]] = handles.handles.map { handle in
                [
                    .number(handle.handle), .text(handle.typeName ?? ""), .text(handle.objectName ?? ""),
                    .number(UInt64(handle.attributes)), .number(UInt64(handle.grantedAccess)),
                    .number(UInt64(handle.handleCount)), .number(UInt64(handle.pointerCount)),
                    .text(
                        handle.objectInformation.map { link in
                            "\(link.infoType.rawValue):\(link.sizeOfInfo):"
                                + link.info.map { hex($0, width: 2).lowercased() }.joined()
                        }.joined(separator: " ")),
                ]
            }
            #expect(ours == oracle)
        }

        let memory = try dump.stream(MemoryInfoList.self)
        #expect((memory == nil) == (expected.memoryInfo == nil))
        if let memory, let oracle = expected.memoryInfo {
            let ours: [[UInt64]] = memory.regions.map { region in
                [
                    region.baseAddress, region.allocationBase, UInt64(region.allocationProtect.rawValue), region.regionSize,
                    UInt64(region.state.rawValue), UInt64(region.protect.rawValue), UInt64(region.type.rawValue),
                ]
            }
            #expect(ours.count == oracle.count)
            for (index, (mine, theirs)) in zip(ours, oracle).enumerated() {
                for (field, (value, expected)) in zip(mine, theirs).enumerated() {
                    if let expected {
                        #expect(value == expected, "MINIDUMP_MEMORY_INFO[\(index)] field \(field)")
                    } else {
                        // The oracle could not name the value: only a combined protection (access +
                        // PAGE_GUARD/NOCACHE/WRITECOMBINE) or the type 0 of free regions is expected here.
                        #expect(
                            (field == 5 && value & 0x700 != 0) || (field == 6 && value == 0),
                            "MINIDUMP_MEMORY_INFO[\(index)] field \(field): \(value)")
                    }
                }
            }
        }

        let threads = try dump.stream(ThreadInfoList.self)
        #expect((threads == nil) == (expected.threadInfo == nil))
        if let threads, let oracle = expected.threadInfo {
            let ours: [[UInt64]] = threads.threads.map { info in
                [
                    UInt64(info.threadId), UInt64(info.dumpFlags.rawValue), UInt64(info.dumpError), UInt64(info.exitStatus),
                    info.createTime, info.exitTime, info.kernelTime, info.userTime, info.startAddress, info.affinity,
                ]
            }
            #expect(ours == oracle)
        }
    }

    /// The oracle must have compared something of each kind, or the suite proves nothing.
    @Test func oracleCoversEveryStreamKind() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let outputs = try Self.dumps.map { try Self.oracle(TestEnvironment.shared($0)) }
        #expect(outputs.contains { $0.handles?.isEmpty == false })
        #expect(outputs.contains { $0.memoryInfo?.isEmpty == false })
        #expect(outputs.contains { $0.threadInfo?.isEmpty == false })
        #expect(outputs.contains { $0.misc != nil })
        // Wine's private stream is hidden from the oracle, not from us.
        #expect(outputs.contains { $0.hidden.contains(0xFFF0) })
    }
}
