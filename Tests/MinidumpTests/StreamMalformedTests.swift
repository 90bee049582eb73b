import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// One stream of one real dump, and how its decoder must treat a shortened copy.
struct StreamCase: CustomTestStringConvertible, Sendable {
    var path: String
    var type: UInt32
    /// A copy cut below this many bytes must throw; at or above it (and below the full size) it must decode.
    var strictSize: Int?
    var testDescription: String { "\(path.split(separator: "/").last!) 0x\(String(type, radix: 16))" }
}

/// Decodes `bytes` (by default the dump's own stream) as the stream of raw type `type`.
func decodeTestStream(_ type: UInt32, in dump: MinidumpFile, bytes: ByteView? = nil) throws(ParseError) -> (any MinidumpStream)? {
    func decode<S: MinidumpStream>(_ stream: S.Type) throws(ParseError) -> S? {
        if let bytes { return try S(parsing: bytes, in: dump) }
        return try dump.stream(stream)
    }
    switch type {
    case 10: return try decode(CommentA.self)
    case 11: return try decode(CommentW.self)
    case 12: return try decode(HandleDataStream.self)
    case 15: return try decode(MiscInfo.self)
    case 16: return try decode(MemoryInfoList.self)
    case 17: return try decode(ThreadInfoList.self)
    case 21: return try decode(SystemMemoryInfo.self)
    case 22: return try decode(ProcessVmCounters.self)
    case 24: return try decode(ThreadNameList.self)
    case 0x4767_0001: return try decode(BreakpadInfo.self)
    case 0x4767_0002: return try decode(AssertionInfo.self)
    case 0x4767_0003: return try decode(LinuxCpuInfo.self)
    case 0x4767_0004: return try decode(LinuxProcStatus.self)
    case 0x4767_0005: return try decode(LinuxLsbRelease.self)
    case 0x4767_0006: return try decode(LinuxCmdLine.self)
    case 0x4767_0007: return try decode(LinuxEnviron.self)
    case 0x4767_0008: return try decode(LinuxAuxv.self)
    case 0x4767_0009: return try decode(LinuxMaps.self)
    case 0x4767_000A: return try decode(LinuxDsoDebug.self)
    case 0x4350_0001: return try decode(CrashpadInfo.self)
    case 0x4D7A_0001: return try decode(MacCrashInfo.self)
    case 0x4D7A_0003: return try decode(LinuxLimits.self)
    case 0x4D7A_0005: return try decode(SoftErrors.self)
    default: return nil
    }
}

/// A shared fixture dump and the bytes of its first stream of `type`.
func loadStream(_ path: String, type: UInt32) throws -> (dump: MinidumpFile, stream: ByteView) {
    let dump = try openSharedDump(path)
    let entry = try #require(dump.entry(of: StreamType(rawValue: type)), "no stream 0x\(String(type, radix: 16)) in \(path)")
    return (dump, try dump.streamBytes(entry))
}

