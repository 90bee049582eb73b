import Analysis
import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@testable import StackWalk

/// Memory in which every aligned 8-byte word holds its own address: a register loaded from the stack
/// then tells where it was loaded from.
struct IdentityMemory: StackMemory {
    var range: Range<UInt64>

    func bytes(at address: UInt64, count: Int) -> [UInt8]? {
        guard count == 8, address % 8 == 0, range.contains(address) else { return nil }
        return (0..<8).map { UInt8(truncatingIfNeeded: address >> (8 * UInt64($0))) }
    }
}

/// The ARM64 test image of symbolic's fixtures (MSVC, packed and unpacked unwind data, PAC-signed frames).
private struct ARM64TestImage {
    static let path = "symbolic/symbolic-testutils/fixtures/windows/arm64/test.exe"
    let pe: PEImage
    let image: MappedPEImage
    let base: UInt64
    let table: ARM64LoadedUnwindTable
    let read: ARM64LoadedUnwindTable.ReadBytes

    init() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the ARM64 unwind tests cannot run")
        pe = try PEImage(path: TestEnvironment.shared(Self.path))
        let image = MappedPEImage(pe)
        self.image = image
        base = pe.optionalHeader.imageBase
        let read: ARM64LoadedUnwindTable.ReadBytes = { image.bytes(atRVA: UInt64($0), count: $1) }
        self.read = read
        table = try #require(ARM64LoadedUnwindTable(read: read))
    }

    var functions: [ARM64RuntimeFunction] { (0..<table.count).compactMap { table.entry($0, read: read) } }

    func walker(memory: any StackMemory) -> StackWalker {
        StackWalker(
            architecture: .arm64,
            modules: ModuleSet([
                WalkModule(base: base, size: UInt64(pe.optionalHeader.sizeOfImage), name: "test.exe", image: image)
            ]),
            memory: memory)
    }
}

/// Rules of one function as symbolic's CFI snapshot states them after the whole prolog:
/// `.cfa` as an sp offset, every saved register as an offset below the CFA.
private struct SymbolicBodyRules {
    var cfaOffset: UInt64
    var savedBelowCFA: [String: UInt64]

    /// Reads `STACK CFI INIT` records and their deltas, merged, keyed by function RVA.
    static func parse(_ text: String) -> [UInt64: SymbolicBodyRules] {
        var result = [UInt64: [String: String]]()
        var current: UInt64?
        for line in text.split(separator: "\n") {
            var tokens = line.split(separator: " ").map(String.init)
            guard tokens.first == "STACK", tokens.count > 2, tokens[1] == "CFI" else { continue }
            if tokens[2] == "INIT" {
                guard let address = UInt64(tokens[3], radix: 16) else { continue }
                current = address
                result[address] = [:]
                tokens.removeFirst(5)
            } else {
                tokens.removeFirst(3)
            }
            guard let function = current else { continue }
            var name: String?
            var expression = [String]()
            for token in tokens + ["end:"] {
                if token.hasSuffix(":") {
                    if let name { result[function]?[name] = expression.joined(separator: " ") }
                    name = String(token.dropLast())
                    expression = []
                } else {
                    expression.append(token)
                }
            }
        }
        return result.compactMapValues { rules in
            let cfa = rules[".cfa"]?.split(separator: " ") ?? []
            guard cfa.count == 3, cfa[0] == ".sp", cfa[2] == "+", let offset = UInt64(cfa[1]) else { return nil }
            var saved = [String: UInt64]()
            for (name, rule) in rules where name.hasPrefix(".x") {
                let parts = rule.split(separator: " ")
                if parts.count == 4, parts[0] == ".cfa", let below = Int64(parts[1]), below < 0 {
                    saved[String(name.dropFirst())] = UInt64(-below)
                }
            }
            return SymbolicBodyRules(cfaOffset: offset, savedBelowCFA: saved)
        }
    }
}

@Suite("Windows ARM64 unwind data", .ownThread)
struct ARM64WindowsUnwindTests {
    /// The table found through the image's own headers read by RVA equals the PE reader's, and every
    /// function's unwind data decodes the same both ways.
    @Test func tableByRVAMatchesThePEReader() throws {
        let test = try ARM64TestImage()
        let fromPE = try #require(try test.pe.arm64FunctionTable())
        #expect(test.table.count == fromPE.functions.count)
        #expect(test.functions == fromPE.functions)
        for function in test.functions {
            let byRVA = try test.table.unwind(for: function, read: test.read)
            #expect(byRVA == (try test.pe.arm64Unwind(for: function)))
        }
    }

