import Foundation

/// Writes synthetic 64-bit x64 kernel dumps for tests (shared by the kernel dump and fixture
/// tests), from the public layout of DUMP_HEADER64 written out here on its own (it shares no
/// declaration with the reader, so a layout mistake in one cannot hide itself in the other).
public struct DumpWriter {
    public enum Kind: String, CaseIterable, Sendable {
        /// DumpType 1: PHYSICAL_MEMORY_DESCRIPTOR runs in the header, pages from 0x2000.
        case full
        /// DumpType 5: BITMAP_DUMP (`SDMP` + `DUMP`) at 0x2000.
        case bitmap
        /// DumpType 8: RDMP header at 0x2000 and PFN ranges.
        case kernelMemory
        /// DumpType 6: a live kernel bitmap dump, `FDMP` header.
        case liveKernelBitmap
        /// DumpType 9: RDMP, kernel and user memory.
        case kernelAndUserMemory
        /// DumpType 0xA: RDMP complete memory dump (NumberOfRanges and TotalNumberOfPages in the metadata).
        case complete

        public var dumpType: UInt32 {
            switch self {
            case .full: 1
            case .bitmap: 5
            case .liveKernelBitmap: 6
            case .kernelMemory: 8
            case .kernelAndUserMemory: 9
            case .complete: 0xA
            }
        }
    }

    // DUMP_HEADER64 offsets (Microsoft's public dump header, as also listed in REFERENCES.md).
    public static let headerSize = 0x2000
    public static let oDirectoryTableBase = 0x10
    public static let oPfnDataBase = 0x18
    public static let oPsLoadedModuleList = 0x20
    public static let oPsActiveProcessHead = 0x28
    public static let oMachineImageType = 0x30
    public static let oNumberProcessors = 0x34
    public static let oBugCheckCode = 0x38
    public static let oBugCheckParameters = 0x40
    public static let oKdDebuggerDataBlock = 0x80
    public static let oPhysicalMemoryBlock = 0x88
    public static let oContextRecord = 0x348
    public static let oException = 0xF00
    public static let oDumpType = 0xF98
    public static let oRequiredDumpSpace = 0xFA0
    public static let oSystemTime = 0xFA8
    public static let oComment = 0xFB0
    public static let oSystemUpTime = 0x1030

    // x64 CONTEXT offsets.
    public static let cContextFlags = 0x30
    public static let cMxCsr = 0x34
    public static let cRax = 0x78
    public static let cRsp = 0x98
    public static let cRip = 0xF8
    public static let cMxCsr2 = 0x118

    public init() {}

    public var directoryTableBase: UInt64 = 0x10_000
    /// The header's PsLoadedModuleList (the scenario maps nothing there; `ModuleListWriter` does).
    public var psLoadedModuleList: UInt64 = 0xFFFF_F800_0281_0000
    public var bugCheckCode: UInt32 = 0xD1
    public var bugCheckParameters: [UInt64] = [0xFFFF_F800_1234_5678, 2, 0, 0xFFFF_F800_0BAD_C0DE]
    public var rip: UInt64 = 0xFFFF_F800_0BAD_C0DE
    public var rsp: UInt64 = 0xFFFF_F800_0000_7F00
    public var rax: UInt64 = 0x1122_3344_5566_7788
    public var exceptionCode: UInt32 = 0xC000_0005
    public var comment = "postmortem test dump"
    /// Physical pages by frame number.
    public var pages: [UInt64: [UInt8]] = [:]

