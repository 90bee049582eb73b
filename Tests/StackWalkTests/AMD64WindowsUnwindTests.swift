import TestSupport
import Testing

@testable import StackWalk

/// A loaded x64 image written byte by byte from the PE/COFF and x64 exception-handling
/// specifications (not from the parser's declarations): DOS header, NT headers with data directory
/// 3, `.pdata` at 0x1000, `UNWIND_INFO` from 0x2000, code from 0x3000.
struct SyntheticX64Image: ModuleImage, CustomStringConvertible, CustomDebugStringConvertible {
    static let pdata = 0x1000
    var bytes = [UInt8](repeating: 0, count: 0x4000)
    var functionCount = 0

    init(directorySize: UInt32? = nil, machine: UInt16 = 0x8664) {
        put16(0, 0x5A4D)  // "MZ"
        put32(0x3C, 0x80)  // e_lfanew
        put32(0x80, 0x4550)  // "PE\0\0"
        put16(0x84, machine)
        put16(0x94, 0xF0)  // SizeOfOptionalHeader
        put16(0x98, 0x20B)  // PE32+
        put32(0x98 + 108, 16)  // NumberOfRvaAndSizes
        put32(0x98 + 112 + 3 * 8, UInt32(Self.pdata))
        if let directorySize { put32(0x98 + 112 + 3 * 8 + 4, directorySize) }
    }

    mutating func put16(_ offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(value & 0xFF)
        bytes[offset + 1] = UInt8(value >> 8)
    }

    mutating func put32(_ offset: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    mutating func put(_ offset: Int, _ values: [UInt8]) {
        for (index, value) in values.enumerated() { bytes[offset + index] = value }
    }

    /// Appends a `RUNTIME_FUNCTION` (entries must be added in address order) and grows the directory.
    mutating func addFunction(begin: UInt32, end: UInt32, unwindInfo: UInt32) {
        let offset = Self.pdata + functionCount * 12
        put32(offset, begin)
        put32(offset + 4, end)
        put32(offset + 8, unwindInfo)
        functionCount += 1
        put32(0x98 + 112 + 3 * 8 + 4, UInt32(functionCount * 12))
    }

    /// Writes `UNWIND_INFO` at `offset`: version 1, `flags`, prolog size, the code slots (latest
    /// first) and the frame register/offset byte; a chained `RUNTIME_FUNCTION` follows when given.
    mutating func addUnwindInfo(
        at offset: Int, flags: UInt8 = 0, prolog: UInt8, slots: [UInt16], frameRegister: UInt8 = 0, frameOffset: UInt8 = 0,
        chained: (UInt32, UInt32, UInt32)? = nil
    ) {
        put(offset, [1 | flags << 3, prolog, UInt8(slots.count), frameRegister | frameOffset << 4])
        for (index, slot) in slots.enumerated() { put16(offset + 4 + index * 2, slot) }
        if let chained {
            let tail = offset + 4 + (slots.count + 1) / 2 * 4
            put32(tail, chained.0)
            put32(tail + 4, chained.1)
            put32(tail + 8, chained.2)
        }
    }

    // Failure messages print the walker; keep the 16 KiB of bytes out of them.
    var description: String { "SyntheticX64Image(\(functionCount) functions)" }
    var debugDescription: String { description }

    func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, rva <= UInt64(bytes.count), UInt64(count) <= UInt64(bytes.count) - rva else { return nil }
        return Array(bytes[Int(rva)..<Int(rva) + count])
    }
}

/// One unwind code slot: `CodeOffset`, `UnwindOp`, `OpInfo`.
func slot(_ codeOffset: UInt8, _ op: UInt8, _ info: UInt8) -> UInt16 {
    UInt16(codeOffset) | UInt16(op | info << 4) << 8
}

@Suite(.ownThread) struct AMD64WindowsUnwindTests {
    static let base: UInt64 = 0x1_4000_0000
    static let stack: UInt64 = 0x10_0000
    static let returnAddress: UInt64 = 0x1_4000_3F00

