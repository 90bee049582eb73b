import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// The `key = value` lines of the first section headed `header` in a golden text dump
/// (Breakpad's minidump_dump output or rust-minidump's `--dump` snapshot).
func goldenSection(_ path: String, header: String) throws -> [String: String] {
    let text = try String(contentsOfFile: TestEnvironment.shared(path), encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let start = try #require(lines.firstIndex { $0 == header }, "no section \(header) in \(path)")
    var values = [String: String]()
    for line in lines[(start + 1)...] {
        guard line.hasPrefix("  "), let cut = line.firstIndex(of: "=") else { break }
        let key = line[..<cut].trimmingCharacters(in: .whitespaces)
        // Keep the first word of the value ("0x45d35f73 2007-02-14T19:13:55Z" -> "0x45d35f73").
        let value = line[line.index(after: cut)...].trimmingCharacters(in: .whitespaces)
        values[key] = value.hasPrefix("(") ? value : String(value.split(separator: " ").first ?? "")
    }
    return values
}

/// A golden number, decimal or `0x` hex.
func goldenNumber(_ text: String?) -> UInt64? {
    guard let text else { return nil }
    if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) }
    return UInt64(text)
}

@Suite("Streams against golden text dumps", .ownThread)
struct StreamGoldenTests {
    /// (dump, golden file, misc info header, Breakpad info header)
    static let goldens = [
        (
            "rust-minidump/testdata/test.dmp",
            "rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__dump.snap",
            "MINIDUMP_MISC_INFO", "MINIDUMP_BREAKPAD_INFO"
        ),
        (
            "rust-minidump/testdata/test.dmp",
            "rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__dump-brief.snap",
            "MINIDUMP_MISC_INFO", "MINIDUMP_BREAKPAD_INFO"
        ),
        (
            "breakpad/src/processor/testdata/minidump2.dmp", "breakpad/src/processor/testdata/minidump2.dump.out",
            "MDRawMiscInfo", "MDRawBreakpadInfo"
        ),
    ]

    @Test(arguments: goldens)
    func miscAndBreakpadInfo(dumpPath: String, goldenPath: String, miscHeader: String, breakpadHeader: String) throws {
        let dump = try openSharedDump(dumpPath)
        let golden = try goldenSection(goldenPath, header: miscHeader)
        let misc = try #require(try dump.stream(MiscInfo.self))
        #expect(UInt64(misc.sizeOfInfo) == goldenNumber(golden["size_of_info"]))
        #expect(UInt64(misc.flags1.rawValue) == goldenNumber(golden["flags1"]))
        #expect(UInt64(misc.processId) == goldenNumber(golden["process_id"]))
        #expect(UInt64(misc.processCreateTime) == goldenNumber(golden["process_create_time"]))
        #expect(UInt64(misc.processUserTime) == goldenNumber(golden["process_user_time"]))
        #expect(UInt64(misc.processKernelTime) == goldenNumber(golden["process_kernel_time"]))
        // Fields of later versions: rust-minidump prints "(invalid)"; Breakpad leaves them out.
        for key in ["processor_max_mhz", "time_zone", "build_string", "process_cookie"] {
            #expect(golden[key] == nil || golden[key] == "(invalid)")
        }
        #expect(misc.processorMaxMhz == nil && misc.timeZone == nil && misc.buildString == nil && misc.processCookie == nil)

        let breakpadGolden = try goldenSection(goldenPath, header: breakpadHeader)
        let breakpad = try #require(try dump.stream(BreakpadInfo.self))
        #expect(UInt64(breakpad.validity.rawValue) == goldenNumber(breakpadGolden["validity"]))
        #expect(UInt64(breakpad.dumpThreadId) == goldenNumber(breakpadGolden["dump_thread_id"]))
        #expect(UInt64(breakpad.requestingThreadId) == goldenNumber(breakpadGolden["requesting_thread_id"]))
        #expect(breakpadGolden.count == 3)
    }

    /// rust-minidump's JSON for pipeline-inlines-macos-segv.dmp names each thread from the
    /// thread names stream; ours gives the same name for every thread id.
    @Test func threadNamesOfMacOSInlinesDump() throws {
        let dump = try openSharedDump("rust-minidump/testdata/pipeline-inlines-macos-segv.dmp")
        let snapshot = try String(
            contentsOfFile: TestEnvironment.shared(
                "rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__macos_inlines_json_pretty.snap"),
            encoding: .utf8)
        // An insta snapshot: a `---` header block, then the JSON.
        let json = try #require(snapshot.range(of: "\n---\n").map { String(snapshot[$0.upperBound...]) })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let threads = try #require(object["threads"] as? [[String: Any]])
        #expect(threads.count == 11)
        let names = try #require(try dump.stream(ThreadNameList.self))
        #expect(names.names.count == threads.count)
        for thread in threads {
            let id = try #require(thread["thread_id"] as? Int)
            let expected = try #require(thread["thread_name"] as? String)
            #expect(names.name(of: UInt32(id)) == expected, "thread \(id)")
        }
        #expect(names.name(of: 4611) == "main")
    }

    /// rust-minidump's JSON for linux-mini.dmp: maps count, LSB release and pid come from the
    /// Breakpad Linux streams.
    @Test func linuxMiniJSON() throws {
        let dump = try openSharedDump("rust-minidump/testdata/linux-mini.dmp")
        let object = try Self.snapshotJSON("test_minidump_stackwalk__linux_json_pretty.snap")
        let maps = try #require(try dump.stream(LinuxMaps.self))
        #expect(maps.mappings.count == object["linux_memory_map_count"] as? Int)
        let lsb = try #require(object["lsb_release"] as? [String: String])
        let release = try #require(try dump.stream(LinuxLsbRelease.self))
        #expect(release.entries[key: "DISTRIB_ID"] == lsb["id"])
        #expect(release.entries[key: "DISTRIB_RELEASE"] == lsb["release"])
        #expect(release.entries[key: "DISTRIB_CODENAME"] == lsb["codename"])
        #expect(release.entries[key: "DISTRIB_DESCRIPTION"] == lsb["description"])
        #expect(try dump.stream(LinuxProcStatus.self)?.pid.map(Int.init) == object["pid"] as? Int)
        // The human snapshot says "4 CPUs"; /proc/cpuinfo has one block per CPU.
        #expect(try dump.stream(LinuxCpuInfo.self)?.processors.count == 4)
    }

    /// The JSON of an insta snapshot (a `---` header block, then the document).
    static func snapshotJSON(_ name: String) throws -> [String: Any] {
        let snapshot = try String(
            contentsOfFile: TestEnvironment.shared("rust-minidump/minidump-stackwalk/tests/snapshots/" + name), encoding: .utf8)
        let json = try #require(snapshot.range(of: "\n---\n").map { String(snapshot[$0.upperBound...]) })
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
}
