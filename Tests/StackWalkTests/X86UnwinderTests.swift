import BreakpadSymbols
import TestSupport
import Testing

@testable import StackWalk

/// Code bytes by RVA, for the call-instruction check.
struct ByteImage: ModuleImage {
    var bytes: [UInt64: UInt8]

    func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]? {
        var result = [UInt8]()
        for offset in 0..<UInt64(count) {
            guard let byte = bytes[rva + offset] else { return nil }
            result.append(byte)
        }
        return result
    }

    /// `code` placed so that its last byte is just before `returnRVA`.
    static func ending(at returnRVA: UInt64, with code: [UInt8]) -> [UInt64: UInt8] {
        var bytes = [UInt64: UInt8]()
        for (index, byte) in code.enumerated() { bytes[returnRVA - UInt64(code.count) + UInt64(index)] = byte }
        return bytes
    }
}

/// A stack of 32-bit words: `words`, and zeros elsewhere in `region` (a captured stack is contiguous).
struct StackRegion: StackMemory {
    var words: [UInt64: UInt64]
    var region: Range<UInt64>

    func bytes(at address: UInt64, count: Int) -> [UInt8]? {
        guard count == 4 else { return nil }
        let value: UInt64
        if let word = words[address] {
            value = word
        } else if region.contains(address), address % 4 == 0 {
            value = 0
        } else {
            return nil
        }
        return (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}

/// A synthetic x86 process: one module `app.exe` at 0x400000 with the given STACK WIN records.
struct X86Scene {
    static let base: UInt64 = 0x40_0000
    var stackWin: [StackWinRecord] = []
    var functions: [FunctionRecord] = []
    var words: [UInt64: UInt64] = [:]
    var image: ByteImage?
    var limits = WalkLimits()

    static func record(
        _ type: UInt8 = StackWinRecord.frameData, rva: UInt64, size: UInt64 = 0x100, parameters: UInt64 = 0,
        savedRegisters: UInt64 = 0, locals: UInt64 = 0, program: String? = nil, allocatesBasePointer: Bool = false
    ) -> StackWinRecord {
        StackWinRecord(
            type: type, rva: rva, codeSize: size, prologSize: 0, epilogSize: 0, parameterSize: parameters,
            savedRegisterSize: savedRegisters, localSize: locals, maxStackSize: 0, programString: program,
            allocatesBasePointer: allocatesBasePointer)
    }

    var walker: StackWalker {
        let rules = SymbolFile(module: nil, functions: functions, stackWin: stackWin)
        let module = WalkModule(base: Self.base, size: 0x1_0000, name: "app.exe", rules: rules, image: image)
        return StackWalker(
            architecture: .x86, modules: ModuleSet([module]), memory: StackRegion(words: words, region: 0x7000..<0xA000),
            limits: limits)
    }

    func context(eip: UInt64, esp: UInt64, ebp: UInt64, ebx: UInt64? = 0xB0B) -> RegisterSet {
        var registers = RegisterSet(architecture: .x86)
        registers.pc = eip
        registers.sp = esp
        registers.fp = ebp
        registers["ebx"] = ebx
        registers["esi"] = 0x51
        registers["edi"] = 0xD1
        return registers
    }

    func walk(eip: UInt64, esp: UInt64, ebp: UInt64) -> WalkedStack {
        walker.walk(context: context(eip: eip, esp: esp, ebp: ebp))
    }

    /// The caller of a context frame, as the unwinder finds it.
    func caller(eip: UInt64, esp: UInt64, ebp: UInt64) -> StackFrame? {
        X86Unwinder().caller(of: [StackFrame(registers: context(eip: eip, esp: esp, ebp: ebp), trust: .context)], walker: walker)
    }
}

@Suite(.ownThread) struct X86StackWinTests {
    static let searchProgram = "$T0 .raSearchStart = $eip $T0 ^ = $esp $T0 4 + ="
    static let ebpProgram = "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + ="

    @Test func frameDataThenFPOWithCalleeParameters() {
        var scene = X86Scene()
        scene.stackWin = [
            X86Scene.record(rva: 0x1000, parameters: 12, savedRegisters: 4, locals: 8, program: Self.searchProgram),
            X86Scene.record(StackWinRecord.fpo, rva: 0x1200, locals: 0x10),
        ]
        // Frame 0 at 0x1010: its return address lies above 8 bytes of locals and 4 of saved registers.
        scene.words[0x800C] = 0x40_1234
        // Frame 1 (FPO, no program) still has frame 0's 12 bytes of arguments below its 16 of locals.
        scene.words[0x802C] = 0x40_2010
        scene.words[0x8100] = 0
        scene.words[0x8104] = 0
        let stack = scene.walk(eip: 0x40_1010, esp: 0x8000, ebp: 0x8100)
        #expect(stack.frames.map(\.pc) == [0x40_1010, 0x40_1234, 0x40_2010])
        #expect(stack.frames.map(\.trust) == [.context, .cfi, .cfi])
        #expect(stack.frames[1].registers.sp == 0x8010)
        #expect(stack.frames[2].registers.sp == 0x8030)
        // Callee-saved registers the programs leave alone carry through; EBP is untouched by FPO code.
        #expect(stack.frames[2].registers["ebx"] == 0xB0B)
        #expect(stack.frames[2].registers["edi"] == 0xD1)
        #expect(stack.frames[2].registers.fp == 0x8100)
        #expect(stack.warnings.isEmpty)
    }

    @Test func programRestoresRegistersByNameAndByCodeViewNumber() {
        var scene = X86Scene()
        scene.stackWin = [
            X86Scene.record(rva: 0x1000, program: Self.ebpProgram + " $ebx $T0 4 - ^ = $23 $T0 8 - ^ = $24 $T0 12 - ^ =")
        ]
        scene.words = [0x8020: 0x8100, 0x8024: 0x40_1500, 0x801C: 0xEB, 0x8018: 0xE5, 0x8014: 0xED]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x8020)
        #expect(frame?.trust == .cfi)
        #expect(frame?.pc == 0x40_1500)
        #expect(frame?.registers.sp == 0x8028)
        #expect(frame?.registers.fp == 0x8100)
        #expect(frame?.registers["ebx"] == 0xEB)
        #expect(frame?.registers["esi"] == 0xE5)
        #expect(frame?.registers["edi"] == 0xED)
    }

    @Test func assignmentsWithoutABlankAreSplit() {
        var scene = X86Scene()
        scene.stackWin = [X86Scene.record(rva: 0x1000, program: "$T0 $ebp = $eip $T0 4 + ^ =$ebp $T0 ^ =$esp $T0 8 + =")]
        scene.words = [0x8020: 0x8100, 0x8024: 0x40_1500]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x8020)
        #expect(frame?.trust == .cfi)
        #expect(frame?.registers.fp == 0x8100)
        #expect(StackWalker.normalizedStackWinProgram("$a 1 =$b") == "$a 1 = $b")
    }

