import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Inline-site binary annotations decoded op by op as `llvm-pdbutil dump -symbols` decodes them.
@Suite("inline site annotations agree with llvm-pdbutil", .ownThread)
struct BinaryAnnotationOracleTests {
    struct SiteKey: Hashable {
        var module: Int
        var offset: UInt32
    }

    struct Range: Equatable, CustomStringConvertible {
        var start: UInt32
        var end: UInt32
        var line: Int64
        var description: String { "[0x\(String(start, radix: 16)), 0x\(String(end, radix: 16))) line \(line)" }
    }

    /// Ranges from llvm-pdbutil's printed running values: a printed `code X` starts a range at X
    /// with the running line, the next start or a printed `code end Y` ends it.
    static func pdbutilRanges(_ path: String) throws -> [SiteKey: [Range]] {
        let text = try LLVMTools.runPDBUtil(["dump", "-symbols", path])
        var sites = [SiteKey: [Range]]()
        var module = -1
        var site: SiteKey?
        var open: (start: UInt32, line: Int64)?
        var line: Int64 = 0
        var ranges = [Range]()
        func finish() {
            if let site { sites[site] = ranges }
            site = nil
            open = nil
            ranges = []
            line = 0
        }
        func hexValue(after marker: String, in text: Substring) -> UInt32? {
            guard let range = text.range(of: marker) else { return nil }
            let digits = text[range.upperBound...].prefix { $0.isHexDigit }
            return UInt32(digits, radix: 16)
        }
        for raw in text.split(separator: "\n") {
            let trimmed = raw.drop { $0 == " " }
            if trimmed.hasPrefix("Mod "), let number = Int(trimmed.dropFirst(4).prefix(4)) {
                finish()
                module = number
                continue
            }
            if let bar = trimmed.range(of: " | S_"), let offset = UInt32(trimmed[..<bar.lowerBound]) {
                finish()
                if trimmed[bar.upperBound...].hasPrefix("INLINESITE [") || trimmed[bar.upperBound...].hasPrefix("INLINESITE2 [") {
                    site = SiteKey(module: module, offset: offset)
                }
                continue
            }
            guard site != nil, let first = trimmed.first, first.isHexDigit,
                let gap = trimmed.range(of: "  ")
            else { continue }
            let text = trimmed[gap.upperBound...].drop { $0 == " " }
            if let value = text.range(of: "line ") {
                let digits = text[value.upperBound...].prefix { $0 == "-" || $0.isNumber }
                line = Int64(digits) ?? line
            }
            if text.hasPrefix("code 0x"), let start = hexValue(after: "code 0x", in: text) {
                if let previous = open, start > previous.start {
                    ranges.append(Range(start: previous.start, end: start, line: previous.line))
                }
                open = (start, line)
            }
            if let end = hexValue(after: "code end 0x", in: text) {
                if let previous = open, end > previous.start {
                    ranges.append(Range(start: previous.start, end: end, line: previous.line))
                }
                open = nil
            }
        }
        finish()
        return sites
    }

    static let withInlineSites = PDBFixtures.msf.filter { path in
        (try? LLVMTools.runPDBUtil(["dump", "-symbols", path]).contains("S_INLINESITE")) ?? true
    }

    @Test("code ranges and line offsets of every inline site", arguments: withInlineSites)
    func ranges(path: String) throws {
        let expected = try Self.pdbutilRanges(path)
        let pdb = try PDBFile(path: path)
        var seen = 0
        var differences = [String]()
        for module in pdb.modules {
            guard let stream = try pdb.moduleStream(module) else { continue }
            var records = stream.records()
            while let record = try records.next() {
                guard record.kind == .inlineSite || record.kind == .inlineSite2 else { continue }
                let symbol = try InlineSiteSymbol(parsing: record.data, kind: record.kind)
                let ours = try BinaryAnnotations.ranges(symbol.annotations).map {
                    Range(start: $0.start, end: $0.end, line: Int64($0.lineOffset))
                }
                seen += 1
                let theirs = expected[SiteKey(module: module.index, offset: record.offset)]
                if ours != theirs {
                    differences.append(
                        "module \(module.index) record \(record.offset): ours \(ours), llvm-pdbutil \(theirs ?? [])")
                }
            }
        }
        print("[oracle] \(PDBFixtures.name(path)): \(seen) inline sites, \(differences.count) differ")
        #expect(seen == expected.count)
        let summary = differences.prefix(5).joined(separator: "\n")
        #expect(differences.isEmpty, "\(differences.count) of \(seen) inline sites differ:\n\(summary)")
    }
}
