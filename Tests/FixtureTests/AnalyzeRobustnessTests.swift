import Analysis
import BinaryReading
import Foundation
import FuzzTargets
import Minidump
import TestSupport
import Testing

/// `analyze` over every fixture minidump and over corrupted stacks: bounded walks with warnings, never a trap or hang.
@Suite("Analysis of every fixture dump", .ownThread)
struct AnalyzeRobustnessTests {
    @Test("every intact fixture minidump analyzes: each thread with a context walks at least its context frame")
    func everyFixture() async throws {
        try #require(!MinidumpFixtures.intact.isEmpty, "../shared/fixtures is absent: no dumps to analyze")
        var walked = 0
        for path in MinidumpFixtures.intact {
            let crash = try await CrashAnalyzer.analyze(path: path, options: AnalysisOptions())
            for thread in crash.threads where thread.warnings?.contains(where: { $0.hasPrefix("the thread that wrote") }) != true
            {
                if thread.frames.isEmpty {
                    // Only threads whose context is unreadable may have no frames, and they say why.
                    #expect(thread.warnings?.isEmpty == false, "\(MinidumpFixtures.name(path)) thread \(thread.threadId)")
                } else {
                    #expect(thread.frames[0].trust == "context")
                    walked += 1
                }
                #expect(thread.frames.count <= 1024)
            }
            if let crashing = crash.crashInfo.crashingThread { #expect(crashing < crash.threads.count) }
        }
        #expect(walked > 50, "only \(walked) threads walked")
    }

    @Test("stacks overwritten with garbage, cycles and addresses of code: walks stay bounded", .timeLimit(.minutes(10)))
    func corruptedStacks() async throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: no dumps to corrupt")
        var generator = SplitMix64(state: 0x5EED)
        for path in MinidumpFixtures.intact.prefix(40) {
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            guard let dump = try? MinidumpFile(bytes: MappedFile(bytes: original).bytes),
                let threads = try? dump.stream(ThreadList.self)?.threads
            else { continue }
            let codeAddresses = ((try? dump.stream(ModuleList.self))?.modules ?? []).map { $0.baseOfImage + 0x1000 }
            for thread in threads.prefix(4) {
                let start = Int(thread.stack.memory.rva)
                let size = Int(thread.stack.memory.dataSize)
                guard size >= 16, start + size <= original.count else { continue }
                var bytes = original
                for slot in stride(from: start, to: start + size - 8, by: 8) {
                    // A mix of random words, pointers back into the stack itself (cycles) and module addresses.
                    let choice = generator.next() % 3
                    let value: UInt64 =
                        switch choice {
                        case 0: generator.next()
                        case 1: thread.stack.startOfMemoryRange &+ generator.next() % UInt64(size)
                        default: codeAddresses.isEmpty ? 0 : codeAddresses[Int(generator.next() % UInt64(codeAddresses.count))]
                        }
                    for byte in 0..<8 { bytes[slot + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte))) }
                }
                fuzzAnalyze(MappedFile(bytes: bytes, name: MinidumpFixtures.name(path)).bytes)
                let dump = try MinidumpFile(bytes: MappedFile(bytes: bytes).bytes)
                let crash = await CrashAnalyzer.analyze(minidump: dump, path: path, options: AnalysisOptions())
                for walkedThread in crash.threads {
                    #expect(walkedThread.frames.count <= 1024)
                    // Every accepted caller sits at or above its callee on the stack.
                    let pointers = walkedThread.frames.compactMap { frame in
                        (frame.registers?["esp"] ?? frame.registers?["rsp"] ?? frame.registers?["sp"])
                            .flatMap { UInt64($0.dropFirst(2), radix: 16) }
                    }
                    #expect(zip(pointers, pointers.dropFirst()).allSatisfy { $0 <= $1 }, "\(MinidumpFixtures.name(path))")
                }
            }
        }
    }
}
