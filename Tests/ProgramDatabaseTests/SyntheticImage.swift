import Foundation
import ProgramDatabase

/// Writes a header-only PE image whose CodeView record names a PDB, so that llvm-symbolizer
/// (which reads PDBs only through an image) can answer for PDBs that come without one.
///
/// The image carries the PDB's own section table (addresses only, no raw data) and one extra
/// section holding the debug directory and the `RSDS` record (GUID, age, absolute PDB path).
enum SyntheticImage {
    static func write(for pdbPath: String, pdb: PDBFile) throws -> String {
        let sections = try pdb.sectionHeaders()
        let machine = pdb.dbi.header.machine
        let is64 = machine != 0x014C && machine != 0x01C4
        let optionalSize = is64 ? 240 : 224
        let headerEnd = 0x40 + 4 + 20 + optionalSize + (sections.count + 1) * 40
        let sizeOfHeaders = (headerEnd + 0x1FF) & ~0x1FF
        var lastEnd: UInt32 = 0x1000
        for section in sections {
            lastEnd = max(lastEnd, section.virtualAddress + max(section.virtualSize, section.sizeOfRawData))
        }
        let debugRVA = (lastEnd + 0xFFF) & ~0xFFF

        var record = Array("RSDS".utf8)
        record += pdb.guid.bytes
        record.append32(pdb.infoAge)
        record += Array(pdbPath.utf8) + [0]
        var debugData = [UInt8]()
        debugData.append32(0)  // Characteristics
        debugData.append32(0)  // TimeDateStamp
        debugData.append32(0)  // Major/MinorVersion
        debugData.append32(2)  // IMAGE_DEBUG_TYPE_CODEVIEW
        debugData.append32(UInt32(record.count))
        debugData.append32(debugRVA + 28)  // AddressOfRawData
        debugData.append32(UInt32(sizeOfHeaders + 28))  // PointerToRawData
        debugData += record
        let debugSize = UInt32(debugData.count)
        let sizeOfImage = (debugRVA + debugSize + 0xFFF) & ~0xFFF

        var image = [UInt8](repeating: 0, count: 0x40)
        image[0] = UInt8(ascii: "M")
        image[1] = UInt8(ascii: "Z")
        image[0x3C] = 0x40
        image += Array("PE".utf8) + [0, 0]
        image.append16(machine)
        image.append16(UInt16(sections.count + 1))
        image.append32(0)  // TimeDateStamp
        image.append32(0)
        image.append32(0)
        image.append16(UInt16(optionalSize))
        image.append16(is64 ? 0x0022 : 0x0102)
        image.append16(is64 ? 0x020B : 0x010B)
        image += [14, 0]  // linker version
        image.append32(0)  // SizeOfCode
        image.append32(0)
        image.append32(0)
        image.append32(0)  // AddressOfEntryPoint
        image.append32(0x1000)  // BaseOfCode
        if is64 {
            image.append32(0x4000_0000)  // ImageBase 0x140000000
            image.append32(0x1)
        } else {
            image.append32(0)  // BaseOfData
            image.append32(0x0040_0000)
        }
        image.append32(0x1000)  // SectionAlignment
        image.append32(0x200)  // FileAlignment
        image.append16(6)
        image.append16(0)
        image.append16(0)
        image.append16(0)
        image.append16(6)
        image.append16(0)
        image.append32(0)  // Win32VersionValue
        image.append32(sizeOfImage)
        image.append32(UInt32(sizeOfHeaders))
        image.append32(0)  // CheckSum
        image.append16(3)  // console
        image.append16(0)
        for _ in 0..<4 {
            if is64 { image.append32(0x10_0000); image.append32(0) } else { image.append32(0x10_0000) }
        }
        image.append32(0)  // LoaderFlags
        image.append32(16)
        for directory in 0..<16 {
            if directory == 6 {
                image.append32(debugRVA)
                image.append32(28)
            } else {
                image.append32(0)
                image.append32(0)
            }
        }
        for section in sections {
            var name = Array(section.name.utf8.prefix(8))
            name += [UInt8](repeating: 0, count: 8 - name.count)
            image += name
            image.append32(section.virtualSize)
            image.append32(section.virtualAddress)
            image.append32(0)  // no raw data
            image.append32(0)
            image += [UInt8](repeating: 0, count: 12)
            image.append32(section.characteristics)
        }
        image += Array(".pmdbg".utf8) + [0, 0]
        image.append32(debugSize)
        image.append32(debugRVA)
        image.append32(UInt32((Int(debugSize) + 0x1FF) & ~0x1FF))
        image.append32(UInt32(sizeOfHeaders))
        image += [UInt8](repeating: 0, count: 12)
        image.append32(0x4000_0040)
        image += [UInt8](repeating: 0, count: sizeOfHeaders - image.count)
        image += debugData
        image += [UInt8](repeating: 0, count: ((image.count + 0x1FF) & ~0x1FF) - image.count)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pdb-oracle-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = pdbPath.split(separator: "/").suffix(2).joined(separator: "-") + ".exe"
        let url = folder.appendingPathComponent(name)
        try Data(image).write(to: url)
        return url.path
    }
}
