import BinaryReading
import KernelDump
import TestSupport
import Testing

/// The 32-bit `KLDR_DATA_TABLE_ENTRY` walk on `DumpWriter32` dumps (PAE and classic paging): the
/// list is written into the pages mapped at 0x80000000, with offsets from the public x86 layout
/// (InLoadOrderLinks 0x00, DllBase 0x18, EntryPoint 0x1C, SizeOfImage 0x20, FullDllName 0x24,
/// BaseDllName 0x2C; `UNICODE_STRING`: Length, MaximumLength, Buffer).
@Suite(.ownThread) struct X86LoadedModuleTests {
    static let head: UInt32 = 0x8000_0000
    static let entries: [UInt32] = [0x8000_0100, 0x8000_0200]
    static let names = ["\\WINDOWS\\system32\\ntkrnlpa.exe", "\\WINDOWS\\system32\\hal.dll"]
    static let bases: [UInt32] = [0x804D_7000, 0x806E_5000]

    /// The scenario's pages 0x30 and 0x31 (virtual 0x80000000 and 0x80001000) holding a two-entry list.
    static func writer(pae: Bool, edit: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var writer = DumpWriter32.scenario(pae: pae)
        var low = [UInt8](repeating: 0, count: 4096)
        var high = [UInt8](repeating: 0, count: 4096)
        func put32(_ value: UInt32, _ address: UInt32) { DumpWriter32.put(value, at: Int(address & 0xFFF), in: &low) }
        func put16(_ value: UInt16, _ address: UInt32) { DumpWriter32.put(value, at: Int(address & 0xFFF), in: &low) }
        let links = [head] + entries + [head]
        put32(links[1], head)
        put32(links[2], head + 4)
        var nameOffset = 0
        for (index, entry) in entries.enumerated() {
            put32(links[index + 2], entry)
            put32(links[index], entry + 4)
            put32(bases[index], entry + 0x18)
            put32(bases[index] + 0x200, entry + 0x1C)
            put32(0x10_0000, entry + 0x20)
            let text = Array(names[index].utf16).flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }
            put16(UInt16(text.count), entry + 0x24)
            put16(UInt16(text.count + 2), entry + 0x26)
            put32(0x8000_1000 + UInt32(nameOffset), entry + 0x28)
            high.replaceSubrange(nameOffset..<(nameOffset + text.count), with: text)
            nameOffset += 0x100
        }
        writer.pages[0x30] = low
        writer.pages[0x31] = high
        var bytes = writer.build(.full)
        DumpWriter32.put(head, at: 0x18, in: &bytes)  // DUMP_HEADER32.PsLoadedModuleList
        edit(&bytes)
        return bytes
    }

    @Test(arguments: [true, false])
    func walks(pae: Bool) throws {
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: Self.writer(pae: pae)).bytes)
        let list = try dump.loadedModules(in: dump.virtualMemory(dump.physicalMemory()))
        #expect(list.warnings.isEmpty, "\(list.warnings)")
        #expect(list.modules.map(\.fullName) == Self.names)
        #expect(list.modules.map(\.baseName) == [nil, nil])  // BaseDllName left empty
        #expect(list.modules.map(\.baseAddress) == Self.bases.map(UInt64.init))
        #expect(list.modules.map(\.entryPoint) == Self.bases.map { UInt64($0 + 0x200) })
        #expect(list.modules.map(\.sizeOfImage) == [0x10_0000, 0x10_0000])
        #expect(list.modules.map(\.entryAddress) == Self.entries.map(UInt64.init))
    }

    @Test func aCycle() throws {
        // The second entry's Flink loops back to the first.
        let bytes = Self.writer(pae: true)
        let dump = try KernelDumpFile(bytes: MappedFile(bytes: bytes).bytes)
        let memory = try dump.virtualMemory(dump.physicalMemory())
        let physical = try #require(memory.translate(0x8000_0200))
        let entryFile = try #require(memory.physical.fileOffset(ofPhysical: physical))
        var copy = bytes
        DumpWriter32.put(UInt32(0x8000_0100), at: Int(entryFile), in: &copy)
        let looped = try KernelDumpFile(bytes: MappedFile(bytes: copy).bytes)
        let list = try looped.loadedModules(in: looped.virtualMemory(looped.physicalMemory()))
        #expect(list.modules.count == 2)
        #expect(list.warnings.first?.contains("loops back") == true, "\(list.warnings)")
    }
}
