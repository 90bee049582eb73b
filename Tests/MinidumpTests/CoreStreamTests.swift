import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

@Suite("Core streams of synthetic dumps", .ownThread)
struct CoreStreamTests {
    static let guidBytes: [UInt8] = [
        0xE5, 0x32, 0x98, 0x5A, 0x72, 0x28, 0xC1, 0x41, 0x83, 0x8E, 0xD9, 0x89, 0x14, 0xE9, 0xB7, 0xFF,
    ]

    /// A dump with one module, one thread, two memory ranges, a Memory64List and an unloaded module.
    static func sample(_ endianness: Endianness, padLists: Bool = false) -> [UInt8] {
        var writer = DumpWriter(endianness: endianness)
        let name = writer.appendString(#"C:\app\crashy.exe"#)
        let cv = DumpWriter.rsds(guid: guidBytes, age: 3, pdb: #"C:\build\crashy.pdb"#)
        let cvRva = UInt32(writer.append(cv))
        let pad: [UInt8] = padLists ? [0, 0, 0, 0] : []

        let module = writer.module(
            base: 0x1_4000_0000, size: 0x2d000, checksum: 0xAF2F7, timestamp: 0x45D3_5F6C, nameRva: name,
            version: (0x0005_0001, 0x0A28_0884), cv: (cvRva, UInt32(cv.count)))
        writer.addStream(type: 4, writer.encode(UInt32(1)) + pad + module)

        // Stack bytes 0x00..0x3F at 0x7000; memory list range 0x10 bytes at 0x9000.
        let stackRva = UInt32(writer.append((0..<64).map { UInt8($0) }))
        let heapRva = UInt32(writer.append([UInt8](repeating: 0xAB, count: 16)))
        var thread = writer.encode(UInt32(0x1234)) + writer.encode(UInt32(0)) + writer.encode(UInt32(0x20))
        thread += writer.encode(UInt32(8)) + writer.encode(UInt64(0x7FFD_F000))
        thread += writer.encode(UInt64(0x7000)) + writer.encode(UInt32(64)) + writer.encode(stackRva)
        thread += writer.encode(UInt32(0)) + writer.encode(UInt32(0))
        writer.addStream(type: 3, writer.encode(UInt32(1)) + pad + thread)
        var memory = writer.encode(UInt32(2)) + pad
        memory += writer.encode(UInt64(0x9000)) + writer.encode(UInt32(16)) + writer.encode(heapRva)
        memory += writer.encode(UInt64(0x7000)) + writer.encode(UInt32(64)) + writer.encode(stackRva)
        writer.addStream(type: 5, memory)

        // Memory64List: two ranges stored back to back.
        let base64 = UInt64(writer.append([UInt8](repeating: 0x11, count: 32) + [UInt8](repeating: 0x22, count: 16)))
        var memory64 = writer.encode(UInt64(2)) + writer.encode(base64)
        memory64 += writer.encode(UInt64(0xA000)) + writer.encode(UInt64(32))
        memory64 += writer.encode(UInt64(0xB000)) + writer.encode(UInt64(16))
        writer.addStream(type: 9, memory64)

        // Unloaded module list with entries larger than the 24 bytes this reader knows.
        let unloadedName = writer.appendString("gone.dll")
        var unloaded = writer.encode(UInt32(12)) + writer.encode(UInt32(32)) + writer.encode(UInt32(1))
        unloaded += writer.encode(UInt64(0x1000_0000)) + writer.encode(UInt32(0x1000)) + writer.encode(UInt32(0x55))
        unloaded += writer.encode(UInt32(0x6000_0000)) + writer.encode(unloadedName) + [UInt8](repeating: 0xEE, count: 8)
        writer.addStream(type: 14, unloaded)

        writer.addStream(type: 0xFFF0, [1, 2, 3, 4])
        return writer.finish()
    }

    static func open(_ bytes: [UInt8]) throws -> MinidumpFile {
        try MinidumpFile(bytes: MappedFile(bytes: bytes).bytes)
    }

    @Test("both byte orders decode to the same values", arguments: [Endianness.little, .big], [false, true])
    func decodes(endianness: Endianness, padLists: Bool) throws {
        let dump = try Self.open(Self.sample(endianness, padLists: padLists))
        #expect(dump.endianness == endianness)
        #expect(dump.header.timeDateStamp == 0x5F5E_1000)
        #expect(dump.header.flags == 0x21)

        let module = try #require(try dump.stream(ModuleList.self)?.modules.first)
        #expect(module.name == #"C:\app\crashy.exe"#)
        #expect(module.baseOfImage == 0x1_4000_0000)
        #expect(module.codeID == "45D35F6C2d000")
        #expect(module.debugID == "5A9832E5287241C1838ED98914E9B7FF3")
        #expect(module.debugFile == #"C:\build\crashy.pdb"#)
        #expect(module.versionInfo.fileVersion == "5.1.2600.2180")
        #expect(module.codeViewBytes.count == 24 + 20)

        let thread = try #require(try dump.stream(ThreadList.self)?.threads.first)
        #expect(thread.threadId == 0x1234)
        #expect(thread.priority == 8)
        #expect(thread.teb == 0x7FFD_F000)

        let memory = dump.memoryIndex()
        #expect(memory.warnings.isEmpty, "\(memory.warnings)")
        #expect(memory.regions.map(\.address) == [0x7000, 0x9000, 0xA000, 0xB000])
        #expect(memory.read(UInt8.self, at: 0x7000) == 0)
        #expect(memory.read(UInt8.self, at: 0x703F) == 0x3F)
        #expect(memory.read(UInt8.self, at: 0x7040) == nil)
        #expect(memory.read(UInt32.self, at: 0x703D) == nil, "a read may not run past a region")
        #expect(memory.read(UInt32.self, at: 0x7004, endianness: .little) == 0x0706_0504)
        #expect(memory.bytes(at: 0x9000, count: 16)?.array == [UInt8](repeating: 0xAB, count: 16))
        #expect(memory.bytes(at: 0xA01F, count: 1)?.array == [0x11])
        #expect(memory.bytes(at: 0xB000, count: 16)?.array == [UInt8](repeating: 0x22, count: 16))
        #expect(memory.read(UInt8.self, at: 0x6FFF) == nil)

        let unloaded = try #require(try dump.stream(UnloadedModuleList.self)?.modules)
        #expect(unloaded.count == 1)
        #expect(unloaded[0].name == "gone.dll")
        #expect(unloaded[0].codeID == "600000001000")

        #expect(dump.directory.last?.streamType == StreamType(rawValue: 0xFFF0))
        #expect(dump.directory.last?.streamType.name == "0xfff0")
        #expect(try dump.decodeStream(dump.directory.last!) == nil)
    }

    @Test("a stream whose location leaves the file is an error that names it; the others still decode")
    func damagedLocation() throws {
        var writer = DumpWriter()
        let name = writer.appendString("a.dll")
        writer.addStream(
            type: 4,
            writer.encode(UInt32(1)) + writer.module(base: 0x1000, size: 0x1000, checksum: 0, timestamp: 0, nameRva: name))
        writer.addRawEntry(type: 3, rva: 0xFFFF_FF00, size: 0x200)
        let dump = try Self.open(writer.finish())
        #expect(try dump.stream(ModuleList.self)?.modules.count == 1)
        do {
            _ = try dump.stream(ThreadList.self)
            Issue.record("a thread list outside the file decoded")
        } catch {
            #expect(error.field.contains("ThreadListStream"))
            #expect(error.offset == 0xFFFF_FF00)
        }
    }

    @Test("a module whose name RVA is bad keeps its other fields and a warning")
    func badModuleName() throws {
        var writer = DumpWriter()
        writer.addStream(
            type: 4,
            writer.encode(UInt32(1)) + writer.module(base: 0x1000, size: 0x1000, checksum: 7, timestamp: 9, nameRva: 0x7FFF_FFFF))
        let module = try #require(try Self.open(writer.finish()).stream(ModuleList.self)?.modules.first)
        #expect(module.name.isEmpty)
        #expect(module.checkSum == 7)
        #expect(module.warnings.count == 1)
    }

    @Test("damaged debug records leave a warning, and the CodeView bytes as they were")
    func damagedDebugRecords() throws {
        var writer = DumpWriter()
        let name = writer.appendString("a.dll")
        // An RSDS record cut off inside its GUID, and a Misc record shorter than its 12-byte header.
        let cv = Array("RSDS".utf8) + [1, 2, 3, 4, 5, 6]
        let cvRva = writer.append(cv)
        let miscRva = writer.append([1, 0, 0, 0, 20, 0])
        var module = writer.module(
            base: 0x1000, size: 0x1000, checksum: 0, timestamp: 0, nameRva: name, cv: (UInt32(cvRva), UInt32(cv.count)))
        module.replaceSubrange(84..<92, with: writer.encode(UInt32(6)) + writer.encode(UInt32(miscRva)))
        writer.addStream(type: 4, writer.encode(UInt32(1)) + module)
        let read = try #require(try Self.open(writer.finish()).stream(ModuleList.self)?.modules.first)
        #expect(read.name == "a.dll")
        #expect(read.codeView == nil)
        #expect(read.codeViewBytes == cv)
        #expect(read.debugID == nil)
        #expect(read.misc == nil)
        #expect(!read.hasMiscRecord)
        #expect(read.warnings.count == 2, "\(read.warnings)")
        #expect(read.warnings.first?.contains("CV_INFO_PDB70.Signature") == true, "\(read.warnings)")
        #expect(read.warnings.last?.contains("IMAGE_DEBUG_MISC") == true, "\(read.warnings)")
    }

    @Test("a Misc record is decoded on request, and a module survives a JSON round trip")
    func miscRecordAndCoding() throws {
        var writer = DumpWriter()
        let name = writer.appendString(#"C:\app\old.exe"#)
        let miscRecord: [UInt8] = [1, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0] + Array("old.dbg".utf8) + [0]
        let miscRva = writer.append(miscRecord)
        var module = writer.module(base: 0x40_0000, size: 0x1000, checksum: 0, timestamp: 0, nameRva: name)
        module.replaceSubrange(84..<92, with: writer.encode(UInt32(miscRecord.count)) + writer.encode(UInt32(miscRva)))
        writer.addStream(type: 4, writer.encode(UInt32(1)) + module)
        let read = try #require(try Self.open(writer.finish()).stream(ModuleList.self)?.modules.first)
        #expect(read.hasMiscRecord)
        #expect(read.misc?.data == "old.dbg")
        #expect(read.misc?.unicode == false)
        #expect(read.warnings.isEmpty)

        let decoded = try JSONDecoder().decode(Module.self, from: JSONEncoder().encode(read))
        #expect(decoded == read)
        var changed = read
        changed.codeViewBytes = [1, 2, 3]
        #expect(changed != read)
        #expect(changed.misc == read.misc, "setting one debug record keeps the others")
    }

    @Test("counts larger than the stream are refused before allocating")
    func hugeCounts() throws {
        var writer = DumpWriter()
        writer.addStream(type: 4, writer.encode(UInt32(0xFFFF_FFFF)))
        writer.addStream(type: 9, writer.encode(UInt64.max) + writer.encode(UInt64(0)))
        writer.addStream(type: 14, writer.encode(UInt32(12)) + writer.encode(UInt32(24)) + writer.encode(UInt32(0x4000_0000)))
        let dump = try Self.open(writer.finish())
        #expect(throws: ParseError.self) { try dump.stream(ModuleList.self) }
        #expect(throws: ParseError.self) { try dump.stream(Memory64List.self) }
        #expect(throws: ParseError.self) { try dump.stream(UnloadedModuleList.self) }
        #expect(dump.memoryIndex().warnings.count == 1)
    }

    @Test("a Memory64List range past the end of the file is cut to what is present, with a warning")
    func truncatedMemory() throws {
        var writer = DumpWriter()
        let base = UInt64(writer.append([UInt8](repeating: 0x33, count: 8)))
        writer.addStream(
            type: 9, writer.encode(UInt64(1)) + writer.encode(base) + writer.encode(UInt64(0x5000)) + writer.encode(UInt64(4096)))
        let bytes = writer.finish()
        let dump = try Self.open(bytes)
        let memory = dump.memoryIndex()
        #expect(memory.read(UInt8.self, at: 0x5000) == 0x33)
        #expect(memory.regions.count == 1)
        #expect(memory.regions[0].bytes.count == bytes.count - Int(base))
        #expect(memory.warnings.count == 1)
    }
}
