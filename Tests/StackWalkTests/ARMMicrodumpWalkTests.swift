import Analysis
import BinaryReading
import BreakpadSymbols
import Foundation
import Minidump
import StackWalk
import TestSupport
import Testing

/// One frame of a minidump_stackwalk golden output: the registers it prints and how it was found.
struct MicrodumpGoldenFrame {
    var registers: [String: UInt64]
    var foundBy: String
}

/// Reads the frames of the crashed thread from minidump_stackwalk's human-readable output.
func microdumpGoldenFrames(_ text: String) -> [MicrodumpGoldenFrame] {
    var frames = [MicrodumpGoldenFrame]()
    var inThread = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("Thread ") {
            inThread = true
            continue
        }
        if line.hasPrefix("Loaded modules") { break }
        guard inThread else { continue }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if let first = trimmed.first, first.isNumber, line.hasPrefix(" "), !trimmed.contains(" = ") {
            frames.append(MicrodumpGoldenFrame(registers: [:], foundBy: ""))
        } else if trimmed.hasPrefix("Found by: ") {
            frames[frames.count - 1].foundBy = String(trimmed.dropFirst("Found by: ".count))
        } else if trimmed.contains(" = 0x"), !frames.isEmpty {
            let tokens = trimmed.split(separator: " ")
            var index = 0
            while index + 2 < tokens.count {
                if tokens[index + 1] == "=", let value = UInt64(tokens[index + 2].dropFirst(2), radix: 16) {
                    frames[frames.count - 1].registers[String(tokens[index])] = value
                }
                index += 3
            }
        }
    }
    return frames
}

/// A microdump with its walk inputs: modules with the symbols of Breakpad's testdata tree.
struct MicrodumpWalk {
    let dump: Microdump
    let modules: ModuleSet
    let architecture: StackArchitecture

    init(_ name: String, withSymbols: Bool) throws {
        let testdata = TestEnvironment.shared("breakpad/src/processor/testdata") + "/"
        dump = try Microdump(parsing: MappedFile(path: testdata + name).bytes)
        var walkModules = [WalkModule]()
        for module in dump.modules {
            let path = testdata + "symbols/microdump/\(module.name)/\(module.debugIdentifier)/\(module.name).sym"
            let rules = withSymbols && FileManager.default.fileExists(atPath: path) ? try SymbolFile(path: path) : nil
            walkModules.append(WalkModule(base: module.base, size: module.size, name: module.name, rules: rules))
        }
        modules = ModuleSet(walkModules)
        architecture = dump.systemInfo?.cpu == "arm" ? .arm : .arm64
    }

    func walk() throws -> WalkedStack {
        let context = try #require(dump.threadContext)
        return StackWalker(architecture: architecture, modules: modules, memory: CapturedMemory(dump.memory))
            .walk(context: RegisterSet(context: context))
    }
}

@Suite("arm and arm64 walks of Breakpad's Android microdumps", .ownThread)
struct ARMMicrodumpWalkTests {
    /// Every frame, register and trust of minidump_stackwalk's golden output (microdump.stackwalk-*.out).
    @Test(arguments: [
        ("microdump-arm64.dmp", "microdump.stackwalk-arm64.out"), ("microdump-arm.dmp", "microdump.stackwalk-arm.out"),
    ])
    func matchesBreakpadGolden(dumpName: String, goldenName: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the microdump walks cannot run")
        let walk = try MicrodumpWalk(dumpName, withSymbols: true)
        let stack = try walk.walk()
        let golden = microdumpGoldenFrames(
            try String(contentsOfFile: TestEnvironment.shared("breakpad/src/processor/testdata/" + goldenName), encoding: .utf8))
        #expect(stack.frames.count == golden.count)
        for (index, (frame, expected)) in zip(stack.frames, golden).enumerated() {
            #expect(frame.trust.description == expected.foundBy, "frame \(index)")
            for (name, value) in expected.registers {
                #expect(frame.registers[name] == value, "frame \(index) register \(name)")
            }
        }
    }

    /// microdump_processor_unittest: with symbols 9 (arm64) / 8 (arm) frames ending in `main` then libc.
    @Test func symbolizedFunctionNames() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the microdump walks cannot run")
        for (name, expected) in [
            ("microdump-arm64.dmp", [0: "MicrodumpWriterTest_Setup_Test::TestBody", 2: "testing::Test::Run", 7: "main"]),
            ("microdump-arm.dmp", [0: "MicrodumpWriterTest_Setup_Test::TestBody", 1: "testing::Test::Run", 6: "main"]),
        ] {
            let walk = try MicrodumpWalk(name, withSymbols: true)
            let stack = try walk.walk()
            for (index, function) in expected {
                let frame = stack.frames[index]
                let module = try #require(walk.modules.module(containing: frame.lookupAddress))
                let symbols = try #require(module.rules as? SymbolFile)
                #expect(symbols.function(at: frame.lookupAddress - module.base)?.name == function, "\(name) frame \(index)")
            }
        }
    }

    /// Without symbols Breakpad finds 11 frames in the arm64 microdump by scanning; the count depends on
    /// the scanning heuristics, so only the first frames and a bounded walk are checked.
    @Test func arm64WithoutSymbols() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the microdump walks cannot run")
        let walk = try MicrodumpWalk("microdump-arm64.dmp", withSymbols: false)
        let stack = try walk.walk()
        #expect(stack.frames.count >= 2)
        #expect(stack.frames.count < 64)
        #expect(stack.frames[0].pc == 0x55_5f63_6f6c)
        print("arm64 microdump without symbols: \(stack.frames.count) frames", stack.frames.map { ($0.pc, $0.trust.rawValue) })
    }
}
