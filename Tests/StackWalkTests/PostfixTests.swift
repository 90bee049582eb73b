import BreakpadSymbols
import TestSupport
import Testing

@testable import StackWalk

/// Memory made of a few words, for evaluator and unwinder tests.
struct WordMemory: StackMemory {
    var words: [UInt64: UInt64]
    var wordSize: Int

    func bytes(at address: UInt64, count: Int) -> [UInt8]? {
        guard count == wordSize, let value = words[address] else { return nil }
        return (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}

@Suite(.ownThread) struct PostfixTests {
    @Test func arithmeticAndDereference() {
        let memory = WordMemory(words: [0x1010: 0xDEAD_BEEF], wordSize: 4)
        var evaluator = PostfixEvaluator(memory: memory, wordSize: 4) { name in name == "$esp" ? 0x1000 : nil }
        let value1 = evaluator.evaluate("$esp 16 + ^")
        #expect(value1 == 0xDEAD_BEEF)
        let value2 = evaluator.evaluate("$esp -8 +")
        #expect(value2 == 0xFF8)
        #expect(evaluator.evaluate("$esp 0x30 @") == nil)  // 0x30 is not a power of two
        let value3 = evaluator.evaluate("$esp 7 + 8 @")
        #expect(value3 == 0x1000)
        let value4 = evaluator.evaluate("10 0 /")
        #expect(value4 == nil)
        let value5 = evaluator.evaluate("1 +")
        #expect(value5 == nil)
        let value6 = evaluator.evaluate("$unknown")
        #expect(value6 == nil)
    }

    @Test func wrapsAtTheWordSize() {
        var evaluator = PostfixEvaluator(memory: NoMemory(), wordSize: 4) { _ in nil }
        let value7 = evaluator.evaluate("0xffffffff 2 +")
        #expect(value7 == 1)
        var wide = PostfixEvaluator(memory: NoMemory(), wordSize: 8) { _ in nil }
        let value8 = wide.evaluate("0xffffffff 2 +")
        #expect(value8 == 0x1_0000_0001)
    }

    @Test func frameDataProgramAssigns() {
        // The program Breakpad writes for an EBP frame.
        let memory = WordMemory(words: [0x2000: 0x3000, 0x2004: 0x40_1234], wordSize: 4)
        var evaluator = PostfixEvaluator(memory: memory, wordSize: 4) { name in name == "$ebp" ? 0x2000 : nil }
        let ok = evaluator.execute("$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =")
        #expect(ok)
        #expect(evaluator.assigned["$eip"] == 0x40_1234)
        #expect(evaluator.assigned["$ebp"] == 0x3000)
        #expect(evaluator.assigned["$esp"] == 0x2008)
        let incomplete = evaluator.execute("$T0 =")
        let assignsToANumber = evaluator.execute("5 6 =")
        #expect(!incomplete)
        #expect(!assignsToANumber)
    }

    @Test func cfiRulesMergeDeltasUpToTheAddress() {
        let record = CFIRecord(
            address: 0x100, size: 0x20, rules: ".cfa: $rsp 8 + .ra: .cfa -8 + ^",
            deltas: [
                .init(address: 0x104, rules: ".cfa: $rsp 16 + $rbp: .cfa -16 + ^"),
                .init(address: 0x110, rules: ".cfa: $rbp 16 +"),
            ])
        #expect(CFIRuleSet(record: record, rva: 0x100).rules == [".cfa": "$rsp 8 +", ".ra": ".cfa -8 + ^"])
        let middle = CFIRuleSet(record: record, rva: 0x108)
        #expect(middle.rules[".cfa"] == "$rsp 16 +")
        #expect(middle.rules["$rbp"] == ".cfa -16 + ^")
        #expect(CFIRuleSet(record: record, rva: 0x11f).rules[".cfa"] == "$rbp 16 +")

        var callee = RegisterSet(architecture: .amd64)
        callee["rsp"] = 0x7000
        callee["rip"] = 0x1_0000_0108
        callee["rbx"] = 42
        let memory = WordMemory(words: [0x7008: 0x1_0000_2000, 0x7000: 0x7100], wordSize: 8)
        let recovered = middle.recover(callee: callee, memory: memory)
        #expect(recovered?.cfa == 0x7010)
        #expect(recovered?.returnAddress == 0x1_0000_2000)
        #expect(recovered?.registers[6] == 0x7100)
    }
}

@Suite(.ownThread) struct GenericWalkTests {
    @Test func testDumpWalksWithSymbolsToKernel32() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the fixture walks cannot run")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared("rust-minidump/testdata/test.dmp"))
        let symbols = TestEnvironment.shared("breakpad/src/processor/testdata/symbols")
        let modules = try harness.moduleSet(symbolFiles: [
            "test_app.exe": symbols + "/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
            "kernel32.dll": symbols + "/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym",
        ])
        let stack = try #require(try harness.walk(threadID: 0xbf4, modules: modules))
        // The first frames of Breakpad's golden minidump2.stackwalk.out.
        let described = harness.describe(stack, modules: modules)
        #expect(described.first == "test_app.exe + 0x429e (context)")
        #expect(stack.frames.count >= 2)
    }
}
