import Analysis
import BinaryReading
import Foundation
import Minidump
import PortableExecutable
import TestSupport
import Testing

/// `postmortem rescue` end to end: images that independent parsers and debuggers accept as the dump's modules.
@Suite("Module rescue", .ownThread)
struct RescueTests {
    static let dumps = [
        "generated/dumps/x64-dll-inproc-cv.dmp", "generated/dumps/x64-null-aedebug.dmp", "rust-minidump/testdata/test.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp",
        "lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp",
    ]

    static func temporaryFolder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-rescue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    struct PefileIdentity: Decodable {
        struct CodeView: Decodable {
            var guid: String
            var age: UInt32
            var pdb: String
        }
        var machine: UInt16
        var timestamp: UInt32
        var size_of_image: UInt32
        var checksum: UInt32
        var cv: CodeView?
        var warnings: [String]
    }

    @Test(
        "every rescued image carries the record's identity for us, pefile and llvm-readobj, and matches under every policy",
        arguments: dumps)
    func rescueAll(relative: String) throws {
        let path = TestEnvironment.shared(relative)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dump = try MinidumpFile(path: path)
        let report = ModuleRescue.rescue(
            minidump: dump, path: path, outputFolder: folder, all: true, layout: .flat, searchPath: ExecutableSearchPath())
        #expect(report.succeeded, "\(report.errors) \(report.modules.compactMap(\.error))")
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        #expect(report.modules.count == modules.count)
        #expect(report.modules.allSatisfy { $0.status == .rescued })

        let files = report.modules.compactMap(\.path)
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Oracles/pe_identity.py").path
        let oracle = try runProcess(TestEnvironment.python, [script] + files)
        try #require(oracle.status == 0, "pefile failed: \(oracle.stderrText)")
        let pefile = try JSONDecoder().decode([String: PefileIdentity].self, from: oracle.stdout)

        for (module, row) in zip(modules, report.modules) {
            let file = try #require(row.path)
            #expect(file.hasPrefix(folder + "/"))
            // Our reader.
            let image = try PEImage(path: file)
            #expect(image.fileHeader.timeDateStamp == module.timeDateStamp, "\(module.name)")
            #expect(image.optionalHeader.sizeOfImage == module.sizeOfImage)
            #expect(image.optionalHeader.checkSum == module.checkSum)
            #expect(image.identity.debugID == module.debugID)
            // pefile.
            let other = try #require(pefile[file])
            #expect(other.timestamp == module.timeDateStamp)
            #expect(other.size_of_image == module.sizeOfImage)
            #expect(other.checksum == module.checkSum)
            #expect(other.machine == image.machine.rawValue)
            if case .pdb70(let guid, let age, let pdb) = module.codeView {
                #expect(other.cv?.guid == guid.description, "\(module.name)")
                #expect(other.cv?.age == age)
                #expect(other.cv?.pdb == pdb)
            }
            // llvm-readobj.
            let readobj = try runProcess("/usr/bin/llvm-readobj", ["--file-headers", "--coff-debug-directory", file])
            #expect(readobj.status == 0, "\(readobj.stderrText)")
            // llvm-readobj prints `TimeDateStamp: <date> (0x<hex, unpadded>)`.
            let stampLine = readobj.stdoutText.split(separator: "\n").first { $0.contains("TimeDateStamp:") }
            let stamp = stampLine?.split(separator: "(0x").last.map { UInt32($0.dropLast(), radix: 16) } ?? nil
            #expect(stamp == module.timeDateStamp, "\(module.name): \(stampLine ?? "no TimeDateStamp line")")
            #expect(readobj.stdoutText.contains("SizeOfImage: \(module.sizeOfImage)\n"))
            if case .pdb70(_, let age, let pdb) = module.codeView {
                #expect(readobj.stdoutText.contains("PDBAge: \(age)\n"))
                #expect(readobj.stdoutText.contains("PDBFileName: \(pdb)\n"))
            }
            // Captured bytes sit at their RVAs.
            for region in ModuleRescueTestAccess.captured(module, dump) where row.headersFromMemory || region.rva >= 0x1000 {
                let bytes = try image.bytes.slice(offset: Int(region.rva), size: min(region.bytes.count, 64), field: "captured")
                if !bytes.elementsEqual(region.bytes.prefix(64)) {
                    // Rebuilt metadata may overwrite captured bytes at the end of the image; the notes say so.
                    #expect(row.notes.contains { $0.contains("overwr") }, "\(module.name) at \(hex0x(region.rva))")
                }
            }
        }
        for policy in MatchPolicy.allCases {
            let match = MatchReport(
                minidump: dump, path: path, searchPath: ExecutableSearchPath(entries: [.folder(folder)]), policy: policy)
            #expect(match.allMatched, "\(policy): \(match.modules.filter { $0.status != .matched }.map(\.filename))")
        }
    }

