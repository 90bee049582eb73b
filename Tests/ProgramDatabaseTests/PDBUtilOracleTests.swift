import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Identity, modules and public symbols of every MSF PDB in the fixtures against `llvm-pdbutil`.
@Suite("PDB streams agree with llvm-pdbutil", .ownThread)
struct PDBUtilOracleTests {
    @Test("the fixtures hold the PDBs this suite expects")
    func fixturesPresent() {
        #expect(TestEnvironment.hasSharedFixtures)
        // lld x64/x86/arm64 (6), kdlibcpp (3), symbolic (3), dump_syms (2), breakpad testdata (6) and more.
        #expect(PDBFixtures.msf.count >= 18, "\(PDBFixtures.msf)")
    }

    @Test("GUID, signature, info age and DBI age match pdb2yaml", arguments: PDBFixtures.msf)
    func identity(path: String) throws {
        let yaml = try LLVMTools.runPDBUtil(["pdb2yaml", "-pdb-stream", "-dbi-stream", path])
        let pdb = try PDBFile(path: path)
        let lines = yaml.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func values(_ key: String) -> [String] {
            lines.filter { $0.hasPrefix(key + ":") }.map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        let ages = values("Age")
        try #require(ages.count == 2, "pdb2yaml printed \(ages)")
        #expect(ages[0] == String(pdb.infoAge))
        #expect(ages[1] == String(pdb.age))
        #expect(values("Guid").first == "'{\(pdb.guid.description)}'")
        #expect(values("Signature").first == String(pdb.info.signature))
    }

    struct Module: Equatable, CustomStringConvertible {
        var name: String
        var object: String
        var stream: Int
        var files: Int
        var description: String { "\(name) | \(object) | stream \(stream) | files \(files)" }
    }

    @Test("module names, object names, symbol streams and file counts match dump -modules", arguments: PDBFixtures.msf)
    func modules(path: String) throws {
        let text = try LLVMTools.runPDBUtil(["dump", "-modules", path])
        var expected = [Module]()
        var name = ""
        var object = ""
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("Mod "), let open = line.firstIndex(of: "`"), let close = line.lastIndex(of: "`") {
                name = String(line[line.index(after: open)..<close])
            } else if line.hasPrefix("Obj: `"), let close = line.lastIndex(of: "`") {
                object = String(line[line.index(line.startIndex, offsetBy: 6)..<close])
            } else if line.hasPrefix("debug stream: ") {
                let fields = line.split(separator: ",")
                let stream = Int(fields[0].split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? -1
                let files = Int(fields[1].split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? -1
                expected.append(Module(name: name, object: object, stream: stream, files: files))
            }
        }
        let pdb = try PDBFile(path: path)
        let moduleFiles = try pdb.dbi.moduleFiles()
        let ours = pdb.modules.enumerated().map { index, module in
            Module(
                name: module.moduleName, object: module.objFileName, stream: Int(module.moduleSymStream),
                files: index < moduleFiles.count ? moduleFiles[index].count : -1)
        }
        #expect(!expected.isEmpty)
        #expect(ours.count == expected.count)
        for (mine, theirs) in zip(ours, expected) where mine != theirs {
            Issue.record("module differs: ours \(mine), llvm-pdbutil \(theirs)")
            break
        }
    }

    struct Public: Hashable, CustomStringConvertible {
        var name: String
        var segment: UInt16
        var offset: UInt32
        var description: String { "\(name) \(segment):\(offset)" }
    }

    @Test("public symbols (names, sections, offsets) match dump -publics", arguments: PDBFixtures.msf)
    func publics(path: String) throws {
        let text = try LLVMTools.runPDBUtil(["dump", "-publics", path])
        var expected = [Public]()
        var pendingName: String?
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.contains("| S_PUB32 "), let open = line.firstIndex(of: "`"), let close = line.lastIndex(of: "`") {
                pendingName = String(line[line.index(after: open)..<close])
            } else if let name = pendingName, let range = line.range(of: "addr = ") {
                let address = line[range.upperBound...].split(separator: ":")
                expected.append(Public(name: name, segment: UInt16(address[0]) ?? 0, offset: UInt32(address[1]) ?? 0))
                pendingName = nil
            }
        }
        let pdb = try PDBFile(path: path)
        let ours = try pdb.publicSymbols().map { Public(name: $0.name, segment: $0.segment, offset: $0.offset) }
        #expect(ours.count == expected.count)
        let missing = Set(expected).subtracting(ours)
        let extra = Set(ours).subtracting(expected)
        #expect(missing.isEmpty, "not found by us: \(missing.prefix(5))")
        #expect(extra.isEmpty, "not listed by llvm-pdbutil: \(extra.prefix(5))")
        // The address map is sorted by section, then offset.
        let keys = ours.map { (Int($0.segment) << 32) | Int($0.offset) }
        #expect(keys == keys.sorted())
    }
}