    /// Function A at 0x3000: push rbp; push rbx; sub rsp, 0x28 (prolog 6 bytes), with the epilog
    /// `add rsp, 0x28; pop rbx; pop rbp; ret` at 0x3020 and `add rsp, 0x28; jmp` back into the
    /// function at 0x3030 (a branch, not an epilog).
    static func image() -> SyntheticX64Image {
        var image = SyntheticX64Image()
        image.addUnwindInfo(at: 0x2000, prolog: 6, slots: [slot(6, 2, 4), slot(2, 0, 3), slot(1, 0, 5)])
        image.addFunction(begin: 0x3000, end: 0x3040, unwindInfo: 0x2000)
        image.put(0x3000, [0x55, 0x53, 0x48, 0x83, 0xEC, 0x28])
        image.put(0x3020, [0x48, 0x83, 0xC4, 0x28, 0x5B, 0x5D, 0xC3])
        image.put(0x3030, [0x48, 0x83, 0xC4, 0x28, 0xEB, 0xCA])  // jmp 0x3000
        // Function B at 0x3100, rbp frame: push rbp (1); sub rsp, 0x40 (5); lea rbp, [rsp+0x20] (10);
        // mov [rbp+0x10], rsi (15: saved at frame base + 0x30). Epilog at 0x3150:
        // lea rsp, [rbp+0x20]; pop rbp; ret.
        image.addUnwindInfo(
            at: 0x2040, prolog: 15, slots: [slot(15, 4, 6), 0x30 / 8, slot(10, 3, 0), slot(5, 2, 7), slot(1, 0, 5)],
            frameRegister: 5, frameOffset: 2)
        image.addFunction(begin: 0x3100, end: 0x3180, unwindInfo: 0x2040)
        image.put(0x3150, [0x48, 0x8D, 0x65, 0x20, 0x5D, 0xC3])
        // Function C at 0x3200: sub rsp, 0x20 (4), chained to A's unwind info.
        image.addUnwindInfo(at: 0x2080, flags: 4, prolog: 4, slots: [slot(4, 2, 3)], chained: (0x3000, 0x3040, 0x2000))
        image.addFunction(begin: 0x3200, end: 0x3220, unwindInfo: 0x2080)
        // Function D at 0x3300: an interrupt handler that received a machine frame with an error code.
        image.addUnwindInfo(at: 0x20C0, prolog: 0, slots: [slot(0, 10, 1)])
        image.addFunction(begin: 0x3300, end: 0x3310, unwindInfo: 0x20C0)
        // 0x3400 has no entry: a leaf.
        return image
    }

    func walker(_ image: any ModuleImage, memory: [UInt64: UInt64]) -> StackWalker {
        StackWalker(
            architecture: .amd64,
            modules: ModuleSet([WalkModule(base: Self.base, size: 0x4000, name: "synthetic.dll", image: image)]),
            memory: WordMemory(words: memory, wordSize: 8))
    }

    func frame(pc: UInt64, sp: UInt64, _ registers: [String: UInt64] = [:], trust: FrameTrust = .context) -> StackFrame {
        var set = RegisterSet(architecture: .amd64)
        set["rip"] = pc
        set["rsp"] = sp
        for (name, value) in registers { set[name] = value }
        return StackFrame(registers: set, trust: trust)
    }

    /// The memory of function A's frame in its body: rbx and rbp saved above 0x28 bytes of locals.
    var bodyOfA: [UInt64: UInt64] {
        [Self.stack + 0x28: 0xB0B, Self.stack + 0x30: 0xF00D, Self.stack + 0x38: Self.returnAddress]
    }

