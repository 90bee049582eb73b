import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("Debug directory", .ownThread)
struct DebugDirectoryTests {
    @Test("entries and CodeView records agree with pefile", arguments: peFixtures)
    func matchesPefile(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let entries = try image.debugDirectory()
        let expected = oracle["debug"] as? [[String: Any]] ?? []
        #expect(entries.count == expected.count)
        for (ours, theirs) in zip(entries, expected) {
            #expect(UInt64(ours.type.rawValue) == u64(theirs["type"]))
            #expect(UInt64(ours.timeDateStamp) == u64(theirs["timestamp"]))
            #expect(UInt64(ours.sizeOfData) == u64(theirs["size"]))
            #expect(UInt64(ours.addressOfRawData) == u64(theirs["rva"]))
            #expect(UInt64(ours.pointerToRawData) == u64(theirs["pointer"]))
            // Every entry's data decodes (or is empty) without error.
            let data = try image.debugData(ours)
            if let cv = theirs["cv"] as? [String: Any] {
                guard case .codeView(let record) = data else {
                    Issue.record("entry of type \(ours.type) did not decode as CodeView")
                    continue
                }
                switch record {
                case .pdb70(let guid, let age, let name):
                    #expect(guid.compactHex == cv["guid"] as? String)
                    #expect(UInt64(age) == u64(cv["age"]))
                    #expect(name == cv["name"] as? String)
                case .pdb20(_, let signature, let age, let name):
                    #expect(UInt64(signature) == u64(cv["signature"]))
                    #expect(UInt64(age) == u64(cv["age"]))
                    #expect(name == cv["name"] as? String)
                case .unknown:
                    Issue.record("CodeView record not decoded")
                }
            }
        }
    }

    @Test("entries and CodeView records agree with llvm-readobj", arguments: peFixtures)
    func matchesLLVM(path: String) throws {
        let image = try PEImage(path: path)
        let (root, complete) = try llvmReadobj(["--coff-debug-directory"], path)
        #expect(complete)
        let entries = try image.debugDirectory()
        let expected = root.first("DebugDirectory")?.all("DebugEntry") ?? []
        #expect(entries.count == expected.count)
        for (ours, theirs) in zip(entries, expected) {
            #expect(theirs.number("Type") == UInt64(ours.type.rawValue))
            #expect(theirs.number("SizeOfData") == UInt64(ours.sizeOfData))
            #expect(theirs.number("AddressOfRawData") == UInt64(ours.addressOfRawData))
            #expect(theirs.number("PointerToRawData") == UInt64(ours.pointerToRawData))
            guard let info = theirs.first("PDBInfo") else { continue }
            guard case .codeView(.pdb70(let guid, let age, let name)) = try image.debugData(ours) else {
                Issue.record("llvm-readobj decoded a PDB70 record that we did not")
                continue
            }
            let bytes = guid.bytes.map { hex($0, width: 2) }.joined(separator: " ")
            #expect(info["PDBGUID"] == "(\(bytes))")
            #expect(info.number("PDBAge") == UInt64(age))
            #expect(info["PDBFileName"] == name)
        }
    }

    @Test("debug types are listed by their winnt.h names")
    func typeNames() throws {
        #expect(DebugType.codeView.description == "CODEVIEW")
        #expect(DebugType(rawValue: 20).description == "EX_DLLCHARACTERISTICS")
        #expect(DebugType(rawValue: 99).description == "99")
        let image = try PEImage(
            path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/CrashWithException.exe"))
        #expect(try image.debugDirectory().map(\.type.description) == ["CODEVIEW", "VC_FEATURE", "POGO", "ILTCG"])
        let pogo = try image.debugDirectory().first { $0.type == .pogo }!
        guard case .pogo(let info) = try image.debugData(pogo) else {
            Issue.record("POGO not decoded")
            return
        }
        // llvm-readobj's hex dump of this entry lists `.text$mn`-style names; `.xdata` and `.pdata` are among them.
        #expect(info.entries.contains { $0.name == ".pdata" && $0.rva == 0x6000 && $0.size == 0x1EC })
    }

    @Test("records decoded from bytes written by hand: MISC, NB10, REPRO, VC_FEATURE")
    func handWrittenRecords() throws {
        // IMAGE_DEBUG_MISC: DataType 1 (EXENAME), Length 20, Unicode 0, then "a.dbg\0" padded.
        let misc: [UInt8] = [1, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0] + Array("a.dbg".utf8) + [0, 0, 0]
        let record = try ImageDebugMisc(parsing: MappedFile(bytes: misc).bytes)
        #expect(record.dataType == 1 && record.length == 20 && !record.unicode && record.data == "a.dbg")
        // The same with a UTF-16 name.
        let wide: [UInt8] = [1, 0, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0, 0x61, 0, 0x2E, 0, 0x64, 0, 0, 0, 0x7A, 0]
        #expect(try ImageDebugMisc(parsing: MappedFile(bytes: wide).bytes).data == "a.d")
        // CV_INFO_PDB20: NB10, offset 0, signature 0x12345678, age 2, "b.pdb".
        let nb10: [UInt8] = Array("NB10".utf8) + [0, 0, 0, 0, 0x78, 0x56, 0x34, 0x12, 2, 0, 0, 0] + Array("b.pdb".utf8) + [0]
        let cv = try CodeViewInfo(parsing: MappedFile(bytes: nb10).bytes)
        #expect(cv == .pdb20(offset: 0, signature: 0x1234_5678, age: 2, pdbName: "b.pdb"))
        #expect(cv.debugID == "123456782")
        // A truncated RSDS record is an error naming the field.
        let short: [UInt8] = Array("RSDS".utf8) + [1, 2, 3]
        let error = try #require(throws: ParseError.self) { try CodeViewInfo(parsing: MappedFile(bytes: short).bytes) }
        #expect(error.field == "CV_INFO_PDB70.Signature")
        #expect(error.offset == 4)
        let features = try VCFeatureInfo(parsing: MappedFile(bytes: (1...20).map { UInt8($0) }).bytes)
        #expect(features.preVCPlusPlus11 == 0x0403_0201 && features.guardN == 0x1413_1211)
    }

    @Test("REPRO hashes and VC_FEATURE counts decode in the fixtures", arguments: peFixtures)
    func everyEntryDecodes(path: String) throws {
        let image = try PEImage(path: path)
        for entry in try image.debugDirectory() {
            switch try image.debugData(entry) {
            case .repro(let hash): #expect(hash.isEmpty || hash.count == 32 || hash.count == 20)
            case .vcFeature(let info): #expect(info.cAndCPlusPlus > 0)
            case .raw(let bytes): #expect(bytes.count == Int(entry.sizeOfData))
            default: break
            }
        }
    }
}
