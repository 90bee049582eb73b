import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("x64 unwind data", .ownThread)
struct X64UnwindTests {
    static let images = peFixtures(machine: Machine.amd64.rawValue)

    @Test("the x64 fixtures include images with .pdata")
    func present() throws {
        #expect(Self.images.count >= 15, "found \(Self.images.count)")
    }

    @Test("RUNTIME_FUNCTION entries agree with pefile", arguments: images)
    func functionsMatchPefile(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let expected = (oracle["pdata"] as? [[Any]] ?? []).map { $0.compactMap(u64) }
        let ours = (try image.x64FunctionTable()?.functions ?? []).map {
            [UInt64($0.beginAddress), UInt64($0.endAddress), UInt64($0.unwindInfoAddress)]
        }
        if relative(path).hasSuffix("cfi_chained_loop.exe") {
            // pefile stops after the first entry of this crafted table; the rest is what the directory size covers.
            #expect(Array(ours.prefix(expected.count)) == expected)
        } else {
            #expect(ours == expected)
        }
    }

    @Test("UNWIND_INFO headers and code operations agree with pefile", arguments: images)
    func unwindMatchesPefile(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let expected = oracle["unwind"] as? [Any] ?? []
        let functions = try image.x64FunctionTable()?.functions ?? []
        var compared = 0
        for (function, theirs) in zip(functions, expected) {
            guard let theirs = theirs as? [String: Any] else { continue }
            let info = try X64UnwindInfo(at: function.unwindInfoAddress, in: image)
            let header = (theirs["header"] as? [Any] ?? []).compactMap(u64)
            #expect(
                header == [
                    UInt64(info.version), UInt64(info.flags.rawValue), UInt64(info.sizeOfProlog), UInt64(info.countOfCodes),
                    UInt64(info.frameRegister?.rawValue ?? 0), UInt64(info.frameOffset),
                ])
            let codes = (theirs["codes"] as? [[Any]] ?? []).map { $0.compactMap(u64) }
            #expect(codes == info.codes.map { [UInt64($0.codeOffset), UInt64($0.rawOperation)] })
            if let handler = u64(theirs["handler"]) { #expect(info.exceptionHandler.map(UInt64.init) == handler) }
            #expect(u64(theirs["chained"]) == info.chainedFunction.map { UInt64($0.beginAddress) })
            compared += 1
        }
        #expect(compared > 0)
    }

    @Test("UNWIND_INFO and decoded codes agree with llvm-readobj --unwind", arguments: images)
    func unwindMatchesLLVM(path: String) throws {
        let image = try PEImage(path: path)
        let (root, complete) = try llvmReadobj(["--unwind"], path)
        // LLVM 14 aborts part-way through three dump_syms DLLs; what it printed before is compared.
        let known = ["basic64.dll", "basic-opt64.dll", "mozwer.dll"]
        #expect(complete || known.contains { relative(path).hasSuffix("windows/" + $0) })
        let blocks = (root.first("UnwindInformation")?.all("RuntimeFunction") ?? []).filter(\.closed)
        let table = try #require(try image.x64FunctionTable())
        // LLVM 14 walks the whole `.pdata` section rather than the directory's Size, so it can
        // list more entries than the function table has (cfi_chained_loop.exe, pe_only_symbol_test.dll).
        #expect(blocks.count >= table.functions.count || !complete)
        #expect(!blocks.isEmpty)
        let base = image.optionalHeader.imageBase
        var compared = 0
        for (function, block) in zip(table.functions, blocks) {
            #expect(block.number("StartAddress") == base &+ UInt64(function.beginAddress))
            #expect(block.number("EndAddress") == base &+ UInt64(function.endAddress))
            #expect(block.number("UnwindInfoAddress") == base &+ UInt64(function.unwindInfoAddress))
            guard let expected = block.first("UnwindInfo") else { continue }
            let info = try X64UnwindInfo(at: function.unwindInfoAddress, in: image)
            compared += 1
            #expect(expected.number("Version") == UInt64(info.version))
            #expect(expected.first("Flags").flatMap { ReadobjNode.number(in: $0.value) } == UInt64(info.flags.rawValue))
            #expect(expected.number("PrologSize") == UInt64(info.sizeOfProlog))
            #expect(expected.number("UnwindCodeCount") == UInt64(info.countOfCodes))
            #expect(expected["FrameRegister"] == (info.frameRegister.map { "\($0) (0x\(hex($0.rawValue)))" } ?? "-"))
            #expect(expected["FrameOffset"] == (info.frameRegister == nil ? "-" : "0x\(hex(info.frameOffset))"))
            let codes = expected.first("UnwindCodes")?.children.map { "\($0.name): \($0.value)" } ?? []
            #expect(codes == info.codes.map { Self.llvmText($0, info: info) })
            if let handler = expected.number("Handler") {
                #expect(info.exceptionHandler.map { base &+ UInt64($0) } == handler)
            }
            if let chained = expected.first("Chained") {
                let parent = try #require(info.chainedFunction)
                #expect(chained.number("StartAddress") == base &+ UInt64(parent.beginAddress))
                #expect(chained.number("UnwindInfoAddress") == base &+ UInt64(parent.unwindInfoAddress))
            } else {
                #expect(info.chainedFunction == nil)
            }
        }
        #expect(compared > 0)
    }