    @Test func bodyUndoesTheWholeProlog() throws {
        let walker = walker(Self.image(), memory: bodyOfA)
        let caller = try #require(
            walker.windowsX64Caller(of: frame(pc: Self.base + 0x3010, sp: Self.stack, ["rbx": 1, "rbp": 2, "rax": 3])))
        #expect(caller.trust == .cfi)
        #expect(caller.registers.pc == Self.returnAddress)
        #expect(caller.registers.sp == Self.stack + 0x40)
        #expect(caller.registers["rbx"] == 0xB0B)
        #expect(caller.registers["rbp"] == 0xF00D)
        #expect(caller.registers["rax"] == nil, "volatile registers are not recovered")
    }

    @Test func prologUndoesOnlyWhatRan() throws {
        // After push rbp only (offset 1): the saved rbp and the return address.
        let walker = walker(Self.image(), memory: [Self.stack: 0xF00D, Self.stack + 8: Self.returnAddress])
        let caller = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3001, sp: Self.stack, ["rbx": 1])))
        #expect(caller.registers.pc == Self.returnAddress)
        #expect(caller.registers.sp == Self.stack + 16)
        #expect(caller.registers["rbp"] == 0xF00D)
        #expect(caller.registers["rbx"] == 1, "rbx was not pushed yet")
    }

    @Test func epilogIsEmulated() throws {
        let walker = walker(Self.image(), memory: bodyOfA)
        let atAdd = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3020, sp: Self.stack)))
        #expect(atAdd.registers.pc == Self.returnAddress)
        #expect(atAdd.registers.sp == Self.stack + 0x40)
        #expect(atAdd.registers["rbx"] == 0xB0B)
        // At `pop rbp`: rbx is already popped, so only rbp and the return address remain.
        let atPop = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3025, sp: Self.stack + 0x30, ["rbx": 7])))
        #expect(atPop.registers.pc == Self.returnAddress)
        #expect(atPop.registers["rbx"] == 7)
        #expect(atPop.registers["rbp"] == 0xF00D)
        // At `ret`.
        let atReturn = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3026, sp: Self.stack + 0x38)))
        #expect(atReturn.registers.pc == Self.returnAddress)
        #expect(atReturn.registers.sp == Self.stack + 0x40)
    }

    @Test func jumpInsideTheFunctionIsNotAnEpilog() throws {
        // Read as an epilog this would return to [rsp + 0x28]; the codes return to [rsp + 0x38].
        let walker = walker(Self.image(), memory: bodyOfA)
        let caller = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3030, sp: Self.stack)))
        #expect(caller.registers.pc == Self.returnAddress)
    }

    @Test func callersAreNotTreatedAsEpilogs() throws {
        // A return address that happens to point at an epilog is unwound by the codes (same result).
        let walker = walker(Self.image(), memory: bodyOfA)
        let caller = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3020, sp: Self.stack, trust: .cfi)))
        #expect(caller.registers.sp == Self.stack + 0x40)
    }

    @Test func framePointerAndSavedRegistersUseTheEstablisherFrame() throws {
        // The body has pushed 0x100 bytes of alloca below the fixed frame: rsp is far from the
        // frame base, which only rbp - 0x20 gives.
        let frameBase = Self.stack + 0x200
        let memory = [frameBase + 0x30: 0x5151, frameBase + 0x40: 0xF00D, frameBase + 0x48: Self.returnAddress]
        let walker = walker(Self.image(), memory: memory)
        let caller = try #require(
            walker.windowsX64Caller(
                of: frame(pc: Self.base + 0x3120, sp: frameBase - 0x100, ["rbp": frameBase + 0x20, "rsi": 1])))
        #expect(caller.registers.pc == Self.returnAddress)
        #expect(caller.registers.sp == frameBase + 0x50)
        #expect(caller.registers["rbp"] == 0xF00D)
        #expect(caller.registers["rsi"] == 0x5151)
        // The lea epilog: rsp = rbp + 0x20, pop rbp, ret.
        let atLea = try #require(
            walker.windowsX64Caller(of: frame(pc: Self.base + 0x3150, sp: frameBase - 0x100, ["rbp": frameBase + 0x20])))
        #expect(atLea.registers.pc == Self.returnAddress)
        #expect(atLea.registers.sp == frameBase + 0x50)
        #expect(atLea.registers["rbp"] == 0xF00D)
        // In the prolog before `lea rbp` (offset 5): rsp is the frame base, the saves have not run.
        let inProlog = try #require(
            walker.windowsX64Caller(of: frame(pc: Self.base + 0x3105, sp: frameBase, ["rbp": 9, "rsi": 1])))
        #expect(inProlog.registers.sp == frameBase + 0x50)
        #expect(inProlog.registers["rsi"] == 1)
    }

    @Test func chainedInfoAppliesTheParentsWholeProlog() throws {
        let memory = [Self.stack + 0x48: 0xB0B, Self.stack + 0x50: 0xF00D, Self.stack + 0x58: Self.returnAddress]
        let walker = walker(Self.image(), memory: memory)
        let caller = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3210, sp: Self.stack)))
        #expect(caller.registers.pc == Self.returnAddress)
        #expect(caller.registers.sp == Self.stack + 0x60)
        #expect(caller.registers["rbx"] == 0xB0B)
        #expect(caller.registers["rbp"] == 0xF00D)
    }

    @Test func machineFrameResumesTheInterruptedCode() throws {
        // Error code, then RIP, CS, EFLAGS, RSP, SS.
        let interrupted: UInt64 = 0x1_4000_3008
        let memory = [Self.stack: 0xE, Self.stack + 8: interrupted, Self.stack + 0x20: Self.stack + 0x1000]
        let walker = walker(Self.image(), memory: memory)
        let caller = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3304, sp: Self.stack)))
        #expect(caller.registers.pc == interrupted)
        #expect(caller.registers.sp == Self.stack + 0x1000)
    }

    @Test func leafReturnsThroughTheTopOfTheStack() throws {
        let walker = walker(Self.image(), memory: [Self.stack: Self.returnAddress])
        let caller = try #require(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3400, sp: Self.stack, ["r12": 12])))
        #expect(caller.registers.pc == Self.returnAddress)
        #expect(caller.registers.sp == Self.stack + 8)
        #expect(caller.registers["r12"] == 12)
    }

    @Test func notAnAMD64ImageIsLeftToOtherMethods() {
        let walker = walker(SyntheticX64Image(machine: 0x14C), memory: [Self.stack: Self.returnAddress])
        #expect(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3400, sp: Self.stack)) == nil)
        #expect(!walker.hasWindowsX64Modules)
    }

    @Test func functionTableIsReadEntryByEntryWhenNotWhole() throws {
        // A directory claiming more than the image holds: the binary search reads single entries;
        // one it cannot read makes the lookup give up rather than call the function a leaf.
        var image = Self.image()
        image.put32(0x98 + 112 + 3 * 8 + 4, 0x0FFF_FFF0)
        let walker = walker(image, memory: bodyOfA)
        #expect(walker.windowsX64Caller(of: frame(pc: Self.base + 0x3010, sp: Self.stack)) == nil)
    }
}

