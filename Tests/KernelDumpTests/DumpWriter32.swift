import Foundation
import TestSupport

/// Writes synthetic 32-bit x86 kernel dumps (`PAGEDUMP`, DUMP_HEADER32) with page tables for
/// PAE and classic paging; offsets written out here from the public layout, not the reader's.
struct DumpWriter32 {
    enum Kind: String, CaseIterable, Sendable {
        /// DumpType 1: PHYSICAL_MEMORY_DESCRIPTOR32 runs at 0x64, pages from 0x1000.
        case full
        /// DumpType 2: SUMMARY_DUMP32 (`SDMP` + `DUMP`) at 0x1000, bits at 0x1020.
        case summary
    }

    static let headerSize = 0x1000
    var pae: Bool
    var pages: [UInt64: [UInt8]] = [:]

    var directoryTableBase: UInt32 { pae ? 0x5020 : 0x8000 }

    static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
    }

    /// Page tables for both modes: PAE rooted at 0x5020 (PDPT inside page 5), classic at 0x8000.
    static func scenario(pae: Bool) -> DumpWriter32 {
        var writer = DumpWriter32(pae: pae)
        // PAE: PDPT[2] (0x80000000) -> PD pfn 6; PD[0] -> PT pfn 7; PD[1] -> 2 MiB page at 0x400000.
        var pdptPage = [UInt8](repeating: 0, count: 4096)
        put(UInt64(0x6000 | 1), at: 0x20 + 2 * 8, in: &pdptPage)
        var pd = [UInt8](repeating: 0, count: 4096)
        put(UInt64(0x7000 | 3), at: 0, in: &pd)
        put(UInt64(0x40_0000 | 0x83), at: 8, in: &pd)
        var pt = [UInt8](repeating: 0, count: 4096)
        put(UInt64(0x30000 | 3), at: 0, in: &pt)
        put(UInt64(0x31000 | 3), at: 8, in: &pt)
        // Classic: PD pfn 8; PD[0x200] -> PT pfn 9; PD[0x201] -> 4 MiB page at 0x800000.
        var classicPD = [UInt8](repeating: 0, count: 4096)
        put(UInt32(0x9000 | 3), at: 0x200 * 4, in: &classicPD)
        put(UInt32(0x80_0000 | 0x83), at: 0x201 * 4, in: &classicPD)
        var classicPT = [UInt8](repeating: 0, count: 4096)
        put(UInt32(0x30000 | 3), at: 0, in: &classicPT)
        put(UInt32(0x31000 | 3), at: 4, in: &classicPT)
        writer.pages[5] = pdptPage
        writer.pages[6] = pd
        writer.pages[7] = pt
        writer.pages[8] = classicPD
        writer.pages[9] = classicPT
        for pfn: UInt64 in [0x30, 0x31, 0x400, 0x401, 0x800] {
            writer.pages[pfn] = DumpWriter.patternPage(pfn)
        }
        return writer
    }

    func header(dumpType: UInt32) -> [UInt8] {
        var bytes = [UInt8]()
        while bytes.count < Self.headerSize { bytes += Array("PAGE".utf8) }
        bytes.replaceSubrange(0..<8, with: Array("PAGEDUMP".utf8))
        Self.put(UInt32(0xF), at: 0x08, in: &bytes)
        Self.put(UInt32(2600), at: 0x0C, in: &bytes)
        Self.put(directoryTableBase, at: 0x10, in: &bytes)
        Self.put(UInt32(0x8054_0000), at: 0x18, in: &bytes)  // PsLoadedModuleList
        Self.put(UInt32(0x14C), at: 0x20, in: &bytes)  // MachineImageType: i386
        Self.put(UInt32(1), at: 0x24, in: &bytes)  // NumberProcessors
        Self.put(UInt32(0x7F), at: 0x28, in: &bytes)  // BugCheckCode
        for (index, value) in [UInt32(8), 0x8054_2000, 0, 0].enumerated() {
            Self.put(value, at: 0x2C + 4 * index, in: &bytes)
        }
        bytes[0x5C] = pae ? 1 : 0  // PaeEnabled
        bytes[0x5D] = 0x2A  // KdSecondaryVersion
        Self.put(UInt32(dumpType), at: 0xF88, in: &bytes)
        Self.put(UInt64(0x1234_5678), at: 0xFB8, in: &bytes)  // SystemUpTime
        Self.put(UInt64(0x01C0_0000_0000_0001), at: 0xFC0, in: &bytes)  // SystemTime
        return bytes
    }

    func build(_ kind: Kind) -> [UInt8] {
        let sorted = pages.keys.sorted()
        switch kind {
        case .full:
            var bytes = header(dumpType: 1)
            var runs: [(UInt32, UInt32)] = []
            for pfn in sorted {
                if let last = runs.last, UInt64(last.0 + last.1) == pfn {
                    runs[runs.count - 1].1 += 1
                } else {
                    runs.append((UInt32(pfn), 1))
                }
            }
            Self.put(UInt32(runs.count), at: 0x64, in: &bytes)
            Self.put(UInt32(sorted.count), at: 0x68, in: &bytes)
            for (index, run) in runs.enumerated() {
                Self.put(run.0, at: 0x6C + 8 * index, in: &bytes)
                Self.put(run.1, at: 0x70 + 8 * index, in: &bytes)
            }
            for pfn in sorted { bytes += pages[pfn]! }
            return bytes
        case .summary:
            var bytes = header(dumpType: 2)
            let bits = Int((sorted.last ?? 0) + 1)
            var bitmap = [UInt8](repeating: 0, count: (bits + 7) / 8)
            for pfn in sorted { bitmap[Int(pfn / 8)] |= 1 << (pfn % 8) }
            let firstPage = (Self.headerSize + 0x20 + bitmap.count + 0xFFF) / 0x1000 * 0x1000
            var body = Array("SDMPDUMP".utf8)
            for value in [UInt32(0), UInt32(firstPage), UInt32(bits), UInt32(sorted.count), UInt32(bits), 0] {
                withUnsafeBytes(of: value.littleEndian) { body += $0 }
            }
            bytes += body + bitmap
            bytes += [UInt8](repeating: 0, count: firstPage - bytes.count)
            for pfn in sorted { bytes += pages[pfn]! }
            return bytes
        }
    }
}
