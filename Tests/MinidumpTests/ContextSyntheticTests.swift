import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Byte orders a dump can have.
let contextByteOrders: [Endianness] = [.little, .big]

@Suite("Thread context layouts (synthetic, both byte orders)", .ownThread)
struct ContextLayoutTests {
    @Test("x86 CONTEXT", arguments: contextByteOrders)
    func x86(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.x86(endianness), architecture: 0, endianness: endianness))
        guard case .x86(let x86) = context else {
            Issue.record("expected x86, got \(context.architecture)")
            return
        }
        #expect(context.instructionPointer == 0x40429e)
        #expect(context.stackPointer == 0x12fe84)
        #expect(context.framePointer == 0xEB9)
        #expect(
            context.registers.map(\.name) == ["eip", "esp", "ebp", "ebx", "esi", "edi", "eax", "ecx", "edx", "efl"])
        #expect(context.registers.map(\.value) == [0x40429e, 0x12fe84, 0xEB9, 0xEB8, 0xE51, 0xED1, 0xEA8, 0xEC8, 0xED8, 0x246])
        #expect(x86.extendedRegisters.xmmRegisters[0] == Vector128(low: 0x1111, high: 0x2222))
        #expect(context.validGroups == [.control, .integer, .segments, .floatingPoint, .debugRegisters, .extendedRegisters])
        #expect(x86.extendedState == nil && x86.extendedStateProblem == nil)
    }

    @Test("AMD64 CONTEXT", arguments: contextByteOrders)
    func amd64(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.amd64(endianness), architecture: 9, endianness: endianness))
        guard case .amd64(let amd64) = context else {
            Issue.record("expected amd64, got \(context.architecture)")
            return
        }
        // Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8..R15 hold 0x1000 + their index in file order.
        #expect(amd64.rax == 0x1000 && amd64.rcx == 0x1001 && amd64.rdx == 0x1002 && amd64.rbx == 0x1003)
        #expect(context.stackPointer == 0x1004)
        #expect(context.framePointer == 0x1005)
        #expect(amd64.r(8) == 0x1008 && amd64.r(15) == 0x100F)
        #expect(context.instructionPointer == 0x7ff6_6d9f_29e9)
        #expect(amd64.fltSave.xmmRegisters[0] == Vector128(low: 0xAAAA, high: 0xBBBB))
        #expect(amd64.lastExceptionFromRip == 0x4C8)
        #expect(
            context.registers.map(\.name)
                == ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp"] + (8...15).map { "r\($0)" } + ["rip"])
        #expect(context.validGroups == [.control, .integer, .floatingPoint])
    }

    @Test("AMD64 CONTEXT with CONTEXT_EX and the AVX upper halves", arguments: contextByteOrders)
    func amd64XState(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.amd64(endianness, avx: true), architecture: 9, endianness: endianness))
        guard case .amd64(let amd64) = context else {
            Issue.record("expected amd64")
            return
        }
        #expect(context.validGroups.contains(.xstate))
        let state = try #require(amd64.extendedState, "\(amd64.extendedStateProblem ?? "")")
        #expect(state.contextEx.legacy == ContextChunk(offset: -1232, length: 1232))
        #expect(state.contextEx.xState == ContextChunk(offset: 48, length: 320))
        #expect(state.header.mask == 7)
        let upper = try #require(state.ymmUpperHalves)
        #expect(upper.count == 16)
        #expect(upper[0] == Vector128(low: 0x5000, high: 0x6000))
        #expect(upper[15] == Vector128(low: 0x500F, high: 0x600F))
    }

    @Test("Breakpad MDRawContextARM", arguments: contextByteOrders)
    func armBreakpad(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.armBreakpad(endianness), architecture: 5, endianness: endianness))
        guard case .arm(let arm) = context else {
            Issue.record("expected arm")
            return
        }
        #expect(context.instructionPointer == 0xA0F)
        #expect(context.stackPointer == 0xA0D)
        #expect(context.framePointer == 0xA0B)
        #expect(arm.lr == 0xA0E && arm.cpsr == 0x6000_0010 && arm.fpscr == 0x0300_0000)
        #expect(arm.floatRegisters[31] == 0xD31 && arm.floatExtra[7] == 0xE7)
        #expect(
            context.registers.map(\.name) == (0...10).map { "r\($0)" } + ["r12", "fp", "sp", "lr", "pc"])
        #expect(context.validGroups == [.integer, .floatingPoint])
        #expect(arm.windowsContext == nil)
    }

    @Test("Windows ARM CONTEXT", arguments: contextByteOrders)
    func armWindows(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.armWindows(endianness), architecture: 5, endianness: endianness))
        guard case .arm(let arm) = context else {
            Issue.record("expected arm")
            return
        }
        #expect(context.instructionPointer == 0x7720_0003)
        #expect(context.stackPointer == 0x0060_F000)
        #expect(arm.lr == 0x7710_0001)
        #expect(arm.r(12) == 0xB0C && arm.fp == 0xB0B)
        #expect(arm.fpscr == 0x0300_0000 && arm.floatRegisters[0] == 0xD00)
        let windows = try #require(arm.windowsContext)
        #expect(windows.bvr[7] == 0xB7 && windows.bcr[7] == 0xC7 && windows.wvr == [0x400] && windows.wcr == [0x404])
        #expect(context.validGroups == [.control, .integer, .floatingPoint])
    }

    @Test("ARM64 CONTEXT", arguments: contextByteOrders)
    func arm64(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.arm64(endianness), architecture: 12, endianness: endianness))
        guard case .arm64(let arm64) = context else {
            Issue.record("expected arm64")
            return
        }
        #expect(context.instructionPointer == 0xC020)
        #expect(context.stackPointer == 0xC01F)
        #expect(context.framePointer == 0xC01D)
        #expect(arm64.lr == 0xC01E && arm64.cpsr == 0x8000_0000)
        #expect(arm64.v[31] == Vector128(low: 0x1F1F, high: 0x2F2F))
        #expect(arm64.fpcr == 0x0300_0000 && arm64.fpsr == 0x10)
        #expect(arm64.bcr[7] == 0xBC7 && arm64.bvr[7] == 0xB57 && arm64.wcr[1] == 0xC1 && arm64.wvr[1] == 0xF1)
        #expect(context.registers.map(\.name) == (0...28).map { "x\($0)" } + ["fp", "lr", "sp", "pc"])
        #expect(context.validGroups == [.control, .integer, .floatingPoint])
    }

    @Test("Breakpad MDRawContextARM64_Old", arguments: contextByteOrders)
    func arm64Old(endianness: Endianness) throws {
        let context = try SyntheticDump.decode(
            SyntheticDump.make(context: SyntheticContexts.arm64Old(endianness), architecture: 0x8003, endianness: endianness))
        guard case .arm64(let arm64) = context else {
            Issue.record("expected arm64")
            return
        }
        #expect(context.instructionPointer == 0xD020)
        #expect(context.stackPointer == 0xD01F)
        #expect(arm64.cpsr == 0x2000_0000 && arm64.fpsr == 0x11 && arm64.fpcr == 0x22)
        #expect(arm64.v[31] == Vector128(low: 0x3131, high: 0x3232))
        #expect(arm64.oldContext?.contextFlags == 0x8000_0006)
        #expect(context.validGroups == [.integer, .floatingPoint])
    }

    @Test("contexts survive a JSON round trip")
    func codable() throws {
        let contexts = try [
            SyntheticContexts.x86(), SyntheticContexts.amd64(avx: true), SyntheticContexts.armWindows(),
            SyntheticContexts.arm64Old(),
        ].map { try SyntheticDump.decode(SyntheticDump.make(context: $0, architecture: 0xFFFF)) }
        for context in contexts {
            let data = try JSONEncoder().encode(context)
            #expect(try JSONDecoder().decode(ThreadContext.self, from: data) == context)
        }
    }

    @Test("the SystemInfo architecture is only a hint: flags decide when it disagrees")
    func architectureHint() throws {
        // An ARM64 context in a dump whose SystemInfo says x86: no x86 layout fits, ARM64 does.
        let context = try SyntheticDump.decode(SyntheticDump.make(context: SyntheticContexts.arm64(), architecture: 0))
        #expect(context.architecture == .arm64)
        // MD_CONTEXT_ARM_OLD (0x40) is believed only for an ARM dump.
        let old = SyntheticContexts.armBreakpad(flags: 0x0000_0046)
        #expect(try SyntheticDump.decode(SyntheticDump.make(context: old, architecture: 5)).architecture == .arm)
        #expect(throws: ParseError.self) { try SyntheticDump.decode(SyntheticDump.make(context: old, architecture: 9)) }
    }
}

