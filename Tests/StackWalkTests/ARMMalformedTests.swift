import TestSupport
import Testing

@testable import StackWalk

/// An image made of a byte array addressed by RVA.
private struct FlatImage: ModuleImage {
    var bytes: [UInt8]

    func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, rva <= UInt64(bytes.count), UInt64(bytes.count) - rva >= UInt64(count) else { return nil }
        return Array(bytes[Int(rva)..<(Int(rva) + count)])
    }
}

/// Writes a minimal ARM64 PE32+ header whose exception directory is at 0x200 with `entries` entries,
/// then `body` from 0x200.
private func arm64Image(directorySize: UInt32, body: [UInt8]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 0x200)
    func put32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }
    bytes[0] = 0x4D
    bytes[1] = 0x5A
    put32(0x40, at: 0x3C)
    put32(0x4550, at: 0x40)
    bytes[0x44] = 0x64  // Machine 0xAA64
    bytes[0x45] = 0xAA
    bytes[0x58] = 0x0B  // optional header magic 0x20B at 0x40 + 24
    bytes[0x59] = 0x02
    put32(16, at: 0x58 + 108)
    put32(0x200, at: 0x58 + 112 + 24)
    put32(directorySize, at: 0x58 + 112 + 28)
    return bytes + body
}

@Suite("arm and arm64 walks over damaged input", .ownThread)
struct ARMMalformedTests {
    static let base: UInt64 = 0x1_4000_0000

    func walker(image: [UInt8], memory: any StackMemory) -> StackWalker {
        StackWalker(
            architecture: .arm64,
            modules: ModuleSet([WalkModule(base: Self.base, size: 0x10_0000, name: "bad.exe", image: FlatImage(bytes: image))]),
            memory: memory, limits: WalkLimits(maximumFrames: 64))
    }

    /// Frame records that point at themselves or at each other end the walk with a warning.
    @Test func cyclicFrameRecordsAreBounded() {
        let returnAddress = Self.base + 0x1000
        for words in [
            [0x8000: 0x8000, 0x8008: returnAddress],  // a record naming itself
            [0x8000: 0x8010, 0x8008: returnAddress, 0x8010: 0x8000, 0x8018: returnAddress + 4],  // two records in a loop
        ] as [[UInt64: UInt64]] {
            var context = RegisterSet(architecture: .arm64)
            context.pc = Self.base + 0x2000
            context.sp = 0x7F00
            context.fp = 0x8000
            context[30] = 0
            let stack = walker(image: [], memory: WordMemory(words: words, wordSize: 8)).walk(context: context)
            #expect(stack.frames.count < 8)
            #expect(!stack.warnings.isEmpty || stack.frames.count <= 3)
        }
        // The same on 32-bit arm.
        var context = RegisterSet(architecture: .arm)
        context.pc = 0x1_2000
        context.sp = 0x7F00
        context[11] = 0x8000
        let memory = WordMemory(words: [0x8000: 0x8000, 0x8004: 0x1_1000], wordSize: 4)
        let modules = ModuleSet([WalkModule(base: 0x1_0000, size: 0x1_0000, name: "a.so")])
        let stack = StackWalker(architecture: .arm, modules: modules, memory: memory).walk(context: context)
        #expect(stack.frames.count < 8)
    }

    /// Unwind data with reserved codes, huge counts, tables running off the image and garbage records
    /// never traps: the unwinder gives up and the walk falls back.
    @Test(arguments: 0..<64)
    func garbageUnwindDataIsHarmless(seed: Int) {
        var generator = SplitMix(state: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        var body = (0..<0x400).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        // Keep the first entry's begin address low so that lookups find it.
        body[0] = 0
        body[1] = 0x10
        body[2] = 0
        body[3] = 0
        let directorySize = seed % 4 == 0 ? 0xFFFF_FFF8 : UInt32(8 * (seed % 16 + 1))
        let image = arm64Image(directorySize: directorySize, body: body)
        var memory = WordMemory(words: [:], wordSize: 8)
        for slot in 0..<64 { memory.words[0x7000 + UInt64(slot) * 8] = generator.next() }
        var context = RegisterSet(architecture: .arm64)
        context.pc = Self.base + 0x1000 + UInt64(seed % 32) * 4
        context.sp = 0x7000
        context.fp = 0x7000 + UInt64(seed % 8) * 16
        context[30] = generator.next()
        let walked = walker(image: image, memory: memory)
        _ = walked.windowsARM64Caller(of: StackFrame(registers: context, trust: .context))
        let stack = walked.walk(context: context)
        #expect(stack.frames.count <= 64)
    }
}

/// A small deterministic generator for the garbage tests.
private struct SplitMix {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