/// Unwind data and stacks built to hurt: every walk must end, within its limits, without trapping.
@Suite(.ownThread) struct AMD64MalformedUnwindTests {
    static let base = AMD64WindowsUnwindTests.base
    static let stack = AMD64WindowsUnwindTests.stack

    func walk(_ image: SyntheticX64Image?, pc: UInt64, sp: UInt64, fp: UInt64? = nil, memory: [UInt64: UInt64]) -> WalkedStack {
        var context = RegisterSet(architecture: .amd64)
        context["rip"] = pc
        context["rsp"] = sp
        context["rbp"] = fp
        let module = WalkModule(base: Self.base, size: 0x4000, name: "synthetic.dll", image: image)
        return StackWalker(
            architecture: .amd64, modules: ModuleSet([module]), memory: WordMemory(words: memory, wordSize: 8),
            limits: WalkLimits(maximumFrames: 64)
        ).walk(context: context)
    }

    @Test func chainThatLoopsFallsBackToScanning() {
        var image = SyntheticX64Image()
        // Chained to itself, and an indirect entry pointing at itself.
        image.addUnwindInfo(at: 0x2000, flags: 4, prolog: 0, slots: [], chained: (0x3000, 0x3010, 0x2000))
        image.addFunction(begin: 0x3000, end: 0x3010, unwindInfo: 0x2000)
        image.addFunction(begin: 0x3010, end: 0x3020, unwindInfo: UInt32(SyntheticX64Image.pdata + 12) | 1)
        let returnAddress = Self.base + 0x3FF0
        for pc in [Self.base + 0x3004, Self.base + 0x3014] {
            let stack = walk(
                image, pc: pc, sp: Self.stack, memory: [Self.stack: 0, Self.stack + 8: 0, Self.stack + 16: returnAddress])
            #expect(stack.frames.count == 2)
            #expect(stack.frames.last?.trust == .scan)
        }
    }

