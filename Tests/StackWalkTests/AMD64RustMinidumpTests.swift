import Foundation
import StackWalk
import TestSupport
import Testing

/// rust-minidump's minidump-stackwalk as the oracle for the non-Windows amd64 heuristics: its golden
/// human-readable outputs list, for every physical frame, the registers it recovered and how the
/// frame was found. Ours must agree frame for frame, register for register.
@Suite(.ownThread) struct AMD64RustMinidumpTests {
    static let snapshots = "rust-minidump/minidump-stackwalk/tests/snapshots"

    /// linux-mini.dmp without symbols: stack scanning only (rbp carried where the heuristic allows).
    @Test func linuxMiniMatchesTheSnapshot() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the snapshot comparison cannot run")
        try compare(
            dump: "rust-minidump/testdata/linux-mini.dmp", snapshot: "test_minidump_stackwalk__linux_human.snap",
            symbolFiles: [:],
            expectedThreads: 1)
    }

    /// The macOS Crashpad dump with crash-client's .sym: CFI, the frame pointer and scanning, across 11 threads.
    @Test func macOSInlinesMatchesTheSnapshot() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the snapshot comparison cannot run")
        let symbols = TestEnvironment.shared(
            "rust-minidump/testdata/symbols/crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym")
        try compare(
            dump: "rust-minidump/testdata/pipeline-inlines-macos-segv.dmp",
            snapshot: "test_minidump_stackwalk__macos_inlines_human.snap", symbolFiles: ["crash-client": symbols],
            expectedThreads: 11)
    }

    func compare(dump: String, snapshot: String, symbolFiles: [String: String], expectedThreads: Int) throws {
        let text = try String(contentsOfFile: TestEnvironment.shared("\(Self.snapshots)/\(snapshot)"), encoding: .utf8)
        let threads = HumanSnapshot.parse(text)
        #expect(threads.count == expectedThreads)
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared(dump))
        let modules = try harness.moduleSet(symbolFiles: symbolFiles)
        var framesCompared = 0
        for thread in threads {
            let stack = try #require(try harness.walk(threadID: thread.id, modules: modules), "thread \(thread.id)")
            let ours = stack.frames.map { frame in
                HumanSnapshot.Frame(
                    foundBy: frame.trust.description,
                    registers: Dictionary(uniqueKeysWithValues: frame.registers.recovered.map { ($0.name, $0.value) }))
            }
            #expect(
                ours.count == thread.frames.count,
                "thread \(thread.id): \(ours.count) frames, snapshot has \(thread.frames.count)")
            for (index, (mine, theirs)) in zip(ours, thread.frames).enumerated() {
                #expect(mine == theirs, "thread \(thread.id) frame \(index)")
            }
            framesCompared += thread.frames.count
        }
        #expect(framesCompared > expectedThreads)
    }
}

/// The thread sections of minidump-stackwalk's `--human` output.
enum HumanSnapshot {
    struct Frame: Equatable, CustomStringConvertible {
        var foundBy: String
        var registers: [String: UInt64]

        var description: String {
            foundBy + " "
                + registers.sorted { $0.key < $1.key }.map { "\($0.key)=0x\(String($0.value, radix: 16))" }.joined(separator: " ")
        }
    }

    struct Thread {
        var id: UInt32
        var frames: [Frame]
    }

    /// Physical frames only: inlined frames print no registers and are found "by inlining".
    static func parse(_ text: String) -> [Thread] {
        var threads = [Thread]()
        var registers = [String: UInt64]()
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if line.hasPrefix("Loaded modules:") { break }
            if line.hasPrefix("Thread "), let range = line.range(of: "tid: ") {
                threads.append(Thread(id: UInt32(line[range.upperBound...].prefix { $0.isNumber }) ?? 0, frames: []))
                registers = [:]
                continue
            }
            guard !threads.isEmpty else { continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("Found by: ") {
                let foundBy = String(trimmed.dropFirst("Found by: ".count))
                if foundBy != "inlining" {
                    threads[threads.count - 1].frames.append(Frame(foundBy: foundBy, registers: registers))
                }
                registers = [:]
            } else if trimmed.contains(" = 0x") {
                // "rax = 0x... rdx = 0x..." pairs.
                let words = trimmed.split(separator: " ")
                var index = 0
                while index + 2 < words.count {
                    if words[index + 1] == "=", let value = UInt64(words[index + 2].dropFirst(2), radix: 16) {
                        registers[String(words[index])] = value
                    }
                    index += 3
                }
            }
        }
        return threads
    }
}
