import Analysis
import Foundation
import TestSupport
import Testing

/// Full, bitmap and RDMP kernel dumps built from a real small dump's header: the fixtures hold
/// no such dumps, so the page-carrying types are written here, field by field from the layouts
/// in REFERENCES.md (not through the parser's declarations).
@Suite("verify on synthetic full, bitmap and RDMP kernel dumps", .ownThread)
struct VerifySyntheticKernelTests {
    static let page = 0x1000

    /// The real header of a small dump, retyped, with `body` after it and RequiredDumpSpace set to the file size.
    static func dump(from path: String, type: UInt32, body: [UInt8], edit: (inout [UInt8]) -> Void = { _ in }) throws -> [UInt8] {
        let original = try VerifyFixtures.bytes(path)
        let is64Bit = original.starts(with: Array("PAGEDU64".utf8))
        var bytes = Array(original[..<(is64Bit ? 0x2000 : 0x1000)]) + body
        VerifyFixtures.put32(type, at: is64Bit ? 0xF98 : 0xF88, in: &bytes)
        VerifyFixtures.put64(UInt64(bytes.count), at: 0xFA0, in: &bytes)
        edit(&bytes)
        return bytes
    }

    /// `PHYSICAL_MEMORY_DESCRIPTOR` with `runs` (base page, page count) at the header's PhysicalMemoryBlock.
    static func writeRuns(_ runs: [(UInt64, UInt64)], is64Bit: Bool, into bytes: inout [UInt8]) {
        let pages = runs.reduce(0) { $0 + $1.1 }
        if is64Bit {
            VerifyFixtures.put32(UInt32(runs.count), at: 0x88, in: &bytes)
            VerifyFixtures.put64(pages, at: 0x90, in: &bytes)
            for (index, run) in runs.enumerated() {
                VerifyFixtures.put64(run.0, at: 0x98 + 16 * index, in: &bytes)
                VerifyFixtures.put64(run.1, at: 0xA0 + 16 * index, in: &bytes)
            }
        } else {
            VerifyFixtures.put32(UInt32(runs.count), at: 0x64, in: &bytes)
            VerifyFixtures.put32(UInt32(pages), at: 0x68, in: &bytes)
            for (index, run) in runs.enumerated() {
                VerifyFixtures.put32(UInt32(run.0), at: 0x6C + 8 * index, in: &bytes)
                VerifyFixtures.put32(UInt32(run.1), at: 0x70 + 8 * index, in: &bytes)
            }
        }
    }

    static func pages(_ count: Int) -> [UInt8] { [UInt8](repeating: 0xCC, count: count * page) }

    @Test(
        "full dumps (64- and 32-bit): pass; truncated, overlapping runs or a short file fail",
        arguments: VerifyFixtures.kernelDumps)
    func fullDump(path: String) throws {
        let is64Bit = try VerifyFixtures.bytes(path).starts(with: Array("PAGEDU64".utf8))
        let intact = try Self.dump(from: path, type: 1, body: Self.pages(3)) {
            Self.writeRuns([(0x10, 2), (0x40, 1)], is64Bit: is64Bit, into: &$0)
        }
        let report = VerifyFixtures.verify(intact, name: "full")
        #expect(report.passed, "\(report.checks.filter { $0.status != .pass })")
        #expect(report.kind.hasSuffix("full)"))
        #expect(report.check(CheckName.modules)?.detail.contains("the driver list could not be walked") == true)

        let truncated = VerifyFixtures.verify(Array(intact.dropLast(Self.page)), name: "full, one page short")
        #expect(truncated.check(CheckName.fileSize)?.status == .fail, "\(truncated.checks)")
        #expect(!truncated.passed)

        let overlapping = try Self.dump(from: path, type: 1, body: Self.pages(3)) {
            Self.writeRuns([(0x10, 2), (0x11, 1)], is64Bit: is64Bit, into: &$0)
        }
        let overlapReport = VerifyFixtures.verify(overlapping, name: "full, overlapping runs")
        #expect(overlapReport.check(CheckName.layout)?.status == .fail, "\(overlapReport.checks)")
        #expect(overlapReport.check(CheckName.layout)?.detail.contains("overlap") == true)
    }

    @Test("bitmap dumps: pass; a page count past the file fails", arguments: VerifyFixtures.kernelDumps)
    func bitmapDump(path: String) throws {
        let headerSize = try VerifyFixtures.bytes(path).starts(with: Array("PAGEDU64".utf8)) ? 0x2000 : 0x1000
        func body(pages claimed: UInt64) -> [UInt8] {
            // BITMAP_DUMP: 'SDMP' 'DUMP' options, 20 unused bytes, HeaderSize, Pages, BitmapSize, bits.
            var header = [UInt8](repeating: 0, count: Self.page)
            header.replaceSubrange(0..<8, with: Array("SDMPDUMP".utf8))
            VerifyFixtures.put64(UInt64(headerSize + Self.page), at: 0x20, in: &header)
            VerifyFixtures.put64(claimed, at: 0x28, in: &header)
            VerifyFixtures.put64(64, at: 0x30, in: &header)
            header[0x38] = 0b0010_0011  // pages 0, 1 and 5
            return header + Self.pages(3)
        }
        let intact = try Self.dump(from: path, type: 5, body: body(pages: 3))
        let report = VerifyFixtures.verify(intact, name: "bitmap")
        #expect(report.passed, "\(report.checks.filter { $0.status != .pass })")
        let short = try Self.dump(from: path, type: 5, body: body(pages: 10))
        let shortReport = VerifyFixtures.verify(short, name: "bitmap claiming 10 pages")
        #expect(shortReport.check(CheckName.fileSize)?.status == .fail, "\(shortReport.checks)")
        let cut = VerifyFixtures.verify(Array(intact.dropLast(Self.page + 10)), name: "bitmap, cut")
        #expect(!cut.passed)
    }

    @Test("RDMP (kernel memory) dumps: pass; a truncated copy fails")
    func rdmpDump() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        // RDMP header: marker, 'RDMP', 'DUMP', 4 unused, MetadataSize, FirstPageOffset, then
        // 16 type-specific bytes and the PFN ranges.
        var header = [UInt8](repeating: 0, count: 0x20 + 48)
        VerifyFixtures.put32(0x40, at: 0, in: &header)
        header.replaceSubrange(4..<12, with: Array("RDMPDUMP".utf8))
        VerifyFixtures.put64(48, at: 0x10, in: &header)
        VerifyFixtures.put64(UInt64(0x2000 + 0x20 + 48), at: 0x18, in: &header)
        VerifyFixtures.put64(0x10, at: 0x30, in: &header)
        VerifyFixtures.put64(2, at: 0x38, in: &header)
        VerifyFixtures.put64(0x40, at: 0x40, in: &header)
        VerifyFixtures.put64(1, at: 0x48, in: &header)
        let intact = try Self.dump(from: VerifyFixtures.arm64Small, type: 8, body: header + Self.pages(3))
        let report = VerifyFixtures.verify(intact, name: "rdmp")
        #expect(report.passed, "\(report.checks.filter { $0.status != .pass })")
        #expect(report.kind == "kernel (64-bit, kernel memory)")
        let cut = VerifyFixtures.verify(Array(intact.dropLast(2 * Self.page)), name: "rdmp, cut")
        #expect(cut.check(CheckName.fileSize)?.status == .fail, "\(cut.checks)")
    }
}