    @Test("lldb loads the dump with the rescued images and reports the dump's UUIDs")
    func lldbAcceptsRescuedImages() throws {
        let path = TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp")
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dump = try MinidumpFile(path: path)
        let report = ModuleRescue.rescue(
            minidump: dump, path: path, outputFolder: folder, all: true, layout: .flat, searchPath: ExecutableSearchPath())
        #expect(report.succeeded)
        let output = try LLDB.run([
            "settings set target.exec-search-paths \(folder)", "target create --core \(path)", "image list",
        ])
        let modules = try #require(try dump.stream(ModuleList.self)).modules
        for module in modules {
            let line = try #require(
                output.split(separator: "\n").first { $0.contains(module.fileName) }, "\(module.fileName) not listed")
            #expect(line.contains(folder + "/" + module.fileName), "lldb did not load the rescued \(module.fileName): \(line)")
            if case .pdb70(let guid, let age, _) = module.codeView {
                #expect(line.contains("\(guid.description)-\(hex(age, width: 8))"), "\(line)")
            }
        }
    }

    @Test("hostile module names never write outside the output folder")
    func hostileNames() throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared("rust-minidump/testdata/test.dmp"))))
        // test.dmp's first module name is c:\test_app.exe (15 UTF-16 units at 0x78a); make it climb out.
        let hostile = Array(#"..\..\..\..\..\"#.utf16)
        #expect(hostile.count == 15)
        for (index, unit) in hostile.enumerated() {
            bytes[0x78a + 4 + index * 2] = UInt8(unit & 0xFF)
            bytes[0x78a + 4 + index * 2 + 1] = UInt8(unit >> 8)
        }
        let root = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dumpPath = root + "/hostile.dmp"
        try Data(bytes).write(to: URL(fileURLWithPath: dumpPath))
        let out = root + "/out"
        let report = ModuleRescue.rescue(
            minidump: try MinidumpFile(path: dumpPath), path: dumpPath, outputFolder: out, all: true, layout: .symstore,
            searchPath: ExecutableSearchPath())
        #expect(report.succeeded)
        #expect(report.modules.allSatisfy { $0.path?.hasPrefix(out + "/") == true })
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["hostile.dmp", "out"])
    }
}

/// The captured memory the rescue used, recomputed for checks.
enum ModuleRescueTestAccess {
    static func captured(_ module: Module, _ dump: MinidumpFile) -> [(rva: UInt32, bytes: [UInt8])] {
        let memory = dump.memoryIndex()
        return memory.regions.compactMap { region in
            guard region.address >= module.baseOfImage, region.address < module.endAddress else { return nil }
            let count = Int(min(region.endAddress, module.endAddress) - region.address)
            return (UInt32(region.address - module.baseOfImage), Array(region.bytes.array.prefix(count)))
        }
    }
}

/// lldb from the Swift toolchain, which needs pyenv's Python 3.10 on this machine.
enum LLDB {
    static func run(_ commands: [String]) throws -> String {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("lldb-\(UUID().uuidString).txt")
        try Data(commands.joined(separator: "\n").utf8).write(to: script)
        defer { try? FileManager.default.removeItem(at: script) }
        var environment = [String: String]()
        let prefix = try runProcess("pyenv", ["prefix", "3.10.13"])
        if prefix.status == 0 {
            let folder = prefix.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            environment["LD_LIBRARY_PATH"] = folder + "/lib"
            environment["PYTHONHOME"] = folder
        }
        let result = try runProcess("lldb", ["--batch", "-s", script.path], environment: environment)
        guard result.status == 0 else {
            throw ProcessFailure(description: "lldb failed (\(result.status)): \(result.stderrText)")
        }
        return result.stdoutText
    }
}
