import Analysis
import BinaryReading
import Foundation
import FuzzTargets
import Minidump
import TestSupport
import Testing

/// A small deterministic generator, so a failing mutation can be reproduced from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Truncated and corrupted copies of the fixture dumps: errors or partial output, never a trap or hang.
@Suite("Malformed minidumps", .ownThread)
struct MalformedMinidumpTests {
    /// Runs every reader the commands use over `bytes`. Returns whether the header opened.
    @discardableResult
    static func exercise(_ bytes: [UInt8], name: String) -> Bool {
        let file = MappedFile(bytes: bytes, name: name)
        fuzzMinidump(file.bytes)
        guard let dump = try? MinidumpFile(bytes: file.bytes) else { return false }
        _ = ModuleTable(minidump: dump, path: name)
        _ = StreamDump(minidump: dump, path: name)
        return true
    }

    /// The byte ranges worth corrupting: header, directory and the first bytes of every stream.
    static func structuralOffsets(of bytes: [UInt8]) -> [Range<Int>] {
        var ranges = [0..<min(32, bytes.count)]
        guard let dump = try? MinidumpFile(bytes: MappedFile(bytes: bytes).bytes) else { return ranges }
        let directoryStart = Int(dump.header.streamDirectoryRva)
        ranges.append(directoryStart..<min(bytes.count, directoryStart + dump.directory.count * 12))
        for entry in dump.directory where entry.location.dataSize > 0 {
            let start = Int(entry.location.rva)
            let end = min(bytes.count, start + min(Int(entry.location.dataSize), 512))
            if start < end { ranges.append(start..<end) }
        }
        return ranges
    }

    @Test("truncated at many points", .timeLimit(.minutes(10)), arguments: MinidumpFixtures.all)
    func truncated(path: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var cuts = Set([0, 1, 4, 8, 31, 32, 33, bytes.count / 2, bytes.count - 1])
        for range in Self.structuralOffsets(of: bytes) {
            cuts.insert(range.lowerBound)
            cuts.insert(range.lowerBound + (range.count / 2))
            cuts.insert(range.upperBound - 1)
        }
        for cut in cuts.sorted() where cut >= 0 && cut < bytes.count {
            Self.exercise(Array(bytes[..<cut]), name: "\(MinidumpFixtures.name(path)) cut at \(cut)")
        }
    }

    @Test("corrupted structures (seeded mutations)", .timeLimit(.minutes(10)), arguments: MinidumpFixtures.all)
    func corrupted(path: String) throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let ranges = Self.structuralOffsets(of: original).filter { !$0.isEmpty }
        var random = SplitMix64(state: UInt64(truncatingIfNeeded: path.utf8.reduce(5381) { $0 &* 33 &+ Int($1) }))
        let interesting: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFF0, 0x10000, UInt32(original.count)]
        var opened = 0
        for _ in 0..<60 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let range = ranges[Int.random(in: 0..<ranges.count, using: &random)]
                let at = Int.random(in: range, using: &random) & ~3
                if Bool.random(using: &random), at + 4 <= bytes.count {
                    let value = interesting[Int.random(in: 0..<interesting.count, using: &random)]
                    for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
                } else if at < bytes.count {
                    bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
                }
            }
            if Self.exercise(bytes, name: MinidumpFixtures.name(path)) { opened += 1 }
        }
        // Most mutations leave the header readable, so the stream decoders are really exercised.
        #expect(opened > 20, "only \(opened) of 60 mutations opened")
    }

    @Test("inputs the fuzzer found stay harmless", .timeLimit(.minutes(10)))
    func fuzzRegressions() throws {
        // Each file once made a fuzz target trap or run past libFuzzer's timeout.
        let folder = TestEnvironment.local("fuzz-regressions/minidump")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".dmp") }
        #expect(!names.isEmpty)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            Self.exercise(bytes, name: name)
        }
        // 354 modules whose Misc records each claimed the rest of the file: names are now bounded.
        let dump = try MinidumpFile(path: folder + "/misc-records-spanning-file.dmp")
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        #expect(modules.count == 354)
        #expect(modules.allSatisfy { ($0.misc?.data.utf8.count ?? 0) <= MiscDebugRecord.maximumDataSize * 3 })
    }

    @Test("rust-minidump's invalid dumps give errors, not traps")
    func ownersInvalidInputs() throws {
        for name in ["invalid-range.dmp", "invalid-record-count.dmp"] {
            let bytes = try [UInt8](
                Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared("rust-minidump/testdata/" + name))))
            #expect(Self.exercise(bytes, name: name))
        }
    }

    @Test("errors name the offset and the field")
    func errorsAreSpecific() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared("rust-minidump/testdata/test.dmp"))))
        do {
            _ = try MinidumpFile(bytes: MappedFile(bytes: Array(bytes[..<20])).bytes)
            Issue.record("a 20-byte file opened")
        } catch {
            #expect(error.offset == 20)
            #expect(error.field == "MINIDUMP_HEADER.TimeDateStamp")
        }
        var badSignature = bytes
        badSignature[0] = UInt8(ascii: "X")
        do {
            _ = try MinidumpFile(bytes: MappedFile(bytes: badSignature).bytes)
            Issue.record("a bad signature opened")
        } catch {
            #expect(error.kind == .badSignature(expected: "MDMP", found: "\"XDMP\""))
        }
        // A directory that claims more entries than the file holds fails before allocating them.
        var manyStreams = bytes
        manyStreams[8] = 0xFF
        manyStreams[9] = 0xFF
        manyStreams[10] = 0xFF
        do {
            _ = try MinidumpFile(bytes: MappedFile(bytes: manyStreams).bytes)
            Issue.record("an oversized directory opened")
        } catch {
            #expect(error.field == "MINIDUMP_HEADER.NumberOfStreams")
            guard case .countTooLarge = error.kind else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }
}