@Suite("Thread contexts from lldb's minidump descriptions", .ownThread)
struct ContextLLDBYAMLTests {
    static let folder = "lldb/packages/Python/lldbsuite/test/functionalities/postmortem/minidump-new/"

    /// The `Processor Arch` and the first thread's `Context` bytes of a yaml2obj minidump description.
    static func load(_ name: String) throws -> (architecture: String, context: [UInt8]) {
        let text = try String(contentsOfFile: TestEnvironment.shared(folder + name), encoding: .utf8)
        var architecture = ""
        var context: [UInt8]? = nil
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("Processor Arch:") {
                architecture = trimmed.dropFirst("Processor Arch:".count).trimmingCharacters(in: .whitespaces)
            } else if trimmed.hasPrefix("Context:"), context == nil {
                context = SyntheticDump.hexBytes(trimmed.dropFirst("Context:".count).trimmingCharacters(in: .whitespaces))
            }
        }
        return (architecture, try #require(context, "\(name): no Context"))
    }

    @Test(
        "arm-linux.yaml and arm-macos.yaml (TestMiniDumpNew.py register checks)", arguments: ["arm-linux.yaml", "arm-macos.yaml"])
    func arm(name: String) throws {
        let (architecture, bytes) = try Self.load(name)
        #expect(architecture == "ARM")
        let context = try SyntheticDump.decode(SyntheticDump.make(context: bytes, architecture: 5))
        guard case .arm(let arm) = context else {
            Issue.record("expected arm, got \(context.architecture)")
            return
        }
        #expect(arm.contextFlags.rawValue == 0x4000_0006)
        // lldb: fp is r11 = 0x0c on Linux and r7 = 0x08 on macOS; sp 0x0e, lr 0x0f, pc 0x10.
        #expect(arm.fp == 0x0c && arm.r(7) == 0x08)
        #expect(arm.sp == 0x0e && arm.lr == 0x0f && arm.pc == 0x10)
        #expect(arm.cpsr == 0x1122_3344)
        #expect(arm.fpscr == 0x5566_7788_aabb_ccdd)
    }

