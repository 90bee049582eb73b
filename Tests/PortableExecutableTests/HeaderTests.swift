import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("PEImage headers and sections", .ownThread)
struct HeaderTests {
    @Test("the shared fixtures hold the PE images this suite compares")
    func fixturesPresent() {
        #expect(TestEnvironment.hasSharedFixtures)
        // 32 images at the time of writing: generated/, wine, symbolic, dump_syms, breakpad.
        #expect(peFixtures.count >= 30, "found \(peFixtures.count) PE fixtures")
        #expect(Set(peFixtures.compactMap { try? PEImage(path: $0).machine }).isSuperset(of: [.i386, .amd64, .arm64]))
    }

    @Test("headers and sections agree with pefile", arguments: peFixtures)
    func headersMatchPefile(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let header = image.optionalHeader
        #expect(UInt64(image.machine.rawValue) == u64(oracle["machine"]))
        #expect(UInt64(image.fileHeader.timeDateStamp) == u64(oracle["timestamp"]))
        #expect(UInt64(image.fileHeader.numberOfSymbols) == u64(oracle["numberOfSymbols"]))
        #expect(UInt64(image.fileHeader.characteristics.rawValue) == u64(oracle["characteristics"]))
        #expect(UInt64(header.magic) == u64(oracle["magic"]))
        #expect(
            [UInt64(header.majorLinkerVersion), UInt64(header.minorLinkerVersion)]
                == (oracle["linker"] as? [Any])?.compactMap(u64))
        #expect(UInt64(header.sizeOfCode) == u64(oracle["sizeOfCode"]))
        #expect(UInt64(header.baseOfCode) == u64(oracle["baseOfCode"]))
        #expect(header.baseOfData.map(UInt64.init) == u64(oracle["baseOfData"]))
        #expect(UInt64(header.sizeOfImage) == u64(oracle["sizeOfImage"]))
        #expect(UInt64(header.checkSum) == u64(oracle["checksum"]))
        #expect(UInt64(header.addressOfEntryPoint) == u64(oracle["entry"]))
        #expect(header.imageBase == u64(oracle["imageBase"]))
        #expect(UInt64(header.subsystem.rawValue) == u64(oracle["subsystem"]))
        #expect(UInt64(header.dllCharacteristics.rawValue) == u64(oracle["dllCharacteristics"]))
        #expect(UInt64(header.sectionAlignment) == u64(oracle["sectionAlignment"]))
        #expect(UInt64(header.fileAlignment) == u64(oracle["fileAlignment"]))
        #expect(
            [UInt64(header.majorOperatingSystemVersion), UInt64(header.minorOperatingSystemVersion)]
                == (oracle["osVersion"] as? [Any])?.compactMap(u64))
        #expect(
            [UInt64(header.majorSubsystemVersion), UInt64(header.minorSubsystemVersion)]
                == (oracle["subsystemVersion"] as? [Any])?.compactMap(u64))
        #expect(UInt64(header.sizeOfHeaders) == u64(oracle["sizeOfHeaders"]))
        #expect(
            [header.sizeOfStackReserve, header.sizeOfStackCommit, header.sizeOfHeapReserve, header.sizeOfHeapCommit]
                == (oracle["stackHeap"] as? [Any])?.compactMap(u64))
        #expect(UInt64(header.numberOfRvaAndSizes) == u64(oracle["numberOfRvaAndSizes"]))
        let directories = (oracle["directories"] as? [[Any]] ?? []).map { $0.compactMap(u64) }
        #expect(header.dataDirectories.map { [UInt64($0.virtualAddress), UInt64($0.size)] } == directories)

        let sections = oracle["sections"] as? [[String: Any]] ?? []
        #expect(image.sections.count == sections.count)
        for (ours, theirs) in zip(image.sections, sections) {
            #expect(ours.name == theirs["name"] as? String)
            #expect(UInt64(ours.virtualAddress) == u64(theirs["va"]))
            #expect(UInt64(ours.virtualSize) == u64(theirs["vsize"]))
            #expect(UInt64(ours.sizeOfRawData) == u64(theirs["rawSize"]))
            #expect(UInt64(ours.pointerToRawData) == u64(theirs["rawPointer"]))
            #expect(UInt64(ours.characteristics.rawValue) == u64(theirs["characteristics"]))
        }
    }

    @Test("headers and sections agree with llvm-readobj", arguments: peFixtures)
    func headersMatchLLVM(path: String) throws {
        let image = try PEImage(path: path)
        let (root, complete) = try llvmReadobj(["--file-headers", "--sections"], path)
        #expect(complete)
        let file = try #require(root.first("ImageFileHeader"))
        #expect(file.number("Machine") == UInt64(image.machine.rawValue))
        #expect(file.number("SectionCount") == UInt64(image.fileHeader.numberOfSections))
        #expect(file.number("TimeDateStamp") == UInt64(image.fileHeader.timeDateStamp))
        #expect(file.number("OptionalHeaderSize") == UInt64(image.fileHeader.sizeOfOptionalHeader))
        #expect(
            file.first("Characteristics").flatMap { ReadobjNode.number(in: $0.value) }
                == UInt64(image.fileHeader.characteristics.rawValue))
        let optional = try #require(root.first("ImageOptionalHeader"))
        let header = image.optionalHeader
        #expect(optional.number("Magic") == UInt64(header.magic))
        #expect(optional.number("AddressOfEntryPoint") == UInt64(header.addressOfEntryPoint))
        #expect(optional.number("ImageBase") == header.imageBase)
        #expect(optional.number("SizeOfImage") == UInt64(header.sizeOfImage))
        #expect(optional.number("SizeOfHeaders") == UInt64(header.sizeOfHeaders))
        #expect(optional.number("SectionAlignment") == UInt64(header.sectionAlignment))
        #expect(optional.number("FileAlignment") == UInt64(header.fileAlignment))
        #expect(optional.number("Subsystem") == UInt64(header.subsystem.rawValue))
        #expect(optional.number("SizeOfStackReserve") == header.sizeOfStackReserve)
        #expect(optional.number("NumberOfRvaAndSize") == UInt64(header.numberOfRvaAndSizes))
        if header.baseOfData != nil {
            #expect(optional.number("BaseOfData") == header.baseOfData.map(UInt64.init))
        }
        let dos = try #require(root.first("DOSHeader"))
        #expect(dos.number("AddressOfNewExeHeader") == UInt64(image.dosHeader.newHeaderOffset))

        let sections = root.first("Sections")?.all("Section") ?? []
        #expect(sections.count == image.sections.count)
        for (ours, theirs) in zip(image.sections, sections) {
            #expect(theirs["Name"]?.hasPrefix(image.fullName(of: ours) + " (") == true)
            #expect(theirs.number("VirtualSize") == UInt64(ours.virtualSize))
            #expect(theirs.number("VirtualAddress") == UInt64(ours.virtualAddress))
            #expect(theirs.number("RawDataSize") == UInt64(ours.sizeOfRawData))
            #expect(theirs.number("PointerToRawData") == UInt64(ours.pointerToRawData))
            #expect(
                theirs.first("Characteristics").flatMap { ReadobjNode.number(in: $0.value) }
                    == UInt64(ours.characteristics.rawValue))
        }
    }

    @Test("RVAs map to file offsets through the section table")
    func rvaMapping() throws {
        let image = try PEImage(
            path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/CrashWithException.exe"))
        // .text: VirtualAddress 0x1000, PointerToRawData 0x400 (llvm-readobj above).
        #expect(image.fileOffset(ofRVA: 0x1000) == 0x400)
        #expect(image.fileOffset(ofRVA: 0x1484) == 0x884)
        // Headers map one to one; an RVA past SizeOfImage maps nowhere.
        #expect(image.fileOffset(ofRVA: 0x10) == 0x10)
        #expect(image.fileOffset(ofRVA: 0x10_0000) == nil)
        // .data is 0x720 bytes in memory but 0x200 in the file: the tail is zero-fill, not file bytes.
        #expect(image.fileOffset(ofRVA: 0x5000 + 0x300) == nil)
        let entry = try image.bytes(atRVA: 0x1484, size: 4, field: "entry")
        #expect(entry.fileOffset == 0x884)
        #expect(throws: ParseError.self) { try image.bytes(atRVA: 0x5000 + 0x1F0, size: 0x20, field: "straddles raw end") }
    }
}
