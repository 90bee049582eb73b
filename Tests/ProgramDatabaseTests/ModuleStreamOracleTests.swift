import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Module symbol streams and their C13 line tables against `llvm-pdbutil dump -symbols` and `-l`.
@Suite("module streams agree with llvm-pdbutil", .ownThread)
struct ModuleStreamOracleTests {
    @Test("procedures, blocks, thunks, labels: kind, name, section:offset and length", arguments: PDBFixtures.msf)
    func symbols(path: String) throws {
        let text = try LLVMTools.runPDBUtil(["dump", "-symbols", path])
        let kinds = ["S_GPROC32", "S_LPROC32", "S_GPROC32_ID", "S_LPROC32_ID", "S_BLOCK32", "S_THUNK32", "S_LABEL32"]
        var expected = [String]()
        var pending: (kind: String, name: String)?
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let bar = line.range(of: " | S_") {
                let kind = String(line[line.index(bar.lowerBound, offsetBy: 3)...].prefix { $0 != " " })
                pending = nil
                guard kinds.contains(kind) else { continue }
                var name = ""
                if let open = line.firstIndex(of: "`"), let close = line.lastIndex(of: "`"), open < close {
                    name = String(line[line.index(after: open)..<close])
                }
                pending = (kind, name)
                // Labels print their address on the record line: "`name` (addr = 0001:6079)".
                if kind == "S_LABEL32", let address = line.range(of: "(addr = ") {
                    expected.append("S_LABEL32 \(name) \(line[address.upperBound...].prefix { $0 != ")" }) ")
                    pending = nil
                }
            } else if let symbol = pending, let address = line.range(of: "addr = ") {
                let place = line[address.upperBound...].prefix { $0 != "," }
                var length = ""
                if let size = line.range(of: "code size = ") {
                    length = String(line[size.upperBound...].prefix { $0.isNumber })
                } else if let size = line.range(of: "size = ") {
                    length = String(line[size.upperBound...].prefix { $0.isNumber })
                }
                expected.append("\(symbol.kind) \(symbol.name) \(place) \(length)")
                pending = nil
            }
        }
        let pdb = try PDBFile(path: path)
        var ours = [String]()
        func place(_ segment: UInt16, _ offset: UInt32) -> String {
            let digits = String(offset)
            return hex(segment, width: 4) + ":" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
        for module in pdb.modules {
            guard let stream = try pdb.moduleStream(module) else { continue }
            var records = stream.records()
            while let record = try records.next() {
                switch record.kind {
                case .gproc32, .lproc32, .gproc32ID, .lproc32ID:
                    let names: [SymbolKind: String] = [
                        .gproc32: "S_GPROC32", .lproc32: "S_LPROC32", .gproc32ID: "S_GPROC32_ID", .lproc32ID: "S_LPROC32_ID",
                    ]
                    let symbol = try ProcedureSymbol(parsing: record.data)
                    ours.append("\(names[record.kind]!) \(symbol.name) \(place(symbol.segment, symbol.offset)) \(symbol.length)")
                case .block32:
                    let symbol = try BlockSymbol(parsing: record.data)
                    ours.append("S_BLOCK32 \(symbol.name) \(place(symbol.segment, symbol.offset)) \(symbol.length)")
                case .thunk32:
                    let symbol = try ThunkSymbol(parsing: record.data)
                    ours.append("S_THUNK32 \(symbol.name) \(place(symbol.segment, symbol.offset)) \(symbol.length)")
                case .label32:
                    let symbol = try LabelSymbol(parsing: record.data)
                    ours.append("S_LABEL32 \(symbol.name) \(place(symbol.segment, symbol.offset)) ")
                default:
                    break
                }
            }
        }
        #expect(!ours.isEmpty || expected.isEmpty)
        #expect(ours.count == expected.count)
        let mismatch = zip(ours, expected).first { $0 != $1 }
        #expect(mismatch == nil, "first difference: ours \(mismatch?.0 ?? ""), llvm-pdbutil \(mismatch?.1 ?? "")")
    }

    @Test("line tables: every (section, offset, file, line) entry", arguments: PDBFixtures.msf)
    func lines(path: String) throws {
        let pdb = try PDBFile(path: path)
        let expected = try SymbolizerOracleTests.lineTable(
            pdb: path, skipping: Set(pdb.modules.filter { !$0.hasSymbolStream }.map(\.index)))
        let names = try pdb.stringTable()
        var ours = [SymbolizerOracleTests.LineKey: [(file: String, line: Int)]]()
        var count = 0
        for module in pdb.modules {
            guard let stream = try pdb.moduleStream(module) else { continue }
            var files = [UInt32: String]()
            for checksum in try stream.fileChecksums() { files[checksum.position] = names?.string(at: checksum.nameOffset) ?? "" }
            for fragment in try stream.lineFragments() {
                for block in fragment.blocks {
                    for entry in block.entries {
                        let (offset, overflow) = fragment.offset.addingReportingOverflow(entry.offset)
                        #expect(!overflow)
                        ours[SymbolizerOracleTests.LineKey(segment: fragment.segment, offset: offset), default: []].append(
                            (files[block.fileChecksumOffset] ?? "?", Int(entry.line)))
                        count += 1
                    }
                }
            }
        }
        var differences = [String]()
        let onlyOurs = Set(ours.keys).subtracting(expected.keys).map { "\($0.segment):\(String($0.offset, radix: 16))" }
        let onlyTheirs = Set(expected.keys).subtracting(ours.keys).map { "\($0.segment):\(String($0.offset, radix: 16))" }
        #expect(
            onlyOurs.isEmpty && onlyTheirs.isEmpty, "only ours \(onlyOurs.prefix(4)), only llvm-pdbutil \(onlyTheirs.prefix(4))")
        for (key, entries) in expected {
            let mine = (ours[key] ?? []).map { "\($0.file):\($0.line)" }.sorted()
            let theirs = entries.map { "\($0.file):\($0.line)" }.sorted()
            if mine != theirs {
                differences.append("\(key.segment):\(String(key.offset, radix: 16)) ours \(mine) llvm-pdbutil \(theirs)")
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differ, first: \(differences.first ?? "")")
        if count > 0 { print("[oracle] \(PDBFixtures.name(path)): \(count) line entries") }
    }
}
