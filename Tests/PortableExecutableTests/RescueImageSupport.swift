import Foundation
import PortableExecutable
import TestSupport

/// Builders and readers for the rescue tests, written from the specifications' byte offsets and
/// not from the library's declarations, so a layout mistake in the writer cannot hide itself.
enum RescueBytes {
    static func le16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }
    static func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
    static func put32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// A `CV_INFO_PDB70` record: `RSDS`, 16 GUID bytes, age, NUL-terminated UTF-8 path.
    static func codeView(guid: [UInt8], age: UInt32, name: String) -> [UInt8] {
        Array("RSDS".utf8) + guid + put32(age) + Array(name.utf8) + [0]
    }

    /// The GUID of 16 stored bytes as printed: Data1, Data2, Data3 as integers, then Data4's bytes.
    static func guidHex(_ b: [UInt8]) -> String {
        let data1 = le32(b, 0)
        let data2 = le16(b, 4)
        let data3 = le16(b, 6)
        return String(format: "%08X%04X%04X", data1, data2, data3) + b[8..<16].map { String(format: "%02X", $0) }.joined()
    }

    /// An `IMAGE_DEBUG_MISC` record naming an .exe/.dbg: DataType 1, Length, Unicode 0, 3 reserved, name padded to 4.
    static func misc(name: String) -> [UInt8] {
        var data = Array(name.utf8) + [0]
        while data.count % 4 != 0 { data.append(0) }
        return put32(1) + put32(UInt32(12 + data.count)) + [0, 0, 0, 0] + data
    }

    /// VS_FIXEDFILEINFO for version a.b.c.d, file type 1 (app) or 2 (DLL).
    static func fixedFileInfo(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, dll: Bool) -> [UInt32] {
        [
            0xFEEF_04BD, 0x0001_0000, a << 16 | b, c << 16 | d, a << 16 | b, c << 16 | d, 0x3F, 0, 0x0004_0004,
            dll ? 2 : 1, 0, 0, 0,
        ]
    }

    /// A page of recognizable bytes.
    static func pattern(_ seed: UInt8, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: Int(seed) &* 31 &+ $0 &* 7 &+ 1) | 1 }
    }

    /// The fixture PE laid out as the loader maps it: headers at 0, each section's raw data at its RVA.
    struct Mapped {
        var memory: [UInt8]
        var timeDateStamp: UInt32
        var sizeOfImage: UInt32
        var checkSum: UInt32
        var imageBase: UInt64
        var machine: UInt16
        var codeView: [UInt8]
        /// Sections as (VirtualAddress, VirtualSize).
        var sections: [(va: UInt32, size: UInt32)]
        var debugDirectory: (rva: UInt32, size: UInt32)
    }

    static func map(_ file: [UInt8]) -> Mapped {
        let nt = Int(le32(file, 0x3C))
        let fileHeader = nt + 4
        let machine = le16(file, fileHeader)
        let sectionCount = Int(le16(file, fileHeader + 2))
        let timeDateStamp = le32(file, fileHeader + 4)
        let optionalSize = Int(le16(file, fileHeader + 16))
        let optional = fileHeader + 20
        let wide = le16(file, optional) == 0x20B
        let imageBase =
            wide
            ? UInt64(le32(file, optional + 24)) | UInt64(le32(file, optional + 28)) << 32 : UInt64(le32(file, optional + 28))
        let sizeOfImage = le32(file, optional + 56)
        let sizeOfHeaders = Int(le32(file, optional + 60))
        let checkSum = le32(file, optional + 64)
        let directories = optional + (wide ? 112 : 96)
        let debugRVA = le32(file, directories + 6 * 8)
        let debugSize = le32(file, directories + 6 * 8 + 4)
        var memory = [UInt8](repeating: 0, count: Int(sizeOfImage))
        memory.replaceSubrange(0..<sizeOfHeaders, with: file[0..<sizeOfHeaders])
        var sections = [(va: UInt32, size: UInt32)]()
        for index in 0..<sectionCount {
            let header = optional + optionalSize + index * 40
            let virtualSize = le32(file, header + 8)
            let va = Int(le32(file, header + 12))
            let rawSize = Int(le32(file, header + 16))
            let rawPointer = Int(le32(file, header + 20))
            let count = min(rawSize, (Int(virtualSize) + 0xFFF) & ~0xFFF, file.count - rawPointer)
            if count > 0 { memory.replaceSubrange(va..<(va + count), with: file[rawPointer..<(rawPointer + count)]) }
            sections.append((UInt32(va), virtualSize))
        }
        // The CodeView record, found through the mapped debug directory.
        var codeView = [UInt8]()
        for entry in stride(from: Int(debugRVA), to: Int(debugRVA + debugSize), by: 28) where le32(memory, entry + 12) == 2 {
            let size = Int(le32(memory, entry + 16))
            let rva = Int(le32(memory, entry + 20))
            codeView = Array(memory[rva..<(rva + size)])
        }
        return Mapped(
            memory: memory, timeDateStamp: timeDateStamp, sizeOfImage: sizeOfImage, checkSum: checkSum,
            imageBase: imageBase, machine: machine, codeView: codeView, sections: sections,
            debugDirectory: (debugRVA, debugSize))
    }

    /// Pages of `memory` in `[start, end)` as captured ranges, one page each.
    static func pages(_ memory: [UInt8], from start: Int, to end: Int) -> [(rva: UInt32, bytes: [UInt8])] {
        stride(from: start, to: end, by: 0x1000).map { (UInt32($0), Array(memory[$0..<min($0 + 0x1000, end)])) }
    }
}

