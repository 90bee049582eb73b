import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

/// Truncated and bit-flipped copies of every fixture and built dump: errors or partial results,
/// never a trap, a hang, or an allocation sized by an unchecked field.
@Suite(.ownThread) struct MalformedDumpTests {
    static let fixtures = [
        KdlibcppSmallDumpTests.arm64, KdlibcppSmallDumpTests.arm32, KdlibcppUserDumpTests.path,
    ]

    /// Reads every part of a dump the way the fuzz target does (the test target cannot import it).
    static func exercise(_ bytes: ByteView) {
        if let dump = try? KernelDumpFile(bytes: bytes) {
            let header = dump.header
            _ = try? header.physicalMemoryDescriptor()
            _ = try? dump.bitmapHeader()
            _ = try? dump.rdmpHeader()
            if let memory = try? dump.physicalMemory() {
                for extent in memory.extents.prefix(32) {
                    let address = extent.firstPage << 12
                    _ = memory.page(physical: address)
                    _ = memory.read(physical: address &+ 0xFF8, count: 16)
                }
                for mode in [PagingMode.x64, .x86PAE, .x86] {
                    let virtual = VirtualMemory(physical: memory, directoryTableBase: header.directoryTableBase ?? 0, mode: mode)
                    for address in DumpWriter.probeAddresses { _ = virtual.read(address, count: 16) }
                }
            }
            if let triage = try? dump.triage() {
                if let stack = triage.stack { _ = triage.read(stack.address, count: 64) }
                for block in triage.dataBlocks.prefix(32) { _ = triage.read(block.address, count: 32) }
            }
        }
        if let user = try? UserDumpFile(bytes: bytes) {
            _ = try? user.threads()
            _ = try? user.modules()
            _ = try? user.debugEvent()
            if let memory = try? user.memory() {
                for region in memory.regions.prefix(32) { _ = memory.read(region.baseAddress, count: 32) }
            }
        }
    }

    /// The bytes of each input: the real fixtures (at most their first 512 KiB for mutation) and
    /// the three built dumps.
    static func inputs() throws -> [(String, [UInt8])] {
        #expect(TestEnvironment.hasSharedFixtures, "shared fixtures are required")
        var result: [(String, [UInt8])] = []
        for path in fixtures {
            let bytes = try MappedFile(path: TestEnvironment.shared(path)).bytes
            result.append((path, bytes.prefix(512 * 1024).array))
        }
        let writer = DumpWriter.scenario()
        for kind in DumpWriter.Kind.allCases {
            result.append(("built-\(kind.rawValue)", writer.build(kind)))
        }
        return result
    }

    @Test func truncations() throws {
        for path in Self.fixtures {
            // Zero-copy prefixes of the whole mapped file.
            let bytes = try MappedFile(path: TestEnvironment.shared(path)).bytes
            var lengths = [0, 1, 4, 7, 8, 0x60, 0x100, 0x347, 0x1000, 0x1067, 0x1FFF, 0x2000, 0x2010, 0x2080]
            for step in 1..<24 { lengths.append(bytes.count * step / 24) }
            for length in lengths where length <= bytes.count {
                Self.exercise(bytes.prefix(length))
            }
            // Cut inside the kernel header: a clear error, never a partial header.
            if DumpHeader.matches(bytes) {
                #expect(throws: ParseError.self) { try KernelDumpFile(bytes: bytes.prefix(0x800)) }
            }
        }
        let writer = DumpWriter.scenario()
        for kind in DumpWriter.Kind.allCases {
            let full = MappedFile(bytes: writer.build(kind)).bytes
            for length in stride(from: 0, through: full.count, by: 0x3F1) {
                Self.exercise(full.prefix(length))
            }
            // A dump cut in its pages keeps the pages before the cut, with a warning.
            let cut = try KernelDumpFile(bytes: full.prefix(full.count - 0x1800))
            let memory = try cut.physicalMemory()
            #expect(!memory.warnings.isEmpty)
            #expect(memory.warnings.count == 1, "one warning where the page data stops, not one per page")
            #expect(memory.pageCount < UInt64(writer.pages.count))
            #expect(memory.page(physical: 0x10 << 12) != nil)
        }
    }