    @Test func aligningProgramSearchesFromEBP() {
        // The program kdlibcpp's MSVC targetapp.pdb has for a function that aligns its stack.
        let program = "$T1 .raSearch = $T0  $T1 4 - 8 @ = $ebp $T1 4 - ^ = $eip $T1 ^ = $esp $T1 4 + ="
        var scene = X86Scene()
        scene.stackWin = [X86Scene.record(rva: 0x1000, savedRegisters: 12, locals: 28, program: program)]
        scene.words = [0x8040: 0x8200, 0x8044: 0x40_1600]
        // ESP plus the sizes would point elsewhere; EBP is what locates the return address.
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x8040)
        #expect(frame?.pc == 0x40_1600)
        #expect(frame?.registers.sp == 0x8048)
        #expect(frame?.registers.fp == 0x8200)
        #expect(frame?.trust == .cfi)
    }

    @Test func searchStartMovesToAnAlignedReturnAddress() {
        var scene = X86Scene()
        scene.stackWin = [X86Scene.record(rva: 0x1000, locals: 8, program: Self.searchProgram)]
        // The return address sits one word above where the sizes say (the stack was aligned).
        scene.words = [0x8008: 0x1234, 0x800C: 0x40_1700]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0)
        #expect(frame?.pc == 0x40_1700)
        #expect(frame?.registers.sp == 0x8010)
        #expect(frame?.trust == .cfi)
    }

    @Test func returnAddressOutsideModulesIsReplacedByAScan() {
        var scene = X86Scene()
        scene.stackWin = [X86Scene.record(rva: 0x1000, locals: 8, program: Self.searchProgram)]
        // Nothing plausible within the 4-slot alignment search; a real return address further up.
        scene.words = [0x8008: 0x1234_5678, 0x8030: 0x40_1800]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0)
        #expect(frame?.trust == .cfiScan)
        #expect(frame?.pc == 0x40_1800)
        #expect(frame?.registers.sp == 0x8034)
    }

    @Test(arguments: [
        "$eip 1 0 / = $esp $esp 4 + =",  // division by zero
        "$eip 1 0 % = $esp $esp 4 + =",
        "$T0 $T0 = $eip $T0 ^ = $esp $T0 4 + =",  // reads a variable before assigning it
        "$esp $esp 4 + =",  // never assigns $eip
        "$eip $esp 4 + ^",  // leaves a value on the stack
        "$eip $esp 0x40000 + ^ = $esp $esp 4 + =",  // reads memory that was not captured
        "$eip .undef = $esp $esp 4 + =",
        "= = = ^ ^ @ @",
        "$eip $esp 3 @ = $esp $esp 4 + =",  // aligns to a non-power of two
    ])
    func failingProgramFallsBackToAScanFromESP(program: String) {
        var scene = X86Scene()
        scene.stackWin = [X86Scene.record(rva: 0x1000, program: program)]
        scene.words = [0x8000: 7, 0x8004: 0x40_1900]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x9000)
        #expect(frame?.trust == .scan)
        #expect(frame?.pc == 0x40_1900)
        #expect(frame?.registers.sp == 0x8008)
        #expect(frame?.registers["ebx"] == nil)
    }

    @Test func fpoFunctionThatSavesEBP() {
        var scene = X86Scene()
        // 4 bytes of locals, 8 of saved registers (EBP saved first, at the bottom of the area... per
        // Breakpad: at ESP + callee parameters + saved registers - 8).
        scene.stackWin = [
            X86Scene.record(StackWinRecord.fpo, rva: 0x1000, savedRegisters: 8, locals: 4, allocatesBasePointer: true)
        ]
        scene.words = [0x8000: 0x8400, 0x8004: 0x5, 0x8008: 0x0, 0x800C: 0x40_1A00, 0x8400: 0]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x1)
        #expect(frame?.trust == .cfi)
        #expect(frame?.pc == 0x40_1A00)
        #expect(frame?.registers.sp == 0x8010)
        #expect(frame?.registers.fp == 0x8400)
    }

    @Test func fpoSystemCallReturnLeftOnTheStackIsSkipped() {
        var scene = X86Scene()
        scene.stackWin = [X86Scene.record(StackWinRecord.fpo, rva: 0x1000)]
        // The context's own address is on top of the stack (a returned FPO system call stub).
        scene.words = [0x8000: 0x40_1010, 0x8004: 0x40_1B00]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x9000)
        #expect(frame?.pc == 0x40_1B00)
        #expect(frame?.registers.sp == 0x8008)
        #expect(frame?.trust == .cfi)
    }

    @Test func absurdRecordSizesStayBounded() {
        var scene = X86Scene()
        let huge: UInt64 = 0xFFFF_FFFF_FFFF_FFF0
        scene.stackWin = [
            X86Scene.record(
                StackWinRecord.fpo, rva: 0x1000, parameters: huge, savedRegisters: huge, locals: huge, allocatesBasePointer: true),
            X86Scene.record(
                rva: 0x1200, parameters: huge, savedRegisters: 0x7FFF_FFFF, locals: huge, program: Self.searchProgram),
        ]
        for address in stride(from: UInt64(0x8000), to: 0x8400, by: 4) { scene.words[address] = address + 4 }
        scene.words[0x8100] = 0x40_1210
        let stack = scene.walk(eip: 0x40_1010, esp: 0x8000, ebp: 0x8000)
        #expect(stack.frames.count < 300)
        let other = scene.walk(eip: 0x40_1210, esp: 0x8000, ebp: 0x8000)
        #expect(other.frames.count < 300)
    }

    @Test func overlongProgramIsIgnored() {
        var scene = X86Scene()
        let program = Array(repeating: "$T0 $esp =", count: 2000).joined(separator: " ") + " " + Self.searchProgram
        scene.stackWin = [X86Scene.record(rva: 0x1000, program: program)]
        scene.words = [0x8000: 0x40_1C00]
        #expect(
            scene.walker.stackWinCaller(of: [
                StackFrame(registers: scene.context(eip: 0x40_1010, esp: 0x8000, ebp: 0), trust: .context)
            ]) == nil)
        // The other methods still find the caller.
        #expect(scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0)?.pc == 0x40_1C00)
    }
}