    public static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    public static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        let raw = le(value)
        bytes.replaceSubrange(offset..<(offset + raw.count), with: raw)
    }

    /// A page whose bytes identify its frame number.
    public static func patternPage(_ pfn: UInt64) -> [UInt8] {
        var page = (0..<4096).map { UInt8(truncatingIfNeeded: Int(pfn &* 7) &+ $0 &* 13) }
        page.replaceSubrange(0..<8, with: le(pfn | 0xABCD_0000_0000_0000))
        return page
    }

    /// The standard scenario: a 4-level page table rooted at PFN 0x10 mapping
    /// 0xFFFF800000000000+ to 4 KiB pages, a 2 MiB page and a 1 GiB page.
    public static func scenario() -> DumpWriter {
        var writer = DumpWriter()
        func entry(_ pfn: UInt64, large: Bool = false) -> UInt64 { (pfn << 12) | 0x3 | (large ? 0x80 : 0) }
        var pml4 = [UInt8](repeating: 0, count: 4096)
        put(entry(0x11), at: 256 * 8, in: &pml4)  // 0xFFFF800000000000
        var pdpt = [UInt8](repeating: 0, count: 4096)
        put(entry(0x12), at: 0, in: &pdpt)
        put(entry(0x40000, large: true), at: 1 * 8, in: &pdpt)  // 1 GiB page at 0x40000000
        var pd = [UInt8](repeating: 0, count: 4096)
        put(entry(0x13), at: 0, in: &pd)
        put(entry(0x200, large: true), at: 1 * 8, in: &pd)  // 2 MiB page at 0x200000
        var pt = [UInt8](repeating: 0, count: 4096)
        put(entry(0x20), at: 0 * 8, in: &pt)
        put(entry(0x21), at: 1 * 8, in: &pt)
        put(entry(0x22), at: 2 * 8, in: &pt)
        put(UInt64(0x23 << 12), at: 3 * 8, in: &pt)  // not present
        put(entry(0x40), at: 5 * 8, in: &pt)
        put(entry(0x99), at: 6 * 8, in: &pt)  // present, but its page is not in the dump
        writer.pages[0x10] = pml4
        writer.pages[0x11] = pdpt
        writer.pages[0x12] = pd
        writer.pages[0x13] = pt
        for pfn: UInt64 in [0x20, 0x21, 0x22, 0x40, 0x200, 0x201, 0x40005] {
            writer.pages[pfn] = patternPage(pfn)
        }
        return writer
    }

    /// Virtual addresses the scenario's translation tests look up.
    public static let probeAddresses: [UInt64] = [
        0xFFFF_8000_0000_0000, 0xFFFF_8000_0000_1234, 0xFFFF_8000_0000_2FF8, 0xFFFF_8000_0000_3000,
        0xFFFF_8000_0000_5010, 0xFFFF_8000_0000_6000, 0xFFFF_8000_0020_0000, 0xFFFF_8000_0020_1ABC,
        0xFFFF_8000_4000_5008, 0xFFFF_8000_4000_0000, 0x0000_0000_0040_0000, 0xFFFF_8000_8000_0000,
    ]

    /// The frame numbers in ascending order, grouped into runs of consecutive frames.
    public var runs: [(base: UInt64, count: UInt64)] {
        var result: [(base: UInt64, count: UInt64)] = []
        for pfn in pages.keys.sorted() {
            if let last = result.last, last.base + last.count == pfn {
                result[result.count - 1].count += 1
            } else {
                result.append((pfn, 1))
            }
        }
        return result
    }

    public func header(dumpType: UInt32) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.headerSize)
        while bytes.count < Self.headerSize { bytes += Array("PAGE".utf8) }
        bytes.replaceSubrange(0..<8, with: Array("PAGEDU64".utf8))
        Self.put(UInt32(0xF), at: 0x8, in: &bytes)
        Self.put(UInt32(19041), at: 0xC, in: &bytes)
        Self.put(directoryTableBase, at: Self.oDirectoryTableBase, in: &bytes)
        Self.put(UInt64(0xFFFF_FA80_0000_0000), at: Self.oPfnDataBase, in: &bytes)
        Self.put(psLoadedModuleList, at: Self.oPsLoadedModuleList, in: &bytes)
        Self.put(UInt64(0xFFFF_F800_0282_0000), at: Self.oPsActiveProcessHead, in: &bytes)
        Self.put(UInt32(0x8664), at: Self.oMachineImageType, in: &bytes)
        Self.put(UInt32(2), at: Self.oNumberProcessors, in: &bytes)
        Self.put(bugCheckCode, at: Self.oBugCheckCode, in: &bytes)
        for (index, parameter) in bugCheckParameters.enumerated() {
            Self.put(parameter, at: Self.oBugCheckParameters + 8 * index, in: &bytes)
        }
        Self.put(UInt64(0xFFFF_F800_0290_0000), at: Self.oKdDebuggerDataBlock, in: &bytes)
        // CONTEXT: zero it, then the registers the tests compare.
        bytes.replaceSubrange(Self.oContextRecord..<(Self.oContextRecord + 0x4D0), with: [UInt8](repeating: 0, count: 0x4D0))
        Self.put(UInt32(0x10_001F), at: Self.oContextRecord + Self.cContextFlags, in: &bytes)
        Self.put(UInt32(0x1F80), at: Self.oContextRecord + Self.cMxCsr, in: &bytes)
        Self.put(UInt32(0x1F80), at: Self.oContextRecord + Self.cMxCsr2, in: &bytes)
        Self.put(rax, at: Self.oContextRecord + Self.cRax, in: &bytes)
        Self.put(rsp, at: Self.oContextRecord + Self.cRsp, in: &bytes)
        Self.put(rip, at: Self.oContextRecord + Self.cRip, in: &bytes)
        // EXCEPTION_RECORD64: code, flags, record, address, NumberParameters, pad, information[15].
        bytes.replaceSubrange(Self.oException..<(Self.oException + 0x98), with: [UInt8](repeating: 0, count: 0x98))
        Self.put(exceptionCode, at: Self.oException, in: &bytes)
        Self.put(rip, at: Self.oException + 0x10, in: &bytes)
        Self.put(UInt32(2), at: Self.oException + 0x18, in: &bytes)
        Self.put(UInt64(1), at: Self.oException + 0x20, in: &bytes)
        Self.put(bugCheckParameters[0], at: Self.oException + 0x28, in: &bytes)
        Self.put(dumpType, at: Self.oDumpType, in: &bytes)
        Self.put(UInt64(0x1_0000), at: Self.oRequiredDumpSpace, in: &bytes)
        Self.put(UInt64(0x01DA_0000_1234_5678), at: Self.oSystemTime, in: &bytes)
        var commentBytes = Array(comment.utf8) + [0]
        commentBytes += [UInt8](repeating: 0, count: 128 - commentBytes.count)
        bytes.replaceSubrange(Self.oComment..<(Self.oComment + 128), with: commentBytes)
        Self.put(UInt64(36_000_000_000), at: Self.oSystemUpTime, in: &bytes)
        return bytes
    }

    public func build(_ kind: Kind) -> [UInt8] {
        let sorted = pages.keys.sorted()
        switch kind {
        case .full:
            var bytes = header(dumpType: 1)
            // PHYSICAL_MEMORY_DESCRIPTOR64: NumberOfRuns u32, pad u32, NumberOfPages u64, runs {BasePage, PageCount}.
            let runs = runs
            Self.put(UInt32(runs.count), at: Self.oPhysicalMemoryBlock, in: &bytes)
            Self.put(UInt32(0), at: Self.oPhysicalMemoryBlock + 4, in: &bytes)
            Self.put(UInt64(pages.count), at: Self.oPhysicalMemoryBlock + 8, in: &bytes)
            for (index, run) in runs.enumerated() {
                Self.put(run.base, at: Self.oPhysicalMemoryBlock + 16 + 16 * index, in: &bytes)
                Self.put(run.count, at: Self.oPhysicalMemoryBlock + 24 + 16 * index, in: &bytes)
            }
            for pfn in sorted { bytes += pages[pfn]! }
            return bytes
        case .bitmap, .liveKernelBitmap:
            var bytes = header(dumpType: kind.dumpType)
            let bits = ((sorted.last ?? 0) + 1 + 7) / 8 * 8
            var bitmap = [UInt8](repeating: 0, count: Int(bits / 8))
            for pfn in sorted { bitmap[Int(pfn / 8)] |= 1 << (pfn % 8) }
            let firstPage = (Self.headerSize + 0x38 + bitmap.count + 0xFFF) / 0x1000 * 0x1000
            // BITMAP_DUMP: Signature, ValidDump, DumpOptions, 20 unused, HeaderSize, Pages, BitmapSize, bits.
            var body =
                Array((kind == .bitmap ? "SDMPDUMP" : "FDMPDUMP").utf8) + Self.le(UInt32(0)) + [UInt8](repeating: 0, count: 20)
            body += Self.le(UInt64(firstPage)) + Self.le(UInt64(sorted.count)) + Self.le(bits) + bitmap
            bytes += body
            bytes += [UInt8](repeating: 0, count: firstPage - bytes.count)
            for pfn in sorted { bytes += pages[pfn]! }
            return bytes
        case .kernelMemory, .kernelAndUserMemory, .complete:
            var bytes = header(dumpType: kind.dumpType)
            let runs = runs
            // RDMP: Marker 0x40, 'RDMP', 'DUMP', unused, MetadataSize, FirstPageOffset; then the
            // metadata (two reserved u64, the PFN ranges, zero padding) up to the page-aligned first
            // page, with FirstPageOffset == 0x2020 + MetadataSize.
            let ranges = runs.flatMap { Self.le($0.base) + Self.le($0.count) }
            let firstPage = (Self.headerSize + 0x30 + ranges.count + 0xFFF) / 0x1000 * 0x1000
            let metadataSize = firstPage - (Self.headerSize + 0x20)
            var body = Self.le(UInt32(0x40)) + Array("RDMPDUMP".utf8) + Self.le(UInt32(0))
            body += Self.le(UInt64(metadataSize)) + Self.le(UInt64(firstPage))
            if kind == .complete {
                // NumberOfRanges u32, two u16, TotalNumberOfPages u64.
                body += Self.le(UInt32(runs.count)) + Self.le(UInt16(0)) + Self.le(UInt16(0)) + Self.le(UInt64(pages.count))
            } else {
                body += Self.le(UInt64(0)) + Self.le(UInt64(0))
            }
            bytes += body + ranges
            bytes += [UInt8](repeating: 0, count: firstPage - bytes.count)
            for pfn in sorted { bytes += pages[pfn]! }
            return bytes
        }
    }
}
