import BinaryReading
import BreakpadSymbols
import Foundation
import Symbolication
import TestSupport
import Testing

@Suite("Symbol cache", .ownThread)
struct SymbolCacheTests {
    static let symFiles = TestEnvironment.sharedFiles(suffixes: [".sym"])

    /// Addresses worth asking about: function starts, middles and ends, line starts, inline ranges, publics, gaps.
    static func samples(_ file: SymbolFile) -> [UInt64] {
        var out = [UInt64]()
        for function in file.functions.prefix(3000) {
            out += [
                function.address, function.address &+ function.size / 2, function.address &+ function.size &- 1,
                function.address &+ function.size,
            ]
            out += function.lines.prefix(8).map(\.address)
            for record in function.inlines.prefix(8) { out += record.ranges.map(\.address) }
        }
        out += file.publics.prefix(500).flatMap { [$0.address, $0.address &+ 1] }
        out += [0, 1, UInt64.max]
        return out
    }

    @Test("the cache answers exactly as the .sym it was built from", arguments: symFiles)
    func sameAnswers(path: String) throws {
        let file = try SymbolFile(path: path)
        let cache = try SymbolCache(bytes: MappedFile(bytes: SymbolCache.build(from: file)).bytes)
        let direct = BreakpadSymbolProvider(file: file)
        #expect(cache.debugID == file.module?.id)
        #expect(cache.functionCount == file.functions.count)
        var checked = 0
        for address in Self.samples(file) {
            #expect(cache.frames(at: address) == direct.frames(at: address), "\(hex0x(address)) in \(path)")
            checked += 1
        }
        for record in file.cfi.prefix(2000) {
            let probe = record.deltas.last?.address ?? record.address
            #expect(cache.unwindRules(at: probe) == (file.cfi(at: probe)?.rules(at: probe) ?? []), "CFI at \(hex0x(probe))")
        }
        #expect(checked == Self.samples(file).count)
    }

    @Test("damaged or foreign caches are refused; another version is rebuilt")
    func validation() throws {
        let file = try SymbolFile(
            path: TestEnvironment.shared(
                "rust-minidump/testdata/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"))
        let bytes = SymbolCache.build(from: file)
        for cut in [0, 7, 8, 12, 50, 95, 96, bytes.count / 2, bytes.count - 1] {
            #expect(throws: ParseError.self) { try SymbolCache(bytes: MappedFile(bytes: Array(bytes[..<cut])).bytes) }
        }
        var wrongVersion = bytes
        wrongVersion[8] = 99
        #expect(throws: ParseError.self) { try SymbolCache(bytes: MappedFile(bytes: wrongVersion).bytes) }
        var hugeCount = bytes
        for k in 0..<4 { hugeCount[20 + k] = 0xFF }
        #expect(throws: ParseError.self) { try SymbolCache(bytes: MappedFile(bytes: hugeCount).bytes) }
        // Corrupt string references inside records never trap: lookups give empty names instead.
        var scribbled = bytes
        var random = UInt64(0x1234_5678)
        for _ in 0..<2000 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let at = 96 + Int(random >> 33) % (bytes.count - 96)
            scribbled[at] ^= UInt8(truncatingIfNeeded: random >> 20)
        }
        if let cache = try? SymbolCache(bytes: MappedFile(bytes: scribbled).bytes) {
            for address in Self.samples(file).prefix(500) { _ = cache.frames(at: address) }
        }

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let symbols = folder.appendingPathComponent("test_app.sym").path
        try Data(file.text().utf8).write(to: URL(fileURLWithPath: symbols))
        try Data(wrongVersion).write(to: URL(fileURLWithPath: symbols + ".pmcache"))
        var builds = 0
        let cache = try SymbolCache.cached(for: symbols) {
            builds += 1
            return file
        }
        #expect(builds == 1)
        #expect(cache.functionCount == 1065)
        _ = try SymbolCache.cached(for: symbols) {
            builds += 1
            return file
        }
        #expect(builds == 1, "a valid cache is reused")
    }
}
