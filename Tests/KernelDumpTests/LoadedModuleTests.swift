import BinaryReading
import Foundation
import KernelDump
import TestSupport
import Testing

/// The `PsLoadedModuleList` walk on synthetic x64 dumps whose page tables, list and header page
/// are written by `ModuleListWriter`; kdmp-parser reads the same bytes at the same virtual addresses.
@Suite(.ownThread) struct LoadedModuleTests {
    static func open(_ space: ModuleListWriter, _ kind: DumpWriter.Kind) throws -> (KernelDumpFile, VirtualMemory) {
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: space.writer.build(kind), name: kind.rawValue).bytes)
        return (dump, try dump.virtualMemory(dump.physicalMemory()))
    }

    @Test(arguments: [DumpWriter.Kind.full, .bitmap, .kernelMemory, .complete])
    func walksTheList(kind: DumpWriter.Kind) throws {
        let (dump, memory) = try Self.open(ModuleListWriter.scenario(), kind)
        let list = try dump.loadedModules(in: memory)
        #expect(list.warnings.isEmpty, "\(list.warnings)")
        let drivers = ModuleListWriter.drivers
        #expect(list.modules.map(\.fullName) == drivers.map(\.fullName))
        #expect(list.modules.map(\.baseName) == drivers.map(\.baseName))
        #expect(list.modules.map(\.baseAddress) == drivers.map(\.base))
        #expect(list.modules.map(\.sizeOfImage) == drivers.map(\.size))
        #expect(list.modules.map(\.entryPoint) == drivers.map { $0.base + 0x1000 })
        #expect(list.modules.map(\.entryAddress) == (0..<3).map(ModuleListWriter.entry))
        #expect(list.modules.first?.name == "\\SystemRoot\\system32\\ntoskrnl.exe")
    }

    @Test func emptyList() throws {
        let (dump, memory) = try Self.open(ModuleListWriter.scenario(drivers: []), .full)
        let list = try dump.loadedModules(in: memory)
        #expect(list.modules.isEmpty && list.warnings.isEmpty)
    }

    @Test func kdmpParserReadsTheSameBytes() throws {
        let space = ModuleListWriter.scenario()
        for kind in [DumpWriter.Kind.full, .bitmap] {
            let bytes = space.writer.build(kind)
            let path = try BuiltDumpTests.write(bytes, name: "modules-\(kind.rawValue)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let head = space.writer.psLoadedModuleList
            let base = ModuleListWriter.drivers[0].base
            let probes = [head, ModuleListWriter.entry(0), ModuleListWriter.entry(2) + 0x58, ModuleListWriter.namePage, base]
            let theirs = try BuiltDumpTests.oracle(path, probes: probes)
            let dump = try KernelDumpFile(path: path)
            #expect(dump.header.directoryTableBase.map(BuiltDumpTests.hex) == theirs["DirectoryTableBase"] as? String)
            #expect(dump.header.psLoadedModuleList.map(BuiltDumpTests.hex) == theirs["PsLoadedModuleList"] as? String)
            #expect(dump.header.bugCheckCode.map { BuiltDumpTests.hex(UInt64($0.rawValue)) } == theirs["BugCheckCode"] as? String)
            #expect(theirs["BugCheckCode"] as? String == "0xe2")
            let memory = try dump.virtualMemory(dump.physicalMemory())
            let translations = try #require(theirs["translations"] as? [String: [String: Any]])
            for probe in probes {
                let entry = try #require(translations[BuiltDumpTests.hex(probe)])
                #expect(memory.translate(probe).map(BuiltDumpTests.hex) == entry["pa"] as? String)
                let page = memory.read(probe & ~0xFFF, count: 4096)
                #expect(page != nil)
                #expect(page.map(BuiltDumpTests.hex) == entry["page"] as? String, "\(kind) page at \(BuiltDumpTests.hex(probe))")
            }
        }
    }

    @Test func aCycleEndsTheWalk() throws {
        var space = ModuleListWriter.scenario()
        space.write(ModuleListWriter.entry(0), at: ModuleListWriter.entry(2))  // the last entry's Flink back to the first
        let (dump, memory) = try Self.open(space, .full)
        let list = try dump.loadedModules(in: memory)
        #expect(list.modules.count == 3)
        #expect(list.warnings.count == 1)
        #expect(list.warnings.first?.contains("loops back") == true, "\(list.warnings)")

        var selfLoop = ModuleListWriter.scenario()
        selfLoop.write(ModuleListWriter.entry(1), at: ModuleListWriter.entry(1))
        let (dump2, memory2) = try Self.open(selfLoop, .bitmap)
        let list2 = try dump2.loadedModules(in: memory2)
        #expect(list2.modules.count == 2)
        #expect(list2.warnings.first?.contains("loops back") == true)
    }

    @Test func anEntryOutsideTheDump() throws {
        var space = ModuleListWriter.scenario()
        space.write(UInt64(0xFFFF_A000_0080_0000), at: ModuleListWriter.entry(1))
        let (dump, memory) = try Self.open(space, .full)
        let list = try dump.loadedModules(in: memory)
        #expect(list.modules.count == 2)
        #expect(list.warnings == ["the entry at 0xffffa00000800000 is not in the dump; the list ends there"])

        // A non-canonical or user-mode pointer is just another address that is not mapped.
        var wild = ModuleListWriter.scenario()
        wild.write(UInt64.max, at: ModuleListWriter.entry(0))
        let (dump2, memory2) = try Self.open(wild, .full)
        let list2 = try dump2.loadedModules(in: memory2)
        #expect(list2.modules.count == 1)
        #expect(list2.warnings.count == 1)
    }

    @Test func absurdNameLengths() throws {
        var space = ModuleListWriter.scenario()
        space.write(UInt16(0xFFFE), at: ModuleListWriter.entry(0) + 0x48)  // Length past MaximumLength
        space.write(UInt16(7), at: ModuleListWriter.entry(1) + 0x58)  // odd Length
        space.write(UInt16(0x4000), at: ModuleListWriter.entry(2) + 0x48)
        space.write(UInt16(0x4000), at: ModuleListWriter.entry(2) + 0x4A)  // long but consistent: over the cap
        space.write(UInt64(0xFFFF_A000_0090_0000), at: ModuleListWriter.entry(2) + 0x60)  // BaseDllName unmapped
        let (dump, memory) = try Self.open(space, .full)
        let list = try dump.loadedModules(in: memory)
        #expect(list.modules.count == 3)
        #expect(list.modules.map(\.fullName) == [nil, "\\SystemRoot\\system32\\hal.dll", nil])
        #expect(list.modules.map(\.baseName) == ["ntoskrnl.exe", nil, nil])
        #expect(list.modules[0].name == "ntoskrnl.exe")
        #expect(list.modules[2].name == "")
        #expect(list.warnings.count == 4, "\(list.warnings)")
        #expect(list.warnings.allSatisfy { $0.contains("impossible length") || $0.contains("is not in the dump") })
    }

    @Test func headMissing() throws {
        var unset = ModuleListWriter.scenario()
        unset.writer.psLoadedModuleList = 0x4547_4150_4547_4150  // still 'PAGEPAGE'
        let (dump, memory) = try Self.open(unset, .full)
        #expect(throws: ParseError.self) { try dump.loadedModules(in: memory) }

        var unmapped = ModuleListWriter.scenario()
        unmapped.writer.psLoadedModuleList = 0xFFFF_F800_7777_0000
        let (dump2, memory2) = try Self.open(unmapped, .full)
        do {
            _ = try dump2.loadedModules(in: memory2)
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "DUMP_HEADER.PsLoadedModuleList")
            #expect("\(error)".contains("not in the dump"))
        }
    }
}
