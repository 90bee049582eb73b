import BinaryReading
import KernelDump
import StackWalk
import TestSupport
import Testing

/// A small kernel dump's saved stack and data blocks as the walker reads them.
///
/// A 32-bit dump stores kernel addresses sign-extended (0xffffffff8xxxxxxx); the walker's 32-bit
/// registers hold them truncated, so reads are sign-extended back.
struct TriageStackMemory: StackMemory {
    let triage: TriageDump
    let is32Bit: Bool

    func bytes(at address: UInt64, count: Int) -> [UInt8]? {
        let extended = is32Bit && address & 0x8000_0000 != 0 && address >> 32 == 0 ? address | 0xFFFF_FFFF_0000_0000 : address
        return triage.read(extended, count: count)
    }
}

/// The walker's inputs from a Windows ARM or ARM64 small (triage) kernel dump: the crashing thread's
/// `CONTEXT` (winnt.h layout, decoded here from its documented offsets) and the driver list.
struct TriageWalk {
    let triage: TriageDump
    let architecture: StackArchitecture
    let context: RegisterSet
    let modules: ModuleSet

    init(path: String) throws {
        let file = try KernelDumpFile(path: path)
        triage = try file.triage()
        let bytes = try #require(triage.context).array
        func word32(_ at: Int) -> UInt64 {
            (0..<4).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
        }
        func word64(_ at: Int) -> UInt64 { word32(at) | word32(at + 4) << 32 }
        switch file.header.machineImageType {
        case .arm64?:
            // ARM64 CONTEXT: ContextFlags, Cpsr, X0..X28 from 8, Fp 0xF0, Lr 0xF8, Sp 0x100, Pc 0x108.
            architecture = .arm64
            var registers = RegisterSet(architecture: .arm64)
            for index in 0...30 { registers[index] = word64(8 + 8 * index) }
            registers.sp = word64(0x100)
            registers.pc = word64(0x108)
            context = registers
        default:
            // ARM CONTEXT: ContextFlags, R0..R12 from 4, Sp 0x38, Lr 0x3C, Pc 0x40, Cpsr 0x44.
            architecture = .arm
            var registers = RegisterSet(architecture: .arm)
            for index in 0...15 { registers[index] = word32(4 + 4 * index) }
            // Thumb-2 code: the T bit of Cpsr marks the pc as a Thumb address, as a return address would be.
            if word32(0x44) & 0x20 != 0, let pc = registers.pc { registers.pc = pc | 1 }
            context = registers
        }
        let mask: UInt64 = architecture == .arm ? 0xFFFF_FFFF : .max
        modules = ModuleSet(
            triage.drivers.map { WalkModule(base: $0.baseAddress & mask, size: UInt64($0.sizeOfImage), name: $0.fileName) })
    }

    func walk() -> WalkedStack {
        StackWalker(
            architecture: architecture, modules: modules, memory: TriageStackMemory(triage: triage, is32Bit: architecture == .arm)
        ).walk(context: context)
    }

    func describe(_ stack: WalkedStack) -> [String] {
        stack.frames.map { frame in
            guard let module = modules.module(containing: frame.pc) else { return "0x" + String(frame.pc, radix: 16) }
            return module.name + "+0x" + String(frame.pc - module.base, radix: 16) + " (" + frame.trust.rawValue + ")"
        }
    }
}

@Suite("arm and arm64 walks of kdlibcpp's Windows small kernel dumps", .ownThread)
struct ARMKernelDumpWalkTests {
    /// kdlibcpp asserts ≥ 11 frames with Microsoft's symbols (dbgeng); without symbols or images the walk
    /// rests on frame records, the link register and scanning. Every frame must lie in a driver of the
    /// triage list, and the walk must stay bounded.
    @Test func windows10ARM64SmallDump() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kernel dump walks cannot run")
        let walk = try TriageWalk(path: TestEnvironment.shared("kdlibcpp/kdlib/tests/dumps/win10_arm64_mem/win10_arm64_mem.dmp"))
        #expect(walk.architecture == .arm64)
        let stack = walk.walk()
        let described = walk.describe(stack)
        print("win10_arm64_mem: \(stack.frames.count) frames\n  " + described.joined(separator: "\n  "), stack.warnings)
        #expect(stack.frames.count >= 5)
        #expect(stack.frames.count < 256)
        for (index, frame) in stack.frames.enumerated() {
            #expect(walk.modules.module(containing: frame.pc) != nil, "frame \(index) at 0x\(String(frame.pc, radix: 16))")
        }
    }

    @Test func windows10IoTARMSmallDump() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kernel dump walks cannot run")
        let walk = try TriageWalk(
            path: TestEnvironment.shared("kdlibcpp/kdlib/tests/dumps/win10_arm_rpi3_mem/RPi3_ARM_mini.cab.dmp"))
        #expect(walk.architecture == .arm)
        let stack = walk.walk()
        let described = walk.describe(stack)
        print("RPi3_ARM_mini: \(stack.frames.count) frames\n  " + described.joined(separator: "\n  "), stack.warnings)
        #expect(stack.frames.count >= 2)
        #expect(stack.frames.count < 256)
        for (index, frame) in stack.frames.enumerated() {
            #expect(walk.modules.module(containing: frame.pc) != nil, "frame \(index) at 0x\(String(frame.pc, radix: 16))")
        }
    }
}
