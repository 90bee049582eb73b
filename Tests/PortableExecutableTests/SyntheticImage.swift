import Foundation

/// Writes a small PE32+ x64 image byte by byte, from the PE/COFF specification's offsets, without
/// using the reader's declarations (so a layout mistake in the reader cannot hide itself).
///
/// Layout: headers at 0 (`e_lfanew` 0x80), `.text` at RVA 0x1000 (file 0x200), `.rdata` at RVA
/// 0x2000 (file 0x400, 0x400 bytes) holding an export directory (0x2000), `.pdata` (0x2100),
/// two UNWIND_INFO (0x2180, 0x21A0, the first chained to the second), a debug directory (0x2200)
/// with an RSDS record (0x2220), and a version resource tree (0x2300).
struct SyntheticImage {
    var bytes = [UInt8](repeating: 0, count: 0x800)

    static let ntOffset = 0x80
    static let optionalOffset = 0x80 + 4 + 20
    static let sectionTable = 0x80 + 4 + 20 + 240

    init() {
        put16(0, 0x5A4D)
        put32(0x3C, UInt32(Self.ntOffset))
        put32(0x80, 0x0000_4550)
        // IMAGE_FILE_HEADER
        put16(0x84, 0x8664)
        put16(0x86, 2)
        put32(0x88, 0x5C9E_0959)
        put16(0x94, 240)
        put16(0x96, 0x2022)
        // IMAGE_OPTIONAL_HEADER64
        let o = Self.optionalOffset
        put16(o + 0, 0x20B)
        put32(o + 16, 0x1000)  // AddressOfEntryPoint
        put64(o + 24, 0x1_8000_0000)  // ImageBase
        put32(o + 32, 0x1000)  // SectionAlignment
        put32(o + 36, 0x200)  // FileAlignment
        put32(o + 56, 0x3000)  // SizeOfImage
        put32(o + 60, 0x200)  // SizeOfHeaders
        put16(o + 68, 3)  // Subsystem
        put32(o + 108, 16)  // NumberOfRvaAndSizes
        directory(0, rva: 0x2000, size: 0x80)  // export
        directory(2, rva: 0x2300, size: 0x100)  // resource
        directory(3, rva: 0x2100, size: 24)  // exception
        directory(6, rva: 0x2200, size: 28)  // debug
        section(0, ".text", va: 0x1000, virtualSize: 0x100, rawSize: 0x200, rawPointer: 0x200, flags: 0x6000_0020)
        section(1, ".rdata", va: 0x2000, virtualSize: 0x400, rawSize: 0x400, rawPointer: 0x400, flags: 0x4000_0040)

        // Export directory at RVA 0x2000 (file 0x400).
        let e = 0x400
        put32(e + 12, 0x2040)  // Name
        put32(e + 16, 1)  // Base
        put32(e + 20, 2)  // NumberOfFunctions
        put32(e + 24, 1)  // NumberOfNames
        put32(e + 28, 0x2050)
        put32(e + 32, 0x2058)
        put32(e + 36, 0x205C)
        string(0x440, "test.dll")
        put32(0x450, 0x1000)
        put32(0x454, 0x2070)  // inside the directory: a forwarder
        put32(0x458, 0x2060)
        put16(0x45C, 0)
        string(0x460, "Func")
        string(0x470, "NTDLL.Rtl")

        // .pdata at RVA 0x2100 (file 0x500): two RUNTIME_FUNCTIONs.
        put32(0x500, 0x1000); put32(0x504, 0x1010); put32(0x508, 0x2180)
        put32(0x50C, 0x1010); put32(0x510, 0x1020); put32(0x514, 0x21A0)
        // UNWIND_INFO at 0x2180: version 1, UNW_FLAG_CHAININFO, prolog 4, 1 code: ALLOC_SMALL 40 at 4.
        bytes[0x580] = 1 | (4 << 3); bytes[0x581] = 4; bytes[0x582] = 1; bytes[0x583] = 0
        bytes[0x584] = 4; bytes[0x585] = 0x42
        put32(0x588, 0x1010); put32(0x58C, 0x1020); put32(0x590, 0x21A0)
        // UNWIND_INFO at 0x21A0: version 1, no flags, 1 code: PUSH_NONVOL RBX at 1.
        bytes[0x5A0] = 1; bytes[0x5A1] = 1; bytes[0x5A2] = 1; bytes[0x5A3] = 0
        bytes[0x5A4] = 1; bytes[0x5A5] = 0x30

        // Debug directory at RVA 0x2200 (file 0x600): one CODEVIEW entry.
        put32(0x604, 0x5C9E_0959)
        put32(0x60C, 2)
        put32(0x610, 30)
        put32(0x614, 0x2220)
        put32(0x618, 0x620)
        put32(0x620, 0x5344_5352)  // RSDS
        for i in 0..<16 { bytes[0x624 + i] = UInt8(i + 1) }
        put32(0x634, 3)
        string(0x638, "x.pdb")

        // Resource tree at RVA 0x2300 (file 0x700): type 16 → id 1 → language 0x409 → data entry.
        let r = 0x700
        put16(r + 14, 1); put32(r + 16, 16); put32(r + 20, 0x8000_0018)
        put16(r + 0x18 + 14, 1); put32(r + 0x18 + 16, 1); put32(r + 0x18 + 20, 0x8000_0030)
        put16(r + 0x30 + 14, 1); put32(r + 0x30 + 16, 0x409); put32(r + 0x30 + 20, 0x48)
        put32(r + 0x48, 0x2360); put32(r + 0x4C, 0x5C)
        // VS_VERSIONINFO at RVA 0x2360 (file 0x760): header, key, VS_FIXEDFILEINFO; no children.
        let v = 0x760
        put16(v, 0x5C); put16(v + 2, 52); put16(v + 4, 0)
        utf16(v + 6, "VS_VERSION_INFO")  // 6 + 32 = 38, padded to 40
        put32(v + 40, 0xFEEF_04BD)
        put32(v + 48, 0x0001_0002)  // FileVersionMS 1.2
        put32(v + 52, 0x0003_0004)  // FileVersionLS 3.4
    }