    @Test("arm64-macos.yaml: Breakpad's old ARM64 layout (TestMiniDumpNew.py register checks)")
    func arm64Old() throws {
        let (architecture, bytes) = try Self.load("arm64-macos.yaml")
        #expect(architecture == "ARM64")
        let context = try SyntheticDump.decode(SyntheticDump.make(context: bytes, architecture: 12))
        guard case .arm64(let arm64) = context else {
            Issue.record("expected arm64, got \(context.architecture)")
            return
        }
        #expect(arm64.oldContext != nil)
        #expect(arm64.pc == 0x1000)
        #expect(arm64.cpsr == 0x1122_3344)
        #expect(arm64.fpsr == 0x5566_7788)
        #expect(arm64.fpcr == 0x99aa_bbcc)
    }
}

@Suite("Malformed thread contexts", .ownThread)
struct ContextMalformedTests {
    static func expectError(_ bytes: [UInt8], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let context = try SyntheticDump.decode(bytes)
            Issue.record("\(message): decoded \(context.architecture) instead of failing", sourceLocation: sourceLocation)
        } catch {
            // A ParseError is the expected outcome.
        }
    }

    @Test(
        "truncated contexts are rejected",
        arguments: [
            (SyntheticContexts.x86(), 0), (SyntheticContexts.amd64(), 9), (SyntheticContexts.armBreakpad(), 5),
            (SyntheticContexts.armWindows(), 5), (SyntheticContexts.arm64(), 12), (SyntheticContexts.arm64Old(), 0x8003),
        ] as [([UInt8], UInt16)])
    func truncated(context: [UInt8], architecture: UInt16) {
        for cut in [1, 4, 8, 100] {
            Self.expectError(
                SyntheticDump.make(context: Array(context.dropLast(cut)), architecture: architecture), "cut \(cut)")
        }
        Self.expectError(SyntheticDump.make(context: [], architecture: architecture), "empty")
        Self.expectError(SyntheticDump.make(context: [0x01], architecture: architecture), "one byte")
    }

    @Test("a context whose size field claims more than the file holds is rejected")
    func sizeBeyondFile() {
        let context = SyntheticContexts.x86()
        Self.expectError(SyntheticDump.make(context: context, architecture: 0, contextSize: 0xFFFF_FFFF), "absurd size")
        Self.expectError(SyntheticDump.make(context: context, architecture: 0, contextSize: 717), "one byte too many")
        Self.expectError(SyntheticDump.make(context: context, architecture: 0, contextRva: 0xFFFF_FFF0), "absurd rva")
    }

    @Test("unknown flags give an error that names the flags and the size")
    func unknownFlags() throws {
        let bytes = SyntheticDump.make(context: SyntheticContexts.x86(flags: 0x1234_5600), architecture: 0)
        do {
            _ = try SyntheticDump.decode(bytes)
            Issue.record("decoded a context with unknown flags")
        } catch {
            #expect(error.description.contains("0x12345600"), "\(error)")
            #expect(error.description.contains("716 bytes"), "\(error)")
            guard case .invalidValue = error.kind else {
                Issue.record("unexpected kind \(error.kind)")
                return
            }
        }
        // AMD64 flags where the x86 layout keeps them (offset 0) are not an AMD64 context.
        Self.expectError(
            SyntheticDump.make(context: SyntheticContexts.x86(size: 1232, flags: 0x0010_000B), architecture: 9),
            "amd64 flags at 0")
    }

    @Test("a damaged CONTEXT_EX leaves the registers readable and says why the XSAVE data is missing")
    func damagedContextEx() throws {
        let cases: [(offset: Int32, length: UInt32)] = [
            (Int32.min, 320), (Int32.max, 320), (-1232, 320), (0, 320), (48, UInt32.max), (48, 10), (48, 321),
        ]
        for damage in cases {
            var bytes = ContextBytes(size: 0, endianness: .little)
            bytes.bytes = SyntheticContexts.amd64(avx: true)
            bytes.put(damage.offset, at: 0x4E0)
            bytes.put(damage.length, at: 0x4E4)
            let context = try SyntheticDump.decode(SyntheticDump.make(context: bytes.bytes, architecture: 9))
            guard case .amd64(let amd64) = context else {
                Issue.record("expected amd64")
                continue
            }
            #expect(context.instructionPointer == 0x7ff6_6d9f_29e9)
            #expect(amd64.extendedState == nil, "\(damage)")
            #expect(amd64.extendedStateProblem != nil, "\(damage)")
        }
        // A header without AVX, or an XState chunk too short for it, gives no upper halves.
        var noAVX = ContextBytes(size: 0, endianness: .little)
        noAVX.bytes = SyntheticContexts.amd64(avx: true)
        noAVX.put(UInt64(3), at: 0x500)
        guard case .amd64(let amd64) = try SyntheticDump.decode(SyntheticDump.make(context: noAVX.bytes, architecture: 9)) else {
            Issue.record("expected amd64")
            return
        }
        #expect(amd64.extendedState != nil && amd64.extendedState?.ymmUpperHalves == nil)
    }

    @Test("random bytes of every interesting size never trap")
    func randomBytes() {
        var generator = SplitMix64(seed: 0x5EED)
        let sizes = [0, 3, 4, 0x33, 0x34, 367, 368, 415, 416, 715, 716, 795, 796, 911, 912, 1231, 1232, 1255, 1256, 1600, 4096]
        let flags: [UInt32] = [0x0001_0000, 0x0010_0000, 0x0020_0000, 0x0040_0000, 0x4000_0000, 0x8000_0000, 0x40, 0]
        var decoded = 0
        for size in sizes {
            for flag in flags {
                for architecture: UInt16 in [0, 5, 9, 12, 0x8003, 0xFFFF] {
                    var bytes = ContextBytes(size: size)
                    for index in 0..<size {
                        bytes.bytes[index] = UInt8(truncatingIfNeeded: generator.next())
                    }
                    if size >= 4 { bytes.put(flag | UInt32(truncatingIfNeeded: generator.next() & 0x7F), at: 0) }
                    if size >= 0x34 { bytes.put(flag | 0x4F, at: 0x30) }
                    if size >= 0x4E8 {
                        // Random CONTEXT_EX chunks behind an AMD64 context with CONTEXT_XSTATE.
                        bytes.put(UInt32(0x0010_004F), at: 0x30)
                    }
                    if let context = try? SyntheticDump.decode(
                        SyntheticDump.make(context: bytes.bytes, architecture: architecture))
                    {
                        _ = (context.registers, context.instructionPointer, context.stackPointer, context.framePointer)
                        decoded += 1
                    }
                }
            }
        }
        #expect(decoded > 0)
    }
}

/// A small deterministic generator for the no-trap test.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
