import BinaryReading
import BreakpadSymbols
import Foundation
import StackWalk
import Symbolication
import TestSupport
import Testing

/// The symbol cache answers the walker's questions (CFI rules, STACK WIN records, whether code is
/// known) exactly as the .sym file it was built from, so analyze can read caches instead of text.
@Suite("Unwind rules from the symbol cache", .ownThread)
struct CachedRulesTests {
    static let symFiles = TestEnvironment.sharedFiles(suffixes: [".sym"])

    static func samples(_ file: SymbolFile) -> [UInt64] {
        var out = [UInt64]()
        for record in file.cfi.prefix(300) {
            out += [
                record.address, record.address &+ record.size / 2, record.address &+ record.size &- 1,
                record.address &+ record.size,
            ]
            out += record.deltas.prefix(4).flatMap { [$0.address, $0.address &+ 1] }
        }
        for record in file.stackWin.prefix(300) {
            out += [record.rva, record.rva &+ record.codeSize / 2, record.rva &+ record.codeSize]
        }
        for function in file.functions.prefix(300) { out += [function.address, function.address &+ function.size] }
        out += file.publics.prefix(100).flatMap { [$0.address, $0.address &+ 1] }
        out += [0, 1, UInt64.max]
        return out
    }

    @Test("the same CFI rules, STACK WIN records and code coverage as the .sym", arguments: symFiles)
    func sameAnswers(path: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: no .sym files to compare")
        let file = try SymbolFile(path: path)
        let cache = try SymbolCache(bytes: MappedFile(bytes: SymbolCache.build(from: file)).bytes)
        var compared = 0
        for rva in Self.samples(file) {
            #expect(cache.hasSymbol(at: rva) == file.hasFunction(at: rva), "hasFunction at 0x\(String(rva, radix: 16))")
            let expectedCFI = file.cfi(at: rva).map { CFIRuleSet(record: $0, rva: rva) }
            let cachedCFI = cache.cfiRecord(at: rva).map { CFIRuleSet(record: $0, rva: rva) }
            #expect(cachedCFI == expectedCFI, "CFI at 0x\(String(rva, radix: 16))")
            #expect(cache.stackWinRecord(at: rva) == file.stackWin(at: rva), "STACK WIN at 0x\(String(rva, radix: 16))")
            compared += 1
        }
        #expect(compared > 3)
    }
}
