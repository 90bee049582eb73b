import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

/// Writes a 32-bit legacy user dump (`USERDUMP`, x86) from the public layout of
/// USERMODE_CRASHDUMP_HEADER and its records, written out here apart from the reader.
struct UserDumpWriter32 {
    struct Region {
        var base: UInt32
        var bytes: [UInt8]
    }

    var threads: [(id: UInt32, teb: UInt32, eip: UInt32)] = [
        (0x111, 0x7FFD_E000, 0x0040_1000), (0x222, 0x7FFD_D000, 0x7C90_1234),
    ]
    var modules: [(base: UInt32, size: UInt32, name: String)] = [
        (0x0040_0000, 0x6000, "C:\\app\\app.exe"), (0x7C90_0000, 0xB2000, "C:\\WINDOWS\\system32\\ntdll.dll"),
    ]
    var regions: [Region] = [
        Region(base: 0x0040_1000, bytes: (0..<0x1000).map { UInt8(truncatingIfNeeded: $0) }),
        Region(base: 0x0040_0000, bytes: Array("MZ".utf8) + [UInt8](repeating: 0x90, count: 0xFFE)),
        Region(base: 0x7C90_1000, bytes: [UInt8](repeating: 0xCC, count: 0x2000)),
    ]

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    func build() -> [UInt8] {
        let contextSize = 0x2CC
        let headerSize = 64
        let debugEventOffset = headerSize
        let debugEvent =
            Self.le(UInt32(1)) + Self.le(UInt32(0x500)) + Self.le(threads[0].id)
            + Self.le(UInt32(0xC000_0005)) + Self.le(UInt32(0)) + Self.le(UInt32(0)) + Self.le(threads[0].eip)
            + Self.le(UInt32(2)) + Self.le(UInt32(1)) + Self.le(UInt32(0x10)) + [UInt8](repeating: 0, count: 13 * 4)
            + Self.le(UInt32(1))
        let regionOffset = debugEventOffset + debugEvent.count
        var regionTable: [UInt8] = []
        for region in regions {
            // MEMORY_BASIC_INFORMATION32: BaseAddress, AllocationBase, AllocationProtect, RegionSize, State, Protect, Type.
            regionTable +=
                Self.le(region.base) + Self.le(region.base) + Self.le(UInt32(0x20)) + Self.le(UInt32(region.bytes.count))
            regionTable += Self.le(UInt32(0x1000)) + Self.le(UInt32(0x20)) + Self.le(UInt32(0x100_0000))
        }
        let threadOffset = regionOffset + regionTable.count
        var contexts: [UInt8] = []
        for thread in threads {
            var context = [UInt8](repeating: 0, count: contextSize)
            context.replaceSubrange(0xB8..<0xBC, with: Self.le(thread.eip))  // CONTEXT.Eip
            contexts += context
        }
        let threadStateOffset = threadOffset + contexts.count
        var states: [UInt8] = []
        for thread in threads {
            // CRASH_THREAD: ThreadId, SuspendCount, PriorityClass, Priority, Teb, Spare0..6.
            states += Self.le(thread.id) + Self.le(UInt32(0)) + Self.le(UInt32(0x20)) + Self.le(UInt32(8)) + Self.le(thread.teb)
            states += [UInt8](repeating: 0, count: 28)
        }
        let moduleOffset = threadStateOffset + states.count
        var moduleRecords: [UInt8] = []
        for module in modules {
            let name = Array(module.name.utf8) + [0]
            moduleRecords += Self.le(module.base) + Self.le(module.size) + Self.le(UInt32(name.count)) + name
        }
        let dataOffset = moduleOffset + moduleRecords.count
        let data = regions.flatMap(\.bytes)
        let versionInfoOffset = dataOffset + data.count
        var header = Array("USERDUMP".utf8) + Self.le(UInt32(5)) + Self.le(UInt32(2600)) + Self.le(UInt32(0x14C))
        header += Self.le(UInt32(threads.count)) + Self.le(UInt32(modules.count)) + Self.le(UInt32(regions.count))
        for offset in [
            threadOffset, moduleOffset, dataOffset, regionOffset, debugEventOffset, threadStateOffset, versionInfoOffset, 0,
        ] {
            header += Self.le(UInt32(offset))
        }
        return header + debugEvent + regionTable + contexts + states + moduleRecords + data + Array("CRASH: none\0".utf8)
    }
}

@Suite(.ownThread) struct UserDump32Tests {
    @Test func readsBuiltDump() throws {
        let writer = UserDumpWriter32()
        let dump = try UserDumpFile(bytes: MappedFile(bytes: writer.build()).bytes)
        #expect(!dump.header.is64Bit)
        #expect(dump.header.machineImageType == .x86)
        #expect(dump.contextSize == 0x2CC)
        let threads = try dump.threads()
        #expect(threads.map(\.threadId) == [0x111, 0x222])
        #expect(threads.map(\.teb) == [0x7FFD_E000, 0x7FFD_D000])
        #expect(try threads.map { try $0.context.load(UInt32.self, at: 0xB8, field: "Eip") } == [0x0040_1000, 0x7C90_1234])
        let modules = try dump.modules()
        #expect(modules.map(\.baseOfImage) == writer.modules.map { UInt64($0.base) })
        #expect(modules.map(\.sizeOfImage) == writer.modules.map(\.size))
        #expect(modules.map(\.imageName) == writer.modules.map(\.name))
        let event = try #require(try dump.debugEvent())
        #expect(event.threadId == 0x111)
        #expect(event.exception?.exceptionCode == 0xC000_0005)
        #expect(event.exception?.exceptionAddress == 0x0040_1000)
        #expect(event.exception?.parameters == [1, 0x10])
        #expect(event.firstChance == 1)
        let memory = try dump.memory()
        #expect(memory.regions.map(\.baseAddress) == [0x0040_0000, 0x0040_1000, 0x7C90_1000])
        #expect(memory.read(0x0040_0000, count: 2) == Array("MZ".utf8))
        // A read across two adjacent regions.
        #expect(memory.read(0x0040_0FFF, count: 3) == [0x90, 0x00, 0x01])
        #expect(memory.read(0x7C90_2FFF, count: 2) == nil)
        #expect(memory.read(0x7C90_2FFF, count: 1) == [0xCC])
    }

    @Test func malformedCopies() {
        let original = UserDumpWriter32().build()
        var generator = SplitMix(seed: 0x05E2)
        for length in stride(from: 0, through: original.count, by: 97) {
            MalformedDumpTests.exercise(MappedFile(bytes: original.prefix(length)).bytes)
        }
        for _ in 0..<300 {
            var copy = original
            let index = Int(generator.next() % UInt64(min(copy.count, 0x800)))
            copy[index] ^= UInt8(1) << (generator.next() % 8)
            MalformedDumpTests.exercise(MappedFile(bytes: copy).bytes)
        }
    }
}