    /// The line llvm-readobj (Win64EHDumper) prints for a code.
    static func llvmText(_ code: X64UnwindCode, info: X64UnwindInfo) -> String {
        let prefix = "0x\(hex(code.codeOffset, width: 2))"
        let body: String
        switch code.operation {
        case .pushNonvolatile(let register): body = "PUSH_NONVOL reg=\(register)"
        case .allocate(let size): body = (code.rawOperation == 1 ? "ALLOC_LARGE" : "ALLOC_SMALL") + " size=\(size)"
        case .setFramePointer:
            body = "SET_FPREG reg=\(info.frameRegister.map { "\($0)" } ?? "-"), offset=0x\(hex(UInt32(info.frameOffset) * 16))"
        case .saveNonvolatile(let register, let offset):
            body = (code.rawOperation == 4 ? "SAVE_NONVOL" : "SAVE_NONVOL_FAR") + " reg=\(register), offset=0x\(hex(offset))"
        case .saveXMM128(let register, let offset):
            body = (code.rawOperation == 8 ? "SAVE_XMM128" : "SAVE_XMM128_FAR") + " reg=XMM\(register), offset=0x\(hex(offset))"
        case .pushMachineFrame(let withErrorCode): body = "PUSH_MACHFRAME errcode=\(withErrorCode ? "yes" : "no")"
        case .epilog, .spare: body = "?"
        }
        return prefix + ": " + body
    }

    @Test("lookup by RVA finds the entry by binary search", arguments: images)
    func lookup(path: String) throws {
        let image = try PEImage(path: path)
        guard let table = try image.x64FunctionTable(), !table.functions.isEmpty else { return }
        let sorted = zip(table.functions, table.functions.dropFirst()).allSatisfy { $0.beginAddress <= $1.beginAddress }
        guard sorted else { return }
        for function in table.functions.prefix(500) where function.beginAddress < function.endAddress {
            #expect(table.function(containing: function.beginAddress) == function)
            #expect(table.function(containing: function.endAddress - 1) == function)
        }
        #expect(table.function(containing: 0) == nil)
    }

    @Test("chained unwind info is followed to its parent", arguments: images)
    func chains(path: String) throws {
        let image = try PEImage(path: path)
        guard !relative(path).hasSuffix("cfi_chained_loop.exe") else { return }
        var chained = 0
        for function in try image.x64FunctionTable()?.functions ?? [] {
            let chain = try image.x64UnwindChain(for: function)
            #expect(!chain.isEmpty)
            for (child, parent) in zip(chain, chain.dropFirst()) {
                #expect(child.chainedFunction?.unwindInfoAddress == parent.rva)
            }
            #expect(chain.last?.chainedFunction == nil)
            if chain.count > 1 { chained += 1 }
        }
        if relative(path).hasSuffix("pe_only_symbol_test.dll") { #expect(chained > 0) }
    }

    @Test("a chain that loops back is an error, not a hang (symbolic's cfi_chained_loop.exe)")
    func chainedLoop() throws {
        let image = try PEImage(path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/cfi_chained_loop.exe"))
        let function = try #require(try image.x64FunctionTable()?.functions.first)
        let error = try #require(throws: ParseError.self) { try image.x64UnwindChain(for: function) }
        #expect(error.field == "UNWIND_INFO.ChainedFunction")
        // The entry's own unwind info still decodes: it chains to itself.
        let info = try X64UnwindInfo(at: function.unwindInfoAddress, in: image)
        #expect(info.chainedFunction == function)
    }

    @Test("version 2 epilog codes take one slot each (dump_syms' mozwer.dll)")
    func epilogCodes() throws {
        let image = try PEImage(path: TestEnvironment.shared("dump_syms/test_data/windows/mozwer.dll"))
        let table = try #require(try image.x64FunctionTable())
        let function = try #require(table.function(containing: 0x30C30))
        let info = try X64UnwindInfo(at: function.unwindInfoAddress, in: image)
        #expect(info.version == 2)
        #expect(
            info.codes.map(\.operation) == [
                .epilog(codeOffset: 3, info: 1), .epilog(codeOffset: 0, info: 0),
                .pushNonvolatile(X64Register(rawValue: 6)), .pushNonvolatile(X64Register(rawValue: 7)),
            ])
        #expect(info.codes.map(\.slots).reduce(0, +) == Int(info.countOfCodes))
    }

    @Test("a sample decoded by hand: CrashWithException.exe's first function")
    func sample() throws {
        let image = try PEImage(
            path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/CrashWithException.exe"))
        let table = try #require(try image.x64FunctionTable())
        let function = try #require(table.function(containing: 0x1020))
        #expect(function == RuntimeFunction(beginAddress: 0x1010, endAddress: 0x1065, unwindInfoAddress: 0x39C8))
        let info = try X64UnwindInfo(at: function.unwindInfoAddress, in: image)
        #expect(info.sizeOfProlog == 27)
        #expect(
            info.codes.map(\.operation) == [
                .allocate(size: 48), .pushNonvolatile(X64Register(rawValue: 7)),
                .pushNonvolatile(X64Register(rawValue: 6)), .pushNonvolatile(X64Register(rawValue: 3)),
            ])
        #expect(info.codes.map(\.codeOffset) == [0x1B, 0x17, 0x16, 0x15])
    }
}