@Suite("Damaged streams", .ownThread)
struct StreamMalformedTests {
    static let cases: [StreamCase] = [
        StreamCase(path: "rust-minidump/testdata/test.dmp", type: 15, strictSize: 24),
        StreamCase(path: "rust-minidump/testdata/test.dmp", type: 0x4767_0001, strictSize: 12),
        StreamCase(path: "rust-minidump/testdata/invalid-parameter.dmp", type: 15, strictSize: 24),
        StreamCase(path: "rust-minidump/testdata/invalid-parameter.dmp", type: 21, strictSize: 492),
        StreamCase(path: "rust-minidump/testdata/invalid-parameter.dmp", type: 22, strictSize: 152),
        StreamCase(path: "rust-minidump/testdata/invalid-parameter.dmp", type: 0x4767_0002, strictSize: 776),
        StreamCase(path: "breakpad/src/processor/testdata/thread_name_list.dmp", type: 24, strictSize: 40),
        StreamCase(path: "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp", type: 12, strictSize: 1736),
        StreamCase(path: "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp", type: 16, strictSize: 4384),
        StreamCase(path: "lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp", type: 17, strictSize: 76),
        StreamCase(path: "rust-minidump/testdata/simple-crashpad.dmp", type: 0x4350_0001, strictSize: 52),
        StreamCase(path: "breakpad/src/processor/testdata/minidump_crashpad_annotation.dmp", type: 0x4350_0001, strictSize: 52),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_000A, strictSize: 40),
        // Word and text streams: any prefix decodes (whole words / lines; the rest becomes a warning).
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0008, strictSize: 0),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0009, strictSize: 0),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0003, strictSize: 0),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0004, strictSize: 0),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0005, strictSize: 0),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0006, strictSize: 0),
        StreamCase(path: "rust-minidump/testdata/linux-mini.dmp", type: 0x4767_0007, strictSize: 0),
    ]

    /// Every prefix of the stream throws below `strictSize` and decodes at or above it.
    @Test(arguments: cases)
    func truncated(streamCase: StreamCase) throws {
        let (dump, stream) = try loadStream(streamCase.path, type: streamCase.type)
        let strict = try #require(streamCase.strictSize)
        #expect(try decodeTestStream(streamCase.type, in: dump) != nil)
        var unexpected = [Int]()
        for length in 0..<stream.count {
            do {
                _ = try decodeTestStream(streamCase.type, in: dump, bytes: stream.prefix(length))
                if length < strict { unexpected.append(length) }
            } catch {
                if length >= strict { unexpected.append(length) }
            }
        }
        #expect(unexpected.isEmpty, "truncations to these lengths behaved unexpectedly: \(unexpected.prefix(10))")
    }

    /// Flipping the low or high bit of any byte of the stream never traps; the decoder returns or
    /// throws ParseError. (RVAs inside the flipped copy still resolve against the real file.)
    @Test(arguments: cases)
    func bitFlipped(streamCase: StreamCase) throws {
        let (dump, stream) = try loadStream(streamCase.path, type: streamCase.type)
        var bytes = stream.array
        var decoded = 0
        var rejected = 0
        // Every byte of the first 64 (headers and counts), then about 500 more spread over the rest.
        let stride = max(1, bytes.count / 500)
        let offsets = Array(0..<min(64, bytes.count)) + Array(Swift.stride(from: 64, to: bytes.count, by: stride))
        for offset in offsets {
            for bit in [0, 7] {
                bytes[offset] ^= UInt8(1 << bit)
                do {
                    _ = try decodeTestStream(streamCase.type, in: dump, bytes: MappedFile(bytes: bytes).bytes)
                    decoded += 1
                } catch {
                    rejected += 1
                }
                bytes[offset] ^= UInt8(1 << bit)
            }
        }
        #expect(decoded + rejected == 2 * offsets.count)
        // Streams with counts or versions must catch some flips; plain fixed records (misc info,
        // Breakpad and assertion info) accept any value, and Crashpad info turns damage below
        // its fixed part into warnings.
        let acceptsAnyBits: Set<UInt32> = [15, 0x4767_0001, 0x4767_0002, 0x4350_0001]
        if streamCase.strictSize == stream.count, !acceptsAnyBits.contains(streamCase.type) {
            #expect(rejected > 0)
        }
    }

    /// A count with its top bit set is rejected before anything is allocated.
    @Test(arguments: [
        ("breakpad/src/processor/testdata/thread_name_list.dmp", UInt32(24), 0, "MINIDUMP_THREAD_NAME_LIST.NumberOfEntries"),
        (
            "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp", UInt32(12), 8,
            "MINIDUMP_HANDLE_DATA_STREAM.NumberOfEntries"
        ),
        (
            "kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp", UInt32(16), 8,
            "MINIDUMP_MEMORY_INFO_LIST.NumberOfEntries"
        ),
        (
            "lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp", UInt32(17), 8,
            "MINIDUMP_THREAD_INFO_LIST.NumberOfEntries"
        ),
        ("rust-minidump/testdata/linux-mini.dmp", UInt32(0x4767_000A), 8, "MDRawDebug64.dso_count"),
    ])
    func hugeCount(path: String, type: UInt32, countOffset: Int, field: String) throws {
        let (dump, stream) = try loadStream(path, type: type)
        var bytes = stream.array
        bytes[countOffset + 3] |= 0x80
        let error = try #require(throws: ParseError.self) {
            try decodeTestStream(type, in: dump, bytes: MappedFile(bytes: bytes).bytes)
        }
        #expect(error.field == field)
    }

    /// rust-minidump's invalid-range.dmp: the maps text is garbage with inverted ranges. rust-minidump
    /// fails the stream; we keep it and list every bad line as a warning (no line is a valid mapping).
    @Test func invalidRangeMaps() throws {
        let dump = try openSharedDump("rust-minidump/testdata/invalid-range.dmp")
        let maps = try #require(try dump.stream(LinuxMaps.self))
        #expect(maps.mappings.isEmpty)
        #expect(!maps.warnings.isEmpty)
        #expect(maps.warnings.contains { $0.contains("invalid range \"e0-A\": end before start") })
        _ = decodeAllStreams(dump)
    }

    /// rust-minidump's invalid-record-count.dmp (a fuzzer case): every decoder returns or throws, none traps.
    @Test(arguments: ["rust-minidump/testdata/invalid-record-count.dmp", "rust-minidump/testdata/invalid-range.dmp"])
    func fuzzerCases(path: String) throws {
        let dump = try openSharedDump(path)
        let outcomes = decodeAllStreams(dump)
        #expect(outcomes.count == 23)
    }

    /// invalid-record-count.dmp's first Mac crash info entry points far past the end of the file.
    @Test func invalidRecordCount() throws {
        let dump = try openSharedDump("rust-minidump/testdata/invalid-record-count.dmp")
        #expect(throws: ParseError.self) { try dump.stream(MacCrashInfo.self) }
    }

    /// Every MDMP fixture: every decoder returns or throws.
    @Test func everyFixtureDecodes() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let files = TestEnvironment.sharedFiles(suffixes: [".dmp", ".dump"])
        var opened = 0
        for file in files {
            guard let dump = try? MinidumpFile(path: file) else { continue }
            opened += 1
            _ = decodeAllStreams(dump)
        }
        #expect(opened >= 50)
    }
}