/// The pefile oracle for rescued images: a full parse (every directory), its warnings, and the
/// fields debuggers match on, as JSON.
let rescuePefileScript = #"""
    import json, sys, pefile
    pe = pefile.PE(sys.argv[1])
    oh = pe.OPTIONAL_HEADER
    out = {'machine': pe.FILE_HEADER.Machine, 'timestamp': pe.FILE_HEADER.TimeDateStamp,
           'characteristics': pe.FILE_HEADER.Characteristics, 'magic': oh.Magic,
           'sizeOfImage': oh.SizeOfImage, 'checksum': oh.CheckSum, 'imageBase': oh.ImageBase,
           'sectionAlignment': oh.SectionAlignment, 'fileAlignment': oh.FileAlignment,
           'sizeOfHeaders': oh.SizeOfHeaders,
           'sections': [{'name': s.Name.rstrip(b'\0').decode('latin-1'), 'va': s.VirtualAddress,
                         'vsize': s.Misc_VirtualSize, 'rawSize': s.SizeOfRawData, 'rawPointer': s.PointerToRawData}
                        for s in pe.sections],
           'warnings': pe.get_warnings()}
    debug = []
    for d in getattr(pe, 'DIRECTORY_ENTRY_DEBUG', []):
        e = {'type': d.struct.Type, 'timestamp': d.struct.TimeDateStamp, 'size': d.struct.SizeOfData,
             'rva': d.struct.AddressOfRawData, 'pointer': d.struct.PointerToRawData,
             'data': pe.get_data(d.struct.AddressOfRawData, d.struct.SizeOfData).hex() if d.struct.AddressOfRawData else ''}
        cv = d.entry
        if d.struct.Type == 2 and cv is not None and hasattr(cv, 'Signature_Data1'):
            g = '%08X%04X%04X' % (cv.Signature_Data1, cv.Signature_Data2, cv.Signature_Data3) + \
                bytes([cv.Signature_Data4, cv.Signature_Data5]).hex().upper() + bytes(cv.Signature_Data6).hex().upper()
            e['cv'] = {'guid': g, 'age': cv.Age, 'name': cv.PdbFileName.rstrip(b'\0').decode('utf-8', 'replace')}
        debug.append(e)
    out['debug'] = debug
    if getattr(pe, 'VS_FIXEDFILEINFO', None):
        f = pe.VS_FIXEDFILEINFO[0]
        out['fixed'] = [f.Signature, f.StrucVersion, f.FileVersionMS, f.FileVersionLS, f.ProductVersionMS,
                        f.ProductVersionLS, f.FileFlagsMask, f.FileFlags, f.FileOS, f.FileType, f.FileSubtype,
                        f.FileDateMS, f.FileDateLS]
    json.dump(out, sys.stdout)
    """#

/// The LIEF oracle for rescued images: identity, CodeView record and fixed file info as JSON.
let rescueLiefScript = #"""
    import json, sys, lief
    b = lief.parse(sys.argv[1])
    if b is None:
        sys.exit('LIEF could not parse the image')
    out = {'machine': int(b.header.machine.value), 'timestamp': b.header.time_date_stamps,
           'sizeOfImage': b.optional_header.sizeof_image, 'checksum': b.optional_header.checksum,
           'imageBase': b.optional_header.imagebase, 'cv': None, 'fixed': None}
    for d in b.debug:
        if isinstance(d, lief.PE.CodeViewPDB):
            out['cv'] = {'signature': list(d.signature), 'age': d.age, 'name': d.filename}
    if b.has_resources and b.resources_manager.has_version:
        f = b.resources_manager.version[0].file_info
        out['fixed'] = [f.signature, f.struct_version, f.file_version_ms, f.file_version_ls, f.product_version_ms,
                        f.product_version_ls, f.file_flags_mask, f.file_flags, f.file_os, f.file_type, f.file_subtype,
                        f.file_date_ms, f.file_date_ls]
    json.dump(out, sys.stdout)
    """#

/// Writes `bytes` to a fresh temporary file and returns its path.
func writeTemporary(_ bytes: [UInt8], name: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rescue-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}
