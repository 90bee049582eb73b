import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Lookups against the `.sym` files Breakpad's `dump_syms.exe` (DIA, Microsoft's own PDB reader)
/// wrote for its test PDBs, including the OMAP-reordered ones: every line record's address must
/// give that record's line and file, and a function whose name the record's FUNC line contains.
@Suite("address lookups agree with Breakpad's DIA-made .sym files (OMAP included)", .ownThread)
struct BreakpadSymOracleTests {
    static let folder = "breakpad/src/tools/windows/dump_syms/testdata/"
    static let names = [
        "dump_syms_regtest", "dump_syms_regtest64", "omap_reorder_funcs", "omap_reorder_bbs", "omap_stretched",
        "omap_stretched_filled",
    ]

    struct LineRecord {
        var address: UInt32
        var line: Int
        var file: String
        var function: String
    }

    static func lineRecords(_ symPath: String) throws -> [LineRecord] {
        let text = try String(contentsOfFile: symPath, encoding: .utf8)
        var files = [Int: String]()
        var function = ""
        var records = [LineRecord]()
        // The files have CRLF line ends, one Character in Swift: split on any newline.
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
            if fields.first == "FILE", fields.count >= 3, let number = Int(fields[1]) {
                files[number] = line.split(separator: " ", maxSplits: 2)[2].description
            } else if fields.first == "FUNC" {
                // FUNC [m] address size parameter_size name
                let parts = line.split(separator: " ", maxSplits: fields[1] == "m" ? 5 : 4)
                function = parts.last.map(String.init) ?? ""
            } else if fields.count >= 4, let first = fields.first, first.allSatisfy(\.isHexDigit),
                let address = UInt32(first, radix: 16), let number = Int(fields[2]), let file = Int(fields[3])
            {
                guard let size = UInt32(fields[1], radix: 16), size > 0 else { continue }
                records.append(LineRecord(address: address, line: number, file: files[file] ?? "", function: function))
            }
        }
        return records
    }

    /// Whether the `.sym` FUNC name (undecorated, with return type and parameters) names our function.
    ///
    /// Breakpad's dump_syms drops one leading underscore from every name, x64 included, as for
    /// x86 C decoration (dump_syms_regtest64.sym: `_CxxSetUnhandledExceptionFilter` for the
    /// PDB's `__CxxSetUnhandledExceptionFilter`, `XcptFilter` for `_XcptFilter`).
    static func sameFunction(_ ours: String, _ sym: String) -> Bool {
        sym.contains(ours) || (ours.hasPrefix("_") && sym.contains(ours.dropFirst()))
    }

    @Test("line and function of every line record", arguments: names)
    func lines(name: String) throws {
        let pdb = try PDBFile(path: TestEnvironment.shared(Self.folder + name + ".pdb"))
        let index = try PDBAddressIndex(pdb)
        #expect(index.warnings.isEmpty, "\(index.warnings)")
        let records = try Self.lineRecords(TestEnvironment.shared(Self.folder + name + ".sym"))
        #expect(records.count > 100)
        var differences = [String]()
        for record in records {
            let ours = index.lookup(rva: record.address)
            guard let ours, ours.line == UInt32(record.line), ours.file?.lowercased() == record.file.lowercased(),
                Self.sameFunction(ours.function, record.function)
            else {
                differences.append(
                    "0x\(String(record.address, radix: 16)): ours \(ours?.function ?? "-") \(ours?.file ?? "-"):\(ours?.line ?? 0); "
                        + ".sym \(record.function) \(record.file):\(record.line)")
                continue
            }
        }
        print(
            "[oracle] \(name).sym: \(records.count) line records, OMAP \(try pdb.omapToSource() != nil), \(differences.count) differ"
        )
        let summary = differences.prefix(8).joined(separator: "\n")
        #expect(differences.isEmpty, "\(differences.count) of \(records.count) differ:\n\(summary)")
    }
}
