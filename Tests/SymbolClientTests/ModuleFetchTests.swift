import Foundation
import SymbolClient
import SymbolStore
import TestSupport
import Testing

/// The few module fields the fetch needs, read straight from a minidump's bytes (independently
/// of the Minidump target, which this test target does not depend on).
struct RecordedModule {
    var fileName: String
    var codeID: String
    var debugFile: String?
    var debugID: String?

    /// `MINIDUMP_HEADER` → directory → `ModuleListStream` (4) → `MINIDUMP_MODULE` (108 bytes each),
    /// names as `MINIDUMP_STRING` (UTF-16LE), CodeView records as `CV_INFO_PDB70` (`RSDS`).
    static func read(_ path: String) throws -> [RecordedModule] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ offset: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
        }
        func u16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
        let streams = Int(u32(8))
        let directory = Int(u32(12))
        guard let entry = (0..<streams).map({ directory + 12 * $0 }).first(where: { u32($0) == 4 }) else { return [] }
        let list = Int(u32(entry + 8))
        return (0..<Int(u32(list))).map { index in
            let record = list + 4 + 108 * index
            let nameOffset = Int(u32(record + 20))
            let name = String(
                decoding: (0..<Int(u32(nameOffset)) / 2).map { u16(nameOffset + 4 + 2 * $0) }, as: UTF16.self)
            let base = name.split(whereSeparator: { $0 == "\\" || $0 == "/" }).last.map(String.init) ?? name
            let codeID = String(format: "%08X", u32(record + 16)) + String(u32(record + 8), radix: 16)
            var module = RecordedModule(fileName: base, codeID: codeID)
            let cvSize = Int(u32(record + 76))
            let cv = Int(u32(record + 80))
            if cvSize >= 24, bytes[cv..<cv + 4] == [0x52, 0x53, 0x44, 0x53] {
                let guid =
                    String(format: "%08X%04X%04X", u32(cv + 4), u16(cv + 8), u16(cv + 10))
                    + bytes[(cv + 12)..<(cv + 20)].map { String(format: "%02X", $0) }.joined()
                module.debugID = guid + String(u32(cv + 20), radix: 16, uppercase: true)
                let nameBytes = bytes[(cv + 24)..<(cv + cvSize)].prefix { $0 != 0 }
                module.debugFile = String(decoding: nameBytes, as: UTF8.self)
            }
            return module
        }
    }
}

@Suite("Fetching a dump's modules", .ownThread)
struct ModuleFetchTests {
    static let dump = TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp")
    static let published = ["fixture.exe", "fixture.pdb", "fixturedll.dll", "fixturedll.pdb"]

    @Test("the fixture's binaries and PDBs come from a loopback store, everything else is missing")
    func dumpModules() async throws {
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        _ = try Scratch.store(with: Self.published, in: root)
        let server = try LoopbackServer(root: root)
        defer { server.stop() }
        let modules = try RecordedModule.read(Self.dump)
        #expect(modules.count > 4)
        let fetcher = SymbolFetcher(
            path: try SymbolPath(parsing: "srv*\(cache)*\(server.url)"), configuration: testConfiguration(cache: cache))
        var found = Set<String>()
        for module in modules {
            let keys = ModuleKeys(
                fileName: module.fileName, codeID: module.codeID, debugFile: module.debugFile, debugID: module.debugID)
            for key in [keys.binary, keys.pdb, keys.breakpad].compactMap({ $0 }) {
                let outcome = await fetcher.fetch(key)
                if let path = outcome.path {
                    #expect(path == cache + "/" + key.path)
                    found.insert(key.storedName.lowercased())
                } else if case .missing = outcome {
                } else {
                    Issue.record("\(key): \(outcome)")
                }
            }
        }
        await fetcher.shutdown()
        #expect(found == Set(Self.published))
    }

    /// Whether the `postmortem` binary of this build has the `fetch` subcommand registered.
    static var fetchRegistered: Bool {
        // `postmortem fetch --help` exits 0 either way (it prints the root help); the list of
        // subcommands in the root help says whether it is there.
        let help = (try? runProcess(TestEnvironment.postmortemExecutable, ["--help"]))?.stdoutText ?? ""
        return help.split(separator: "\n").contains { $0.hasPrefix("  fetch ") }
    }

    @Test(
        "postmortem fetch: found, missing, exit 3", .enabled(if: fetchRegistered, "fetch is not registered in Postmortem.swift"))
    func command() throws {
        let root = try Scratch.folder("store")
        let cache = try Scratch.folder("cache")
        let keys = try Scratch.store(with: Self.published, in: root)
        let server = try LoopbackServer(root: root)
        defer { server.stop() }
        let result = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["fetch", Self.dump, "--symbol-path", "srv*\(cache)*\(server.url)", "--json"],
            environment: ["_NT_EXECUTABLE_IMAGE_PATH": "", "_NT_SYMBOL_PATH": "", "_NT_ALT_SYMBOL_PATH": ""])
        #expect(result.status == 3)
        let report = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let modules = try #require(report?["modules"] as? [[String: Any]])
        var statuses = [String: String]()
        for module in modules {
            for kind in ["binary", "pdb"] {
                guard let file = module[kind] as? [String: Any], let key = file["key"] as? String else { continue }
                statuses[key] = file["status"] as? String
            }
        }
        for name in Self.published {
            let key = try #require(keys[name])
            #expect(statuses[key.path] == "found", "\(name)")
        }
        #expect(statuses.values.filter { $0 == "found" }.count == 4)
        #expect(statuses.values.contains("missing"))
        #expect(result.stderr.isEmpty)
    }
}