    /// The decoding agrees with `llvm-readobj --unwind`: function starts, packed fields, prolog and epilog
    /// code bytes and epilog scopes.
    @Test func decodingMatchesLLVMReadobj() throws {
        let test = try ARM64TestImage()
        let result = try runProcess("llvm-readobj", ["--unwind", TestEnvironment.shared(ARM64TestImage.path)])
        try #require(result.status == 0, "llvm-readobj failed: \(result.stderrText)")
        let blocks = result.stdoutText.components(separatedBy: "RuntimeFunction {").dropFirst()
        let functions = test.functions
        #expect(blocks.count == functions.count)
        var comparedUnpacked = 0
        var comparedPacked = 0
        for (block, function) in zip(blocks, functions) {
            let lines = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            func field(_ name: String) -> String? {
                lines.first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) }
            }
            let start = try #require(field("Function").flatMap { UInt64($0.dropFirst(2), radix: 16) })
            #expect(start == test.base + UInt64(function.beginAddress))
            switch try test.table.unwind(for: function, read: test.read) {
            case .packed(let packed):
                #expect(field("FunctionLength") == String(packed.functionLength))
                #expect(field("RegF") == String(packed.regF))
                #expect(field("RegI") == String(packed.regI))
                #expect(field("HomedParameters") == (packed.homesParameters ? "Yes" : "No"))
                #expect(field("CR") == String(packed.cr))
                #expect(field("FrameSize") == String(packed.frameSize))
                comparedPacked += 1
            case .unpacked(let info):
                #expect(field("FunctionLength") == String(info.functionLength))
                // Opcode lines read `0xca08              ; stp x27, x28, [sp, #64]`: one line per code, its
                // bytes as one hex number first.
                let opcodeLines = lines.filter { $0.hasPrefix("0x") && $0.contains(";") }
                let printed = opcodeLines.map { line in
                    let digits = Array(line.split(separator: " ")[0].dropFirst(2))
                    return stride(from: 0, to: digits.count - 1, by: 2).compactMap {
                        UInt8(String(digits[$0...($0 + 1)]), radix: 16)
                    }
                }
                var ours = info.prologCodes.map { Array(info.codeBytes[$0.index..<($0.index + $0.length)]) }
                // llvm-readobj prints no separate epilog when a packed-in-header (`E`) epilog shares the
                // prolog's codes (index 0).
                for index in info.epilogStartIndices where !(info.singleEpilogPacked && index == 0) {
                    ours += try info.epilogCodes(startingAt: index).map {
                        Array(info.codeBytes[$0.index..<($0.index + $0.length)])
                    }
                }
                #expect(printed == ours, "function 0x\(String(start, radix: 16))")
                let offsets = lines.filter { $0.hasPrefix("StartOffset: ") }.compactMap { UInt32($0.dropFirst(13)) }
                if !info.singleEpilogPacked {
                    #expect(offsets.map { $0 * 4 } == info.epilogScopes.map(\.startOffset))
                }
                comparedUnpacked += 1
            }
        }
        #expect(comparedUnpacked > 100)
        #expect(comparedPacked > 300)
    }

    /// At the first instruction after each function's prolog, over a stack in which every word holds its
    /// address, the unwinder's CFA and the slots it restores registers from are those symbolic's
    /// converter states for the same function (test_cfi__cfi_pe_arm64.snap).
    @Test func bodyUnwindMatchesSymbolicCFI() throws {
        let test = try ARM64TestImage()
        let snapshot = try String(
            contentsOfFile: TestEnvironment.shared("symbolic/symbolic-cfi/tests/snapshots/test_cfi__cfi_pe_arm64.snap"),
            encoding: .utf8)
        let symbolic = SymbolicBodyRules.parse(snapshot)
        let bodySP: UInt64 = 0x10_0000
        let walker = test.walker(memory: IdentityMemory(range: bodySP..<(bodySP + 0x10_0000)))
        var compared = 0
        for function in test.functions {
            guard let rules = symbolic[UInt64(function.beginAddress)] else { continue }
            let unwind = try test.table.unwind(for: function, read: test.read)
            let prolog = WindowsARM64Program.operations(for: unwind, offset: 0x7FFF_FFFC, exactOffset: false)
            // x29 as the prolog leaves it, when its last instruction sets it from sp.
            var registers = RegisterSet(architecture: .arm64)
            switch prolog.first {
            case .setFP?: registers[29] = bodySP
            case .addFP(let offset)?: registers[29] = bodySP + UInt64(offset)
            default:
                if prolog.contains(where: { if case .addFP = $0 { true } else { $0 == .setFP } }) { continue }
            }
            registers.sp = bodySP
            registers[30] = 0xDEAD_0000
            let prologBytes = UInt64(prolog.count) * 4
            registers.pc = test.base + UInt64(function.beginAddress) + prologBytes
            let caller = try #require(walker.windowsARM64Caller(of: StackFrame(registers: registers, trust: .context)))
            let cfa = try #require(caller.registers.sp)
            #expect(cfa - bodySP == rules.cfaOffset, "function 0x\(String(function.beginAddress, radix: 16)) CFA")
            for (name, below) in rules.savedBelowCFA {
                let index = try #require(RegisterSet.index(of: name, in: .arm64))
                let restored = index == 30 ? caller.registers.pc : caller.registers[index]
                #expect(restored == cfa - below, "function 0x\(String(function.beginAddress, radix: 16)) \(name)")
            }
            compared += 1
        }
        #expect(compared > 100)
    }

    /// Synthetic frames laid out as each function's prolog would lay them out: from the first body
    /// instruction, from inside the prolog and as a caller frame, the walker recovers the entry stack
    /// pointer, the return address (stripped of a pointer signature) and every saved register.
    @Test func syntheticPrologStacksUnwind() throws {
        let test = try ARM64TestImage()
        let returnAddress = test.base + 0x1234
        var checked = 0
        for function in test.functions {
            let unwind = try test.table.unwind(for: function, read: test.read)
            let operations = WindowsARM64Program.operations(for: unwind, offset: 0x7FFF_FFFC, exactOffset: false)
            let execution = Array(operations.reversed())
            guard execution.allSatisfy(Self.canSimulate) else { continue }
            for executed in [execution.count, execution.count / 2] {
                var frame = SimulatedPrologFrame(entrySP: 0x20_0000, returnAddress: returnAddress)
                for operation in execution.prefix(executed) { frame.run(operation) }
                let offset = UInt64(executed) * 4
                var registers = frame.registers
                registers.sp = frame.sp
                registers.pc = test.base + UInt64(function.beginAddress) + offset
                let walker = test.walker(memory: WordMemory(words: frame.stack, wordSize: 8))
                let name = "function 0x\(String(function.beginAddress, radix: 16)) after \(executed) prolog instructions"
                let caller = try #require(
                    walker.windowsARM64Caller(of: StackFrame(registers: registers, trust: .context)), "\(name)")
                #expect(caller.registers.sp == 0x20_0000, "\(name)")
                #expect(caller.registers.pc == returnAddress, "\(name)")
                for register in 19...29 {
                    #expect(caller.registers[register] == SimulatedPrologFrame.original(register), "\(name) x\(register)")
                }
                checked += 1
            }
        }
        #expect(checked > 300)
    }

    static func canSimulate(_ operation: ARM64UnwindOperation) -> Bool {
        switch operation {
        case .allocateScalableVectors, .trapFrame, .machineFrame, .context, .ecContext, .reserved, .saveAnyRegister,
            .saveNext:
            return false
        default: return true
        }
    }
}

