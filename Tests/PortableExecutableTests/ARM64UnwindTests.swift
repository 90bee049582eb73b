import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("ARM64 unwind data", .ownThread)
struct ARM64UnwindTests {
    static let images = peFixtures(machine: Machine.arm64.rawValue)

    @Test("the ARM64 fixtures are present")
    func present() {
        #expect(Self.images.count >= 3, "found \(Self.images.count)")
    }

    @Test(".pdata, packed fields and .xdata records agree with llvm-readobj --unwind", arguments: images)
    func matchesLLVM(path: String) throws {
        let image = try PEImage(path: path)
        let (root, complete) = try llvmReadobj(["--unwind"], path)
        #expect(complete)
        let blocks = root.first("UnwindInformation")?.all("RuntimeFunction") ?? []
        let table = try #require(try image.arm64FunctionTable())
        #expect(blocks.count == table.functions.count)
        let base = image.optionalHeader.imageBase
        var packedPrologs = 0
        for (function, block) in zip(table.functions, blocks) {
            #expect(block.number("Function") == base &+ UInt64(function.beginAddress))
            switch try image.arm64Unwind(for: function) {
            case .packed(let packed):
                #expect(block["Fragment"] == (packed.flag == 2 ? "Yes" : "No"))
                #expect(block.number("FunctionLength") == UInt64(packed.functionLength))
                #expect(block.number("RegF") == UInt64(packed.regF))
                #expect(block.number("RegI") == UInt64(packed.regI))
                #expect(block["HomedParameters"] == (packed.homesParameters ? "Yes" : "No"))
                #expect(block.number("CR") == UInt64(packed.cr))
                #expect(block.number("FrameSize") == UInt64(packed.frameSize))
                // LLVM 14 predates CR = 2 (pacibsp, chained) and prints such prologs as unchained;
                // compare the canonical prolog where its printer and the current specification agree.
                if packed.cr != 2, !packed.homesParameters, packed.regF == 0, packed.flag == 1 {
                    let lines = block.first("Prologue")?.children.map(\.name) ?? []
                    #expect(packed.codes.map(Self.assembly) == lines, "function 0x\(hex(function.beginAddress))")
                    packedPrologs += 1
                }
            case .unpacked(let info):
                #expect(block.number("ExceptionRecord") == base &+ UInt64(function.unwindData))
                let data = try #require(block.first("ExceptionData"))
                #expect(data.number("FunctionLength") == UInt64(info.functionLength))
                #expect(data.number("Version") == UInt64(info.version))
                #expect(data["ExceptionData"] == (info.hasExceptionData ? "Yes" : "No"))
                #expect(data["EpiloguePacked"] == (info.singleEpilogPacked ? "Yes" : "No"))
                #expect(data.number("ByteCodeLength") == UInt64(info.codeWords * 4))
                #expect(Self.opcodes(data.first("Prologue")) == info.prologCodes.map { Self.bytes($0, info) })
                #expect(data.first("ExceptionHandler")?.number("Routine") == info.exceptionHandler.map { base &+ UInt64($0) })
                if info.singleEpilogPacked {
                    #expect(data.number("EpilogueOffset") == UInt64(info.epilogCount))
                    let codes = try info.epilogCodes(startingAt: info.epilogStartIndices[0])
                    if let epilogue = data.first("Epilogue") {
                        #expect(Self.opcodes(epilogue) == codes.map { Self.bytes($0, info) })
                    } else {
                        // LLVM 14 prints no epilogue when it starts at index 0, sharing the prolog's codes.
                        #expect(info.epilogStartIndices == [0])
                    }
                } else {
                    #expect(data.number("EpilogueScopes") == UInt64(info.epilogScopes.count))
                    let scopes = data.all("EpilogueScopes").last?.all("EpilogueScope") ?? []
                    #expect(scopes.count == info.epilogScopes.count)
                    for (scope, expected) in zip(info.epilogScopes, scopes) {
                        #expect(expected.number("StartOffset").map { $0 * 4 } == UInt64(scope.startOffset))
                        #expect(expected.number("EpilogueStartIndex") == UInt64(scope.startIndex))
                        let codes = try info.epilogCodes(startingAt: Int(scope.startIndex))
                        #expect(Self.opcodes(expected.first("Opcodes")) == codes.map { Self.bytes($0, info) })
                    }
                }
            }
        }
        if relative(path).hasSuffix("arm64/test.exe") { #expect(packedPrologs > 50) }
    }

    /// The opcode bytes llvm-readobj lists (`0xd642 ; stp ...` gives `0xd642`).
    static func opcodes(_ node: ReadobjNode?) -> [String] {
        (node?.children ?? []).map { String($0.name.split(separator: " ").first ?? "") }
    }

    static func bytes(_ code: ARM64UnwindCode, _ info: ARM64UnwindInfo) -> String {
        "0x" + info.codeBytes[code.index..<(code.index + code.length)].map { hex($0, width: 2).lowercased() }.joined()
    }

    /// The prolog instruction LLVM 14 prints for a packed entry's code.
    static func assembly(_ operation: ARM64UnwindOperation) -> String {
        func x(_ n: UInt8) -> String { n == 11 ? "lr" : "x\(19 + Int(n))" }
        switch operation {
        case .allocate(let size): return "sub sp, sp, #\(size)"
        case .saveR19R20PreIndexed(let offset): return "stp x19, x20, [sp, #-\(offset)]!"
        case .saveRegisterPairPreIndexed(let first, let offset): return "stp \(x(first)), \(x(first + 1)), [sp, #-\(offset)]!"
        case .saveRegisterPair(let first, let offset): return "stp \(x(first)), \(x(first + 1)), [sp, #\(offset)]"
        case .saveRegister(let register, let offset): return "str \(x(register)), [sp, #\(offset)]"
        case .saveRegisterPreIndexed(let register, let offset): return "str \(x(register)), [sp, #-\(offset)]!"
        case .saveLRPair(let register, let offset): return "stp x\(19 + 2 * Int(register)), lr, [sp, #\(offset)]"
        case .saveFPLRPreIndexed(let offset): return "stp x29, lr, [sp, #-\(offset)]!"
        case .saveFPLR(let offset): return "stp x29, lr, [sp, #\(offset)]"
        case .setFP: return "mov x29, sp"
        case .end: return "end"
        default: return "\(operation)"
        }
    }

    @Test("packed entries' canonical prologs match the instructions llvm-objdump disassembles", arguments: images)
    func packedPrologsMatchCode(path: String) throws {
        let image = try PEImage(path: path)
        let table = try #require(try image.arm64FunctionTable())
        let result = try runProcess("/usr/bin/llvm-objdump", ["-d", "--no-show-raw-insn", path])
        #expect(result.status == 0)
        // "140001000:     \tsub\tsp, sp, #16" → address → "sub sp, sp, #16"
        var instructions = [UInt64: String]()
        for line in result.stdoutText.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"),
                let address = UInt64(line[..<colon].trimmingCharacters(in: .whitespaces), radix: 16)
            else { continue }
            let text = line[line.index(after: colon)...].split(whereSeparator: { $0 == "\t" || $0 == " " }).joined(separator: " ")
            instructions[address] = text.components(separatedBy: " //").first ?? text
        }
        let base = image.optionalHeader.imageBase
        var compared = 0
        for function in table.functions where function.flag == 1 {
            guard case .packed(let packed) = try image.arm64Unwind(for: function) else { continue }
            let prolog = packed.codes.dropLast().reversed().map(Self.objdumpText)
            guard !prolog.contains(nil) else { continue }
            let start = base &+ UInt64(function.beginAddress)
            let code = prolog.indices.map { instructions[start + UInt64($0 * 4)] ?? "<none>" }
            #expect(code == prolog.map { $0! }, "function 0x\(hex(start))")
            compared += 1
        }
        // CR = 2 (pacibsp, chained) entries are most of test.exe's packed ones; LLVM 14's unwind printer predates them.
        if relative(path).hasSuffix("arm64/test.exe") { #expect(compared > 300) }
    }

    /// The instruction llvm-objdump prints for a prolog code (nil for codes it has no single form for here).
    static func objdumpText(_ operation: ARM64UnwindOperation) -> String? {
        func x(_ n: UInt8) -> String { "x\(19 + Int(n))" }
        func at(_ offset: UInt32) -> String { offset == 0 ? "[sp]" : "[sp, #\(offset)]" }
        switch operation {
        case .pacSignLR: return "hint #27"
        case .allocate(let size): return size < 4096 ? "sub sp, sp, #\(size)" : nil
        case .saveR19R20PreIndexed(let offset): return "stp x19, x20, [sp, #-\(offset)]!"
        case .saveRegisterPairPreIndexed(let first, let offset): return "stp \(x(first)), \(x(first + 1)), [sp, #-\(offset)]!"
        case .saveRegisterPair(let first, let offset): return "stp \(x(first)), \(x(first + 1)), \(at(offset))"
        case .saveRegister(let register, let offset): return "str \(x(register)), \(at(offset))"
        case .saveRegisterPreIndexed(let register, let offset): return "str \(x(register)), [sp, #-\(offset)]!"
        case .saveLRPair(let register, let offset): return "stp x\(19 + 2 * Int(register)), x30, \(at(offset))"
        case .saveFPLRPreIndexed(let offset): return "stp x29, x30, [sp, #-\(offset)]!"
        case .saveFPLR(let offset): return "stp x29, x30, \(at(offset))"
        case .setFP: return "mov x29, sp"
        default: return nil
        }
    }

    @Test("unwind code lengths and decoding follow the specification's table")
    func codeTable() throws {
        // alloc_s 16; save_regp x21,x22 at 16; save_lrpair x21 at 16 (0xd642 in the generated fixture); alloc_l; end.
        let bytes: [UInt8] = [0x01, 0xC8, 0x82, 0xD6, 0x42, 0xE0, 0x00, 0x01, 0x00, 0xE4, 0x99]
        let codes = try ARM64UnwindCode.decode(bytes, fileOffset: 0)
        #expect(
            codes.map(\.operation) == [
                .allocate(size: 16), .saveRegisterPair(first: 2, offset: 16), .saveLRPair(register: 1, offset: 16),
                .allocate(size: 0x100 * 16), .end,
            ])
        #expect(codes.map(\.length) == [1, 2, 2, 4, 1])
        // A code whose operand bytes are missing is an error.
        #expect(throws: ParseError.self) { try ARM64UnwindCode.decode([0xE0, 0x00], fileOffset: 0x40) }
    }

    @Test("lookup by RVA finds the entry starting at or before it")
    func lookup() throws {
        let image = try PEImage(path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/arm64/test.exe"))
        let table = try #require(try image.arm64FunctionTable())
        #expect(table.function(containing: 0x1000)?.beginAddress == 0x1000)
        #expect(table.function(containing: 0x1004)?.beginAddress == 0x1000)
        #expect(table.function(containing: 0x1020)?.beginAddress == 0x1020)
        #expect(table.function(containing: 0xFFF) == nil)
    }
}