    @Test func countsPastTheEndAndUnknownOperations() {
        var image = SyntheticX64Image()
        // 255 code slots starting 8 bytes before the end of the image.
        image.addFunction(begin: 0x3000, end: 0x3010, unwindInfo: 0x3FF8)
        image.put(0x3FF8, [1, 0, 255, 0])
        // An operation number past UWOP_PUSH_MACHFRAME, and ALLOC_LARGE missing its operand slot.
        image.addUnwindInfo(at: 0x2000, prolog: 0, slots: [slot(0, 11, 0)])
        image.addFunction(begin: 0x3010, end: 0x3020, unwindInfo: 0x2000)
        image.addUnwindInfo(at: 0x2040, prolog: 0, slots: [slot(0, 1, 0)])
        image.addFunction(begin: 0x3020, end: 0x3030, unwindInfo: 0x2040)
        for pc in [Self.base + 0x3004, Self.base + 0x3014, Self.base + 0x3024] {
            let stack = walk(image, pc: pc, sp: Self.stack, memory: [Self.stack: Self.base + 0x3FF0])
            #expect(stack.frames.count == 2)
            #expect(stack.frames.last?.trust == .scan)
        }
    }

    @Test func absurdAllocationsFindNoStack() {
        var image = SyntheticX64Image()
        // ALLOC_LARGE of 0xFFFFFFF8 (three slots), then a SET_FPREG whose register is unknown.
        image.addUnwindInfo(at: 0x2000, prolog: 0, slots: [slot(0, 1, 1), 0xFFF8, 0xFFFF])
        image.addFunction(begin: 0x3000, end: 0x3010, unwindInfo: 0x2000)
        image.addUnwindInfo(at: 0x2040, prolog: 0, slots: [slot(0, 3, 0)], frameRegister: 13, frameOffset: 15)
        image.addFunction(begin: 0x3010, end: 0x3020, unwindInfo: 0x2040)
        for pc in [Self.base + 0x3004, Self.base + 0x3014] {
            let stack = walk(image, pc: pc, sp: Self.stack, memory: [Self.stack: 0])
            #expect(stack.frames.count == 1)
        }
    }

    @Test func stackPointerAtTheTopOfTheAddressSpace() {
        let top = UInt64.max - 7
        let stack = walk(AMD64WindowsUnwindTests.image(), pc: Self.base + 0x3400, sp: top, memory: [top: Self.base + 0x3500])
        // The leaf's caller would have rsp = 0: the walker refuses a stack pointer that goes backwards.
        #expect(stack.frames.count == 1)
        #expect(!stack.warnings.isEmpty)
        let unreadable = walk(nil, pc: Self.base + 0x3400, sp: top, fp: UInt64.max, memory: [:])
        #expect(unreadable.frames.count == 1)
    }

    @Test func cyclicFramePointerChainsEnd() {
        // Not a Windows image: rbp chains are followed. Two records pointing at each other, and one
        // pointing at itself.
        let code = Self.base + 0x100
        let a = Self.stack
        let b = Self.stack + 0x40
        var zeros = [UInt64: UInt64]()
        for index in 0..<20 { zeros[a - 8 + UInt64(index) * 8] = 0 }
        let twoCycle = zeros.merging([a: b, a + 8: code, b: a, b + 8: code]) { $1 }
        let stack = walk(nil, pc: code, sp: a - 8, fp: a, memory: twoCycle)
        #expect(stack.frames.count == 3)
        #expect(stack.frames.map(\.trust) == [.context, .framePointer, .scan])
        let selfLoop = walk(nil, pc: code, sp: a - 8, fp: a, memory: zeros.merging([a: a, a + 8: code]) { $1 })
        #expect(selfLoop.frames.count <= 2)
        #expect(selfLoop.frames.dropFirst().allSatisfy { $0.trust != .framePointer })
    }

    @Test func deepGarbageStacksStopAtTheFrameLimit() {
        // Every word a plausible return address: scanning finds a frame per word, up to the limit.
        let code = Self.base + 0x100
        var memory = [UInt64: UInt64]()
        for index in 0..<200 { memory[Self.stack + UInt64(index) * 8] = code }
        let stack = walk(nil, pc: code, sp: Self.stack, memory: memory)
        #expect(stack.frames.count == 64)
        #expect(stack.warnings.contains { $0.contains("limit") })
    }
}