/// Runs prolog instructions forwards over a stack of words: the registers a function finds on entry are
/// stored where its unwind codes say, then overwritten as its body would.
private struct SimulatedPrologFrame {
    var sp: UInt64
    var registers = RegisterSet(architecture: .arm64)
    var stack = [UInt64: UInt64]()

    static func original(_ register: Int) -> UInt64 { 0x5A5A_0000 + UInt64(register) }

    init(entrySP: UInt64, returnAddress: UInt64) {
        sp = entrySP
        for register in 19...29 { registers[register] = Self.original(register) }
        registers[30] = returnAddress
    }

    mutating func store(_ register: Int, at offset: UInt32) {
        stack[sp + UInt64(offset)] = registers[register] ?? 0
        // The body reuses a saved register; only the stored copy keeps the caller's value.
        registers[register] = 0xBAD0_0000 + UInt64(register)
    }

    mutating func run(_ operation: ARM64UnwindOperation) {
        switch operation {
        case .allocate(let size): sp -= UInt64(size)
        case .saveR19R20PreIndexed(let offset):
            sp -= UInt64(offset)
            store(19, at: 0)
            store(20, at: 8)
        case .saveFPLR(let offset):
            store(29, at: offset)
            store(30, at: offset + 8)
        case .saveFPLRPreIndexed(let offset):
            sp -= UInt64(offset)
            store(29, at: 0)
            store(30, at: 8)
        case .saveRegisterPair(let first, let offset):
            store(19 + Int(first), at: offset)
            store(20 + Int(first), at: offset + 8)
        case .saveRegisterPairPreIndexed(let first, let offset):
            sp -= UInt64(offset)
            store(19 + Int(first), at: 0)
            store(20 + Int(first), at: 8)
        case .saveRegister(let number, let offset): store(19 + Int(number), at: offset)
        case .saveRegisterPreIndexed(let number, let offset):
            sp -= UInt64(offset)
            store(19 + Int(number), at: 0)
        case .saveLRPair(let number, let offset):
            store(19 + 2 * Int(number), at: offset)
            store(30, at: offset + 8)
        case .saveFPRegisterPairPreIndexed(_, let offset), .saveFPRegisterPreIndexed(_, let offset): sp -= UInt64(offset)
        case .setFP: registers[29] = sp
        case .addFP(let offset): registers[29] = sp + UInt64(offset)
        // pacibsp signs lr before it is stored; the unwinder must strip the signature.
        case .pacSignLR: registers[30] = (registers[30] ?? 0) | 0x0023_0000_0000_0000
        default: break
        }
    }
}