    mutating func put16(_ at: Int, _ value: UInt16) {
        bytes[at] = UInt8(value & 0xFF)
        bytes[at + 1] = UInt8(value >> 8)
    }

    mutating func put32(_ at: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[at + i] = UInt8((value >> (8 * UInt32(i))) & 0xFF) }
    }

    mutating func put64(_ at: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[at + i] = UInt8((value >> (8 * UInt64(i))) & 0xFF) }
    }

    mutating func string(_ at: Int, _ text: String) {
        for (i, byte) in text.utf8.enumerated() { bytes[at + i] = byte }
        bytes[at + text.utf8.count] = 0
    }

    mutating func utf16(_ at: Int, _ text: String) {
        for (i, unit) in text.utf16.enumerated() { put16(at + 2 * i, unit) }
        put16(at + 2 * text.utf16.count, 0)
    }

    mutating func directory(_ index: Int, rva: UInt32, size: UInt32) {
        put32(Self.optionalOffset + 112 + index * 8, rva)
        put32(Self.optionalOffset + 112 + index * 8 + 4, size)
    }

    mutating func section(
        _ index: Int, _ name: String, va: UInt32, virtualSize: UInt32, rawSize: UInt32, rawPointer: UInt32, flags: UInt32
    ) {
        let at = Self.sectionTable + index * 40
        for (i, byte) in name.utf8.enumerated() { bytes[at + i] = byte }
        put32(at + 8, virtualSize)
        put32(at + 12, va)
        put32(at + 16, rawSize)
        put32(at + 20, rawPointer)
        put32(at + 36, flags)
    }
}