@Suite(.ownThread) struct X86ChainAndScanTests {
    @Test func cyclicEBPChainsEnd() {
        var scene = X86Scene()
        // A frame pointer that points at itself, and a pair pointing at each other.
        scene.words = [0x9000: 0x9000, 0x9004: 0x40_1100, 0x9010: 0x9020, 0x9014: 0x40_1200, 0x9020: 0x9010, 0x9024: 0x40_1300]
        // The chain is followed once around each loop; the rest is scanning the few words above.
        for ebp: UInt64 in [0x9000, 0x9010] {
            let stack = scene.walk(eip: 0x40_1010, esp: 0x8FF0, ebp: ebp)
            #expect(stack.frames[1].trust == .framePointer)
            #expect(stack.frames.count <= 4, "\(stack.frames.map(\.pc))")
        }
    }

    @Test func ebpBelowESPIsNotAFrame() {
        var scene = X86Scene()
        scene.words = [0x7000: 0x9000, 0x7004: 0x40_1100]
        #expect(
            scene.walker.x86FramePointerCaller(
                of: StackFrame(registers: scene.context(eip: 0x40_1010, esp: 0x8000, ebp: 0x7000), trust: .context)) == nil)
        #expect(
            scene.walker.x86FramePointerCaller(
                of: StackFrame(registers: scene.context(eip: 0x40_1010, esp: 0x8000, ebp: 0x8002), trust: .context)) == nil)
    }

    @Test func zeroedFrameEndsTheWalkWithoutScanning() {
        var scene = X86Scene()
        // RtlUserThreadStart's frame: EBP and the return address zero, the start routine above.
        scene.words = [0x8010: 0, 0x8014: 0, 0x8018: 0x40_1100, 0x801C: 0x40_1200]
        let stack = scene.walk(eip: 0x40_1010, esp: 0x8000, ebp: 0x8010)
        #expect(stack.frames.count == 1)
        #expect(stack.warnings.isEmpty)
    }

    @Test func chainIntoUnknownCodeIsKeptWhenNothingElseIsFound() {
        var scene = X86Scene()
        scene.words = [0x8010: 0x8100, 0x8014: 0x7700_0000]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x8010)
        #expect(frame?.trust == .framePointer)
        #expect(frame?.pc == 0x7700_0000)
    }

    @Test func chainIntoUnknownCodeLosesToAScan() {
        var scene = X86Scene()
        scene.words = [0x8004: 0x40_1400, 0x8010: 0x8100, 0x8014: 0x7700_0000]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0x8010)
        #expect(frame?.trust == .scan)
        #expect(frame?.pc == 0x40_1400)
        #expect(frame?.registers.sp == 0x8008)
        // The callee's EBP still lies above the caller's ESP: it is the caller's.
        #expect(frame?.registers.fp == 0x8010)
    }

    @Test func scanRestoresASavedEBPBelowTheReturnAddress() {
        var scene = X86Scene()
        scene.words = [0x8000: 3, 0x8004: 0x8040, 0x8008: 0x40_1400, 0x8040: 0]
        let frame = scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0)
        #expect(frame?.registers.fp == 0x8040)
        #expect(frame?.registers.sp == 0x800C)
    }

    @Test func scanPrefersReturnAddressesAfterCalls() {
        var scene = X86Scene()
        var bytes = ByteImage.ending(at: 0x1100, with: [0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90])
        bytes.merge(ByteImage.ending(at: 0x1200, with: [0x90, 0x90, 0xE8, 1, 2, 3, 4])) { $1 }
        scene.words = [0x8000: 0x40_1100, 0x8004: 0x40_1200]
        scene.image = ByteImage(bytes: bytes)
        #expect(scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0)?.pc == 0x40_1200)
        // Without the code, the first candidate in the module is taken.
        scene.image = nil
        #expect(scene.caller(eip: 0x40_1010, esp: 0x8000, ebp: 0)?.pc == 0x40_1100)
    }

    @Test(
        arguments: [
            ([0x90, 0x90, 0xE8, 0x10, 0x20, 0x30, 0x40], true),  // call rel32
            ([0x90, 0xFF, 0x15, 0x00, 0x10, 0x40, 0x00], true),  // call [disp32] (imports)
            ([0x90, 0x90, 0x90, 0x90, 0x90, 0xFF, 0xD0], true),  // call eax
            ([0x90, 0x90, 0x90, 0x90, 0x90, 0xFF, 0x10], true),  // call [eax]
            ([0x90, 0x90, 0x90, 0x90, 0xFF, 0x55, 0x08], true),  // call [ebp+8]
            ([0x90, 0x90, 0x90, 0xFF, 0x54, 0x24, 0x04], true),  // call [esp+4]
            ([0x90, 0x90, 0xFF, 0x90, 0x00, 0x01, 0x00], false),  // call [eax+disp32] cut short: not a call here
            ([0x90, 0xFF, 0x90, 0x00, 0x01, 0x00, 0x00], true),  // call [eax+disp32]
            ([0xFF, 0x14, 0x85, 0x00, 0x10, 0x40, 0x00], true),  // call [eax*4+disp32]
            ([0x90, 0xFF, 0x25, 0x00, 0x10, 0x40, 0x00], false),  // jmp [disp32]
            ([0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xC3], false),
            ([0x90, 0x90, 0x90, 0x90, 0x90, 0xFF, 0x15], false),  // FF /2 with disp32 needs 6 bytes
        ] as [([UInt8], Bool)])
    func callInstructionsBeforeAReturnAddress(code: [UInt8], isCall: Bool) {
        #expect(StackWalker.endsWithCall(code) == isCall)
    }

    @Test func stackAtTheTopOfTheAddressSpace() {
        var scene = X86Scene()
        scene.stackWin = [
            X86Scene.record(rva: 0x1000, savedRegisters: 8, locals: 16, program: X86StackWinTests.searchProgram),
            X86Scene.record(StackWinRecord.fpo, rva: 0x1200, savedRegisters: 8, locals: 16, allocatesBasePointer: true),
        ]
        scene.words = [0xFFFF_FFF8: 0xFFFF_FFFC, 0xFFFF_FFFC: 0x40_1210]
        for eip: UInt64 in [0x40_1010, 0x40_1210, 0x40_1400] {
            for (esp, ebp) in [
                (UInt64(0xFFFF_FFF8), UInt64(0xFFFF_FFFC)), (0xFFFF_FFFC, 0xFFFF_FFF8), (0xFFFF_FFFF, 0xFFFF_FFFF),
            ] {
                let stack = scene.walk(eip: eip, esp: esp, ebp: ebp)
                #expect(stack.frames.count <= 2)
            }
        }
    }

    @Test func frameLimitBoundsAnEndlessChain() {
        var scene = X86Scene()
        scene.limits = WalkLimits(maximumFrames: 50)
        for index in 0..<200 {
            let ebp = 0x10_0000 + UInt64(index) * 16
            scene.words[ebp] = ebp + 16
            scene.words[ebp + 4] = 0x40_1000 + UInt64(index)
        }
        let stack = scene.walk(eip: 0x40_1010, esp: 0xF_FFF0, ebp: 0x10_0000)
        #expect(stack.frames.count == 50)
        #expect(stack.warnings.count == 1)
    }
}
