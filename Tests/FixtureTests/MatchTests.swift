import Analysis
import Foundation
import Minidump
import TestSupport
import Testing

@Suite("Module matching against real binaries", .ownThread)
struct MatchTests {
    static let dumps = ["x64-dll-inproc-cv.dmp", "x64-null-aedebug-cv.dmp", "x64-null-aedebug.dmp"]
    static let fixtureBinaries = ["fixture.exe", "fixturedll.dll", "ntdll.dll", "kernel32.dll", "kernelbase.dll"]

    static func searchPath() -> ExecutableSearchPath {
        ExecutableSearchPath(entries: [
            .folder(TestEnvironment.shared("generated/pe/x64")),
            .folder(TestEnvironment.shared("generated/wine-x86_64-windows")),
            .symbolServer("srv*/tmp/cache*http://127.0.0.1:9/symbols"),
        ])
    }

    static func report(_ dump: String, policy: MatchPolicy, searchPath: ExecutableSearchPath = searchPath()) throws -> MatchReport
    {
        let path = TestEnvironment.shared("generated/dumps/" + dump)
        return MatchReport(minidump: try MinidumpFile(path: path), path: path, searchPath: searchPath, policy: policy)
    }

    @Test("the generated dumps' modules match the binaries they were made from", arguments: dumps, MatchPolicy.allCases)
    func realBinariesMatch(dump: String, policy: MatchPolicy) throws {
        let report = try Self.report(dump, policy: policy)
        let present = report.modules.filter { Self.fixtureBinaries.contains($0.filename.lowercased()) }
        #expect(present.count >= 4, "\(report.modules.map(\.filename))")
        for module in present {
            #expect(module.status == .matched, "\(module.filename): \(module.rejected)")
        }
        // The other Wine DLLs (msvcrt, ucrtbase, ...) are not in the fixtures.
        #expect(
            report.modules.filter { $0.status == .missing }.allSatisfy {
                !Self.fixtureBinaries.contains($0.filename.lowercased())
            })
        #expect(report.deferredEntries == ["srv*/tmp/cache*http://127.0.0.1:9/symbols"])
    }

    /// A copy of fixture.exe with one header field changed, in a fresh folder.
    static func alteredCopy(name: String = "fixture.exe", patch: (inout [UInt8], Int) -> Void) throws -> String {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestEnvironment.shared("generated/pe/x64/fixture.exe"))))
        let peOffset = Int(bytes[0x3C]) | Int(bytes[0x3D]) << 8
        patch(&bytes, peOffset)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-match-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(bytes).write(to: folder.appendingPathComponent(name))
        return folder.path
    }

    static func fixtureRow(_ report: MatchReport) throws -> ModuleMatch {
        try #require(report.modules.first { $0.filename == "fixture.exe" })
    }

    @Test("an altered TimeDateStamp, SizeOfImage or CheckSum is rejected, naming the field and both values")
    func alteredFields() throws {
        // IMAGE_FILE_HEADER.TimeDateStamp at PE+8; SizeOfImage at PE+24+56; CheckSum at PE+24+64.
        let cases: [(String, Int, [MatchPolicy])] = [
            ("TimeDateStamp", 8, [.windbg, .vs, .strict]), ("SizeOfImage", 24 + 56, [.windbg, .vs, .strict]),
            ("CheckSum", 24 + 64, [.windbg, .strict]),
        ]
        for (field, offset, rejecting) in cases {
            let folder = try Self.alteredCopy { bytes, pe in bytes[pe + offset + 1] ^= 0x10 }
            defer { try? FileManager.default.removeItem(atPath: folder) }
            for policy in MatchPolicy.allCases {
                let report = try Self.report(
                    "x64-dll-inproc-cv.dmp", policy: policy, searchPath: ExecutableSearchPath(entries: [.folder(folder)]))
                let row = try Self.fixtureRow(report)
                if rejecting.contains(policy) {
                    #expect(row.status == .mismatched, "\(field) under \(policy)")
                    let difference = try #require(row.rejected.first?.differences.first)
                    #expect(difference.field == field)
                    #expect(difference.dump != difference.file)
                } else {
                    #expect(row.status == .matched, "\(field) under \(policy) is not compared")
                }
                #expect(!report.allMatched)
            }
        }
    }

    @Test("names compare case-insensitively; the dump's folder, <dump folder>/<name>/ and --map-path are searched")
    func searchOrder() throws {
        let upper = try Self.alteredCopy(name: "FIXTURE.EXE") { _, _ in }
        defer { try? FileManager.default.removeItem(atPath: upper) }
        let caseReport = try Self.report(
            "x64-dll-inproc-cv.dmp", policy: .strict, searchPath: ExecutableSearchPath(entries: [.folder(upper)]))
        #expect(try Self.fixtureRow(caseReport).status == .matched)

        // A dump copied next to a <module name>/ folder holding the binary.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-layout-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("fixture.exe"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: TestEnvironment.shared("generated/pe/x64/fixture.exe"),
            toPath: folder.appendingPathComponent("fixture.exe/fixture.exe").path)
        let dumpCopy = folder.appendingPathComponent("crash.dmp").path
        try FileManager.default.copyItem(
            atPath: TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp"), toPath: dumpCopy)
        let layout = MatchReport(
            minidump: try MinidumpFile(path: dumpCopy), path: dumpCopy, searchPath: ExecutableSearchPath(), policy: .windbg)
        #expect(try Self.fixtureRow(layout).path == folder.appendingPathComponent("fixture.exe/fixture.exe").path)

        // The recorded path is Z:\home\ci\fixture-job\out\pe\x64\fixture.exe (Wine's Z: drive).
        let mapped = ExecutableSearchPath(mappings: [
            .init(windowsPrefix: #"Z:\home\ci\fixture-job\out\"#, localFolder: TestEnvironment.shared("generated"))
        ])
        let mappedReport = try Self.report("x64-dll-inproc-cv.dmp", policy: .windbg, searchPath: mapped)
        #expect(try Self.fixtureRow(mappedReport).status == .matched)
    }

    @Test("WinDbg-style paths split into folders and symbol-server entries")
    func pathSyntax() {
        let entries = ExecutableSearchPath.parse(
            #"C:\bin; ;srv*C:\sym*https://msdl.microsoft.com/download/symbols;cache*D:\c;/opt/x;"#)
        #expect(
            entries == [
                .folder(#"C:\bin"#), .symbolServer(#"srv*C:\sym*https://msdl.microsoft.com/download/symbols"#),
                .symbolServer(#"cache*D:\c"#), .folder("/opt/x"),
            ])
        let path = ExecutableSearchPath.from(exePath: "/a", environment: ["_NT_EXECUTABLE_IMAGE_PATH": "/b;/c"], mappings: [])
        #expect(path.entries == [.folder("/a"), .folder("/b"), .folder("/c")])
    }

    @Test("postmortem match: exit 0 when all match, 3 when some do not, JSON names the fields")
    func commandLine() throws {
        let dump = TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp")
        let folders = TestEnvironment.shared("generated/pe/x64") + ";" + TestEnvironment.shared("generated/wine-x86_64-windows")
        let some = try runProcess(TestEnvironment.postmortemExecutable, ["match", dump, "--exe-path", folders])
        #expect(some.status == 3, "\(some.stderrText)")
        #expect(some.stdoutText.contains("fixture.exe"))

        let altered = try Self.alteredCopy { bytes, pe in bytes[pe + 8] ^= 1 }
        defer { try? FileManager.default.removeItem(atPath: altered) }
        let json = try runProcess(TestEnvironment.postmortemExecutable, ["match", dump, "--json", "--exe-path", altered])
        #expect(json.status == 3)
        let report = try JSONDecoder().decode(MatchReport.self, from: json.stdout)
        let row = try Self.fixtureRow(report)
        #expect(row.rejected.first?.differences.map(\.field) == ["TimeDateStamp"])

        // The dump with its module list cut to the five modules the fixtures hold: every module matches.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dump)))
        let directory = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        let streams = Int(bytes[8]) | Int(bytes[9]) << 8
        let entry = try #require((0..<streams).map { directory + $0 * 12 }.first { bytes[$0] == 4 && bytes[$0 + 1] == 0 })
        let listOffset = Int(bytes[entry + 8]) | Int(bytes[entry + 9]) << 8 | Int(bytes[entry + 10]) << 16
        #expect(bytes[listOffset] == 9)
        bytes[listOffset] = 5
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-five-\(UUID().uuidString).dmp")
        try Data(bytes).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let all = try runProcess(
            TestEnvironment.postmortemExecutable, ["match", cut.path, "--exe-path", folders, "--policy", "strict"])
        #expect(all.status == 0, "\(all.stdoutText)")
        #expect(all.stdoutText.contains("5 of 5 matched"))

        let usage = try runProcess(TestEnvironment.postmortemExecutable, ["match", dump, "--policy", "lenient"])
        #expect(usage.status == 2)
        let badMap = try runProcess(TestEnvironment.postmortemExecutable, ["match", dump, "--map-path", "nonsense"])
        #expect(badMap.status == 2)
    }
}

@Suite("ELF modules match by build id", .ownThread)
struct ELFMatchTests {
    @Test("symbolic's binaries match the Linux dumps they crashed in; another ELF is rejected naming the build id")
    func linuxDumps() throws {
        let miniDump = TestEnvironment.shared("rust-minidump/testdata/linux-mini.dmp")
        let mapped = ExecutableSearchPath(mappings: [
            .init(
                windowsPrefix: "/work/linux/build/",
                localFolder: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/linux"))
        ])
        let report = MatchReport(minidump: try MinidumpFile(path: miniDump), path: miniDump, searchPath: mapped, policy: .strict)
        let crash = try #require(report.modules.first { $0.filename == "crash" })
        #expect(crash.status == .matched)
        #expect(crash.identity.codeID == "f1c3bcc0279865fe3058404b2831d9e64135386c")

        let pyDump = TestEnvironment.shared("symbolic/py/tests/res/minidump/crash_linux.dmp")
        let beside = MatchReport(
            minidump: try MinidumpFile(path: pyDump), path: pyDump, searchPath: ExecutableSearchPath(), policy: .windbg)
        #expect(try #require(beside.modules.first { $0.filename == "crash_linux" }).status == .matched)

        // A different ELF under the module's name: mismatched, with both build ids.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-elf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            atPath: TestEnvironment.shared("symbolic/py/tests/res/minidump/crash_linux"),
            toPath: folder.appendingPathComponent("crash").path)
        let wrong = MatchReport(
            minidump: try MinidumpFile(path: miniDump), path: miniDump,
            searchPath: ExecutableSearchPath(entries: [.folder(folder.path)]),
            policy: .windbg)
        let row = try #require(wrong.modules.first { $0.filename == "crash" })
        #expect(row.status == .mismatched)
        #expect(row.rejected.first?.differences.first?.field == "build id")
    }
}