    @Test func bitFlips() throws {
        var generator = SplitMix(seed: 0x5EED)
        for (name, original) in try Self.inputs() {
            // Flips concentrated on the headers (where counts and offsets live), then anywhere.
            for round in 0..<120 {
                var copy = original
                let span = round < 90 ? min(copy.count, 0x2100) : copy.count
                guard span > 0 else { continue }
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    let index = Int(generator.next() % UInt64(span))
                    copy[index] ^= UInt8(1) << (generator.next() % 8)
                }
                Self.exercise(MappedFile(bytes: copy, name: name).bytes)
            }
        }
    }

    /// Every count and size field set to huge values: rejected or clamped before allocation.
    @Test func hugeCounts() throws {
        func patched(_ bytes: [UInt8], _ offset: Int, _ value: some FixedWidthInteger) -> ByteView {
            var copy = bytes
            withUnsafeBytes(of: value.littleEndian) { copy.replaceSubrange(offset..<(offset + $0.count), with: $0) }
            return MappedFile(bytes: copy).bytes
        }
        let writer = DumpWriter.scenario()
        let full = writer.build(.full)
        // NumberOfRuns beyond the header's room.
        let tooManyRuns = try KernelDumpFile(bytes: patched(full, 0x88, UInt32.max))
        #expect(throws: ParseError.self) { try tooManyRuns.physicalMemory() }
        // A run claiming 2^60 pages: clamped to the pages in the file.
        let hugeRun = try KernelDumpFile(bytes: patched(full, 0x88 + 24, UInt64(1) << 60))
        let clamped = try hugeRun.physicalMemory()
        #expect(!clamped.warnings.isEmpty)
        #expect(clamped.pageCount <= UInt64(full.count / 4096))
        // A run at a page number past 52 bits.
        Self.exercise(patched(full, 0x88 + 16, UInt64.max))

        let bitmap = writer.build(.bitmap)
        let hugeBitmap = try KernelDumpFile(bytes: patched(bitmap, 0x2030, UInt64.max))
        #expect(throws: ParseError.self) { try hugeBitmap.physicalMemory() }
        let farFirstPage = try KernelDumpFile(bytes: patched(bitmap, 0x2020, UInt64.max - 0x800))
        let none = try farFirstPage.physicalMemory()
        #expect(none.extents.isEmpty && !none.warnings.isEmpty)

        let rdmp = writer.build(.kernelMemory)
        let hugeMetadata = try KernelDumpFile(bytes: patched(rdmp, 0x2010, UInt64.max - 15))
        #expect(throws: ParseError.self) { try hugeMetadata.physicalMemory() }
        let hugeRange = try KernelDumpFile(bytes: patched(rdmp, 0x2038, UInt64.max))
        #expect(try hugeRange.physicalMemory().pageCount <= UInt64(rdmp.count / 4096))

        // Triage counts and offsets (64-bit TRIAGE_DUMP at 0x2000).
        let small = try MappedFile(path: TestEnvironment.shared(KdlibcppSmallDumpTests.arm64)).bytes.array
        for (offset, field) in [(0x2034, "DriverCount"), (0x207C, "DataBlocksCount")] {
            let dump = try KernelDumpFile(bytes: patched(small, offset, UInt32.max))
            let triage = try dump.triage()
            #expect(!triage.warnings.isEmpty, "\(field)")
        }
        for offset in [0x200C, 0x2028, 0x202C, 0x2030, 0x2038, 0x2070, 0x2078] {
            Self.exercise(patched(small, offset, UInt32.max))
        }

        // USERDU64 counts.
        let user = try MappedFile(path: TestEnvironment.shared(KdlibcppUserDumpTests.path)).bytes.prefix(0x20000).array
        for offset in [0x14, 0x18, 0x1C] {
            let dump = try UserDumpFile(bytes: patched(user, offset, UInt32.max))
            Self.exercise(dump.bytes)
        }
        #expect(throws: ParseError.self) { try UserDumpFile(bytes: patched(user, 0x14, UInt32.max)).threads() }
        #expect(throws: ParseError.self) { try UserDumpFile(bytes: patched(user, 0x18, UInt32.max)).modules() }
        #expect(throws: ParseError.self) { try UserDumpFile(bytes: patched(user, 0x1C, UInt32.max)).memoryRegions() }
    }

    @Test func errorsNameOffsetAndField() throws {
        var bytes = DumpWriter.scenario().build(.full)
        bytes[4] = UInt8(ascii: "X")
        do {
            _ = try KernelDumpFile(bytes: MappedFile(bytes: bytes).bytes)
            Issue.record("a bad ValidDump was accepted")
        } catch {
            #expect(error.offset == 4)
            #expect(error.field == "DUMP_HEADER.ValidDump")
        }
    }
}

/// A small deterministic generator, so a failing mutation can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
