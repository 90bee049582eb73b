import BinaryReading
import KernelDump
import TestSupport
import Testing

/// 32-bit x86 dumps built by `DumpWriter32`: the DUMP_HEADER32 layout, full and summary page
/// indexes, and PAE and classic translation (no 32-bit oracle: checked against the writer).
@Suite(.ownThread) struct X86DumpTests {
    static let cases: [(DumpWriter32.Kind, Bool)] = [(.full, true), (.full, false), (.summary, true), (.summary, false)]

    @Test(arguments: cases)
    func readsAndTranslates(kind: DumpWriter32.Kind, pae: Bool) throws {
        let writer = DumpWriter32.scenario(pae: pae)
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: writer.build(kind)).bytes)
        let header = dump.header
        #expect(!header.is64Bit)
        #expect(header.size == 0x1000)
        #expect(header.dumpType == (kind == .full ? .full : .kernel))
        #expect(header.machineImageType == .x86)
        #expect(header.directoryTableBase == UInt64(writer.directoryTableBase))
        #expect(header.psLoadedModuleList == 0x8054_0000)
        #expect(header.pfnDataBase == nil)
        #expect(header.bugCheckCode == .unexpectedKernelModeTrap)
        #expect(header.bugCheckParameters == [8, 0x8054_2000, 0, 0])
        #expect(header.paeEnabled == pae)
        #expect(header.kdSecondaryVersion == 0x2A)
        #expect(header.systemUpTime == 0x1234_5678)
        #expect(header.systemTime == 0x01C0_0000_0000_0001)
        #expect(header.exception == nil)
        #expect(header.comment == nil)
        if kind == .full {
            let descriptor = try #require(try header.physicalMemoryDescriptor())
            #expect(
                descriptor.runs == [
                    PhysicalMemoryRun(basePage: 5, pageCount: 5), PhysicalMemoryRun(basePage: 0x30, pageCount: 2),
                    PhysicalMemoryRun(basePage: 0x400, pageCount: 2), PhysicalMemoryRun(basePage: 0x800, pageCount: 1),
                ])
        } else {
            let summary = try dump.summaryHeader()
            #expect(summary.pages == UInt32(writer.pages.count))
            #expect(summary.bitmapSize == 0x801)
        }

        let memory = try dump.physicalMemory()
        #expect(memory.warnings.isEmpty)
        #expect(memory.pageCount == UInt64(writer.pages.count))
        for (pfn, content) in writer.pages {
            #expect(memory.page(physical: pfn << 12)?.array == content)
        }
        let virtual = try dump.virtualMemory(memory)
        #expect(virtual.mode == (pae ? .x86PAE : .x86))
        #expect(virtual.translate(0x8000_0123) == 0x30123)
        #expect(virtual.translate(0xFFFF_FFFF_8000_1FFF) == 0x31FFF)  // sign-extended form
        #expect(virtual.translate(0x8000_2000) == nil)
        #expect(virtual.translate(0x1_0000_0000) == nil)
        if pae {
            #expect(virtual.translate(0x8020_1234) == 0x40_1234)
        } else {
            #expect(virtual.translate(0x8040_1234) == 0x80_1234)
        }
        #expect(virtual.read(0x8000_0FFC, count: 8) == Array(writer.pages[0x30]![0xFFC...]) + Array(writer.pages[0x31]![..<4]))
        #expect(virtual.read(0x0040_0000, count: 4) == nil)
    }

    @Test func malformedCopies() {
        var generator = SplitMix(seed: 32)
        for kind in DumpWriter32.Kind.allCases {
            let original = DumpWriter32.scenario(pae: true).build(kind)
            for length in stride(from: 0, through: original.count, by: 0x1F3) {
                MalformedDumpTests.exercise(MappedFile(bytes: original.prefix(length)).bytes)
            }
            for _ in 0..<60 {
                var copy = original
                let index = Int(generator.next() % UInt64(min(copy.count, 0x1100)))
                copy[index] ^= UInt8(1) << (generator.next() % 8)
                MalformedDumpTests.exercise(MappedFile(bytes: copy).bytes)
            }
        }
    }
}
