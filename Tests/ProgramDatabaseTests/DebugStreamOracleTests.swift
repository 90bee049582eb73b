import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Section headers, FPO and new-FPO records, and global symbols against `llvm-pdbutil`.
@Suite("debug streams and globals agree with llvm-pdbutil", .ownThread)
struct DebugStreamOracleTests {
    @Test("section headers: names, virtual sizes, addresses, raw sizes, flags", arguments: PDBFixtures.msf)
    func sectionHeaders(path: String) throws {
        let text = try LLVMTools.runPDBUtil(["dump", "-section-headers", path])
        // The first block lists the image's headers (a second block, when present, the original ones).
        var expected = [(name: String, size: UInt32, address: UInt32, raw: UInt32, flags: UInt32)]()
        var current: [String: String] = [:]
        var inFirstBlock = false
        func flush() {
            if let name = current["name"], let size = UInt32(current["virtual size"] ?? "", radix: 16),
                let address = UInt32(current["virtual address"] ?? "", radix: 16),
                let raw = UInt32(current["size of raw data"] ?? "", radix: 16),
                let flags = UInt32(current["flags"] ?? "", radix: 16)
            {
                expected.append((name, size, address, raw, flags))
            }
            current = [:]
        }
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "Section Headers" {
                inFirstBlock = expected.isEmpty && current.isEmpty
                continue
            }
            if line.hasSuffix("Section Headers") && line != "Section Headers" {
                flush()
                inFirstBlock = false
            }
            guard inFirstBlock else { continue }
            if line.hasPrefix("SECTION HEADER #") {
                flush()
            } else if let space = line.firstIndex(of: " ") {
                let value = String(line[..<space])
                let key = String(line[line.index(after: space)...])
                if ["name", "virtual size", "virtual address", "size of raw data", "flags"].contains(key) {
                    current[key] = value
                }
            }
        }
        if inFirstBlock { flush() }
        let headers = try PDBFile(path: path).sectionHeaders()
        #expect(headers.count == expected.count)
        for (ours, theirs) in zip(headers, expected) {
            #expect(ours.name == theirs.name)
            #expect(ours.virtualSize == theirs.size, "\(theirs.name)")
            #expect(ours.virtualAddress == theirs.address, "\(theirs.name)")
            #expect(ours.sizeOfRawData == theirs.raw, "\(theirs.name)")
            #expect(ours.characteristics == theirs.flags, "\(theirs.name)")
        }
    }

    @Test("FPO_DATA and FRAMEDATA records: RVAs, sizes, frame programs", arguments: PDBFixtures.msf)
    func fpo(path: String) throws {
        let text = try LLVMTools.runPDBUtil(["dump", "-fpo", path])
        var old = [[String]]()
        var new = [[String]]()
        var section = 0
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "Old FPO Data" { section = 1 } else if line == "New FPO Data" { section = 2 }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 9, UInt32(cells[0], radix: 16) != nil else { continue }
            if section == 1 { old.append(cells) } else if section == 2 { new.append(cells) }
        }
        let pdb = try PDBFile(path: path)
        let fpo = try pdb.fpoRecords()
        #expect(fpo.count == old.count)
        for (ours, theirs) in zip(fpo, old) {
            #expect(ours.offsetStart == UInt32(theirs[0], radix: 16))
            #expect(String(ours.procedureSize) == theirs[1])
            #expect(String(ours.localsDwords) == theirs[2])
            #expect(String(ours.paramsDwords) == theirs[3])
            #expect(String(ours.prologSize) == theirs[4])
            #expect(String(ours.savedRegisters) == theirs[5])
            // llvm-pdbutil (LLVM 14's object::FpoData) reads "Use BP" from bit 10 and "Has SEH"
            // from bit 9 of the attributes word, inside cbRegs; winnt.h's FPO_DATA puts fHasSEH at
            // bit 11 and fUseBP at bit 12, which `hasSEH` and `usesBasePointer` follow. Those two
            // columns are checked against the raw word at LLVM's positions.
            #expect(String((ours.attributes >> 10) & 1 == 1) == theirs[6])
            #expect(String((ours.attributes >> 9) & 1 == 1) == theirs[7])
        }
        let frames = try pdb.frameData()
        let names = try pdb.stringTable()
        #expect(frames.count == new.count)
        var programsDiffer = 0
        for (ours, theirs) in zip(frames, new) {
            #expect(ours.rvaStart == UInt32(theirs[0], radix: 16))
            #expect(String(ours.codeSize) == theirs[1])
            #expect(String(ours.localSize) == theirs[2])
            #expect(String(ours.paramsSize) == theirs[3])
            #expect(String(ours.prologSize) == theirs[5])
            #expect(String(ours.savedRegsSize) == theirs[6])
            #expect((ours.flags & 4 != 0) == (theirs[9] == "true"))
            if theirs.count > 10, names?.string(at: ours.frameFunc)?.trimmingCharacters(in: .whitespaces) != theirs[10] {
                programsDiffer += 1
            }
        }
        #expect(programsDiffer == 0)
        if !old.isEmpty || !new.isEmpty {
            print("[oracle] \(PDBFixtures.name(path)): \(old.count) FPO, \(new.count) FRAMEDATA records")
        }
    }

    @Test("global symbols: record offsets, kinds and names", arguments: PDBFixtures.msf)
    func globals(path: String) throws {
        let text = try LLVMTools.runPDBUtil(["dump", "-globals", path])
        var expected = Set<String>()
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard let bar = line.range(of: " | S_"), let offset = UInt32(line[..<bar.lowerBound]) else { continue }
            let kind = line[line.index(bar.lowerBound, offsetBy: 3)...].prefix { $0 != " " }
            let name: Substring
            if let open = line.firstIndex(of: "`"), let close = line.lastIndex(of: "`"), open < close {
                name = line[line.index(after: open)..<close]
            } else {
                name = ""
            }
            expected.insert("\(offset) \(kind) \(name)")
        }
        let pdb = try PDBFile(path: path)
        guard let hash = try pdb.globalsHash() else {
            #expect(expected.isEmpty)
            return
        }
        let symbols = try pdb.globalSymbols()
        var ours = Set<String>()
        for (offset, symbol) in zip(hash.symbolOffsets, symbols) {
            switch symbol {
            case .procedureReference(let reference, let kind):
                ours.insert("\(offset) \(kind == .procRef ? "S_PROCREF" : "S_LPROCREF") \(reference.name)")
            case .data(let data, let kind):
                let names: [SymbolKind: String] = [
                    .gdata32: "S_GDATA32", .ldata32: "S_LDATA32", .gthread32: "S_GTHREAD32", .lthread32: "S_LTHREAD32",
                ]
                ours.insert("\(offset) \(names[kind] ?? "?") \(data.name)")
            case .publicSymbol(let symbol):
                ours.insert("\(offset) S_PUB32 \(symbol.name)")
            case .other:
                break
            }
        }
        // Only the kinds decoded here are compared; the others must at least be present by offset.
        let decodedKinds = ["S_PROCREF", "S_LPROCREF", "S_GDATA32", "S_LDATA32", "S_GTHREAD32", "S_LTHREAD32", "S_PUB32"]
        let comparable = expected.filter { entry in decodedKinds.contains { entry.split(separator: " ")[1] == $0 } }
        #expect(symbols.count == expected.count)
        #expect(
            ours == comparable,
            "missing \(comparable.subtracting(ours).prefix(3)), extra \(ours.subtracting(comparable).prefix(3))")
    }
}
