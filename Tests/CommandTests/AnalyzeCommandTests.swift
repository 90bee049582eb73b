import Foundation
import TestSupport
import Testing

/// `postmortem analyze` end to end: the process, its JSON and text, against golden outputs of other tools.
@Suite("postmortem analyze", .ownThread)
struct AnalyzeCommandTests {
    /// A frame of the minidump-stackwalk JSON schema, as we and rust-minidump print it.
    struct Frame: Decodable, Equatable {
        var frame: Int
        var trust: String
        var offset: String
        var module: String?
        var module_offset: String?
        var function: String?
        var function_offset: String?
        var file: String?
        var line: Int?
        var inlines: [Inline]?
        var missing_symbols: Bool
    }

    struct Inline: Decodable, Equatable {
        var function: String
        var file: String?
        var line: Int?
    }

    struct Thread: Decodable {
        var thread_id: UInt32
        var frames: [Frame]
    }

    struct Module: Decodable {
        var filename: String
        var debug_id: String?
        var loaded_symbols: Bool
        var missing_symbols: Bool
        var symbol_file: String?
        var binary_file: String?
    }

    struct Report: Decodable {
        var crash_info: CrashInfo
        var threads: [Thread]
        var modules: [Module]
        var signature: String
    }

    struct CrashInfo: Decodable {
        var type: String?
        var address: String?
        var crashing_thread: Int?
    }

    static func analyze(_ arguments: [String]) throws -> (Report, ProcessResult) {
        let result = try runProcess(TestEnvironment.postmortemExecutable, ["analyze", "--json"] + arguments)
        #expect(result.status == 0, "\(result.stderrText)")
        return (try JSONDecoder().decode(Report.self, from: result.stdout), result)
    }

    @Test("the README sample: every frame of test.dmp symbolized from the shipped .sym files")
    func readmeSample() throws {
        let (report, _) = try Self.analyze([
            TestEnvironment.local("rust-minidump/test.dmp"), "--symbol-path",
            TestEnvironment.local("symbols"),
        ])
        let crashing = try #require(report.crash_info.crashing_thread)
        let frames = report.threads[crashing].frames
        // rust-minidump's __json-pretty-symbols.snap and Breakpad's minidump2.stackwalk.out.
        #expect(frames.first?.function == "`anonymous namespace'::CrashFunction")
        #expect(frames.first?.line == 58)
        #expect(frames.first?.trust == "context")
        #expect(frames.dropFirst().first?.function == "main")
        #expect(frames.dropFirst().first?.offset == "0x004041ff")
        #expect(frames.dropFirst(2).first?.function == "__tmainCRTStartup")
        #expect(frames.dropFirst(2).first?.line == 327)
        #expect(frames.dropFirst(3).first?.module == "kernel32.dll")
        #expect(frames.dropFirst(3).first?.module_offset == "0x00016fd6")
        #expect(frames.dropFirst(3).first?.function == "BaseProcessStart")
        #expect(report.modules.first { $0.filename == "test_app.exe" }?.loaded_symbols == true)
        #expect(report.modules.first { $0.filename == "ntdll.dll" }?.missing_symbols == true)
    }

    @Test("end to end over loopback: a store published from the fixtures, served by serve-symbols, fetched by analyze")
    func symbolServerOverLoopback() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the end-to-end analysis cannot run")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("pm-analyze-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let store = work + "/store"
        let pe = TestEnvironment.shared("generated/pe/x64")
        let add = try runProcess(
            TestEnvironment.postmortemExecutable,
            ["symstore", "add", "-s", store, "-t", "fixture", "--compress", "-f"]
                + ["fixture.exe", "fixture.pdb", "fixturedll.dll", "fixturedll.pdb"].map { pe + "/" + $0 })
        try #require(add.status == 0, "symstore add: \(add.stderrText)")

        let server = Process()
        server.executableURL = URL(fileURLWithPath: TestEnvironment.postmortemExecutable)
        server.arguments = ["serve-symbols", store, "--host", "127.0.0.1", "--port", "0"]
        let errors = Pipe()
        server.standardError = errors
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        // The server announces its port on standard error once it listens ("serving 1 store(s) on URL").
        var announced = ""
        while !announced.split(separator: "\n").contains(where: { $0.hasPrefix("serving ") }) {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            announced += String(decoding: chunk, as: UTF8.self)
        }
        let line = announced.split(separator: "\n").first { $0.hasPrefix("serving ") }
        let url = try #require(line?.split(separator: " ").last.map(String.init), "serve-symbols said: \(announced)")
        #expect(url.hasPrefix("http://127.0.0.1:"))

        let cache = work + "/cache"
        let (report, _) = try Self.analyze([
            TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp"), "--symbol-path", "srv*\(cache)*\(url)",
        ])
        let crashing = try #require(report.crash_info.crashing_thread)
        let functions = report.threads[crashing].frames.compactMap(\.function)
        // The application's frames of the lldb reference backtrace in ../shared/fixtures/README.md.
        #expect(Array(functions.prefix(1)) == ["dll_fault"])
        for expected in ["dll_recurse", "fixture_dll_compute", "level_c", "level_b", "level_a", "mainCRTStartup"] {
            #expect(functions.contains(expected), "\(expected) missing from \(functions)")
        }
        let dll = try #require(report.modules.first { $0.filename == "fixturedll.dll" })
        #expect(dll.loaded_symbols)
        #expect(dll.symbol_file?.hasPrefix(cache) == true, "\(dll.symbol_file ?? "nil")")
        #expect(dll.binary_file?.hasPrefix(cache) == true, "\(dll.binary_file ?? "nil")")
        // The files now sit in the downstream cache in the store layout.
        #expect(FileManager.default.fileExists(atPath: cache + "/fixturedll.pdb"))
    }

    @Test("a full user-mode dump (USERDU64): kdlibcpp's inline frames over stackTestRun1, from its PDB")
    func userDumpWithInlineFrames() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kdlibcpp dumps cannot be analyzed")
        let folder = TestEnvironment.shared("kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_x64_release")
        let (report, _) = try Self.analyze([folder + "/targetapp_stacktest_x64_release.dmp", "--symbol-path", folder])
        let crashing = try #require(report.crash_info.crashing_thread)
        let first = try #require(report.threads[crashing].frames.first)
        // kdlibcpp's stacktest.cpp InlineStackTest: stackMethod (129) inlined into stackTestRun2 (144),
        // both inlined into stackTestRun1 (172), all at the same address.
        #expect(first.function == "stackTestRun1")
        #expect(first.line == 172)
        #expect(first.inlines?.map(\.function) == ["stackTestClass::stackMethod", "stackTestRun2"])
        #expect(first.inlines?.map(\.line) == [129, 144])
        #expect(report.crash_info.type == "0x80000003" || report.crash_info.type == "EXCEPTION_BREAKPOINT")
        // The caller, unwound with the .pdata the dump holds: stackTestRun (185) inlined into wmain.
        let caller = try #require(report.threads[crashing].frames.dropFirst().first)
        #expect(caller.trust == "cfi")
        #expect(caller.inlines?.first?.function == "stackTestRun")
        #expect(caller.inlines?.first?.line == 185)
        #expect(caller.function == "wmain")
    }

    @Test("kernel small dumps: the bugcheck, and the faulting processor's stack through the drivers")
    func kernelSmallDumps() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kernel dumps cannot be analyzed")
        let dumps = TestEnvironment.shared("kdlibcpp/kdlib/tests/dumps")
        let (arm64, _) = try Self.analyze([dumps + "/win10_arm64_mem/win10_arm64_mem.dmp"])
        #expect(arm64.crash_info.type == "MANUALLY_INITIATED_CRASH (0xE2)")
        let frames = arm64.threads[0].frames
        // kdlibcpp asserts at least 11 frames (with Microsoft's symbols): KeBugCheck2 in ntoskrnl first,
        // FxRequest::CompleteInternal (Wdf01000.sys) at frame 11.
        #expect(frames.count >= 11)
        #expect(frames.first?.module == "ntoskrnl.exe")
        #expect(frames.count > 11 && frames[11].module == "Wdf01000.sys")
        #expect(frames.allSatisfy { $0.module != nil })

        let (arm, _) = try Self.analyze([dumps + "/win10_arm_rpi3_mem/RPi3_ARM_mini.cab.dmp"])
        // Written from a debugger: no bugcheck, a breakpoint exception. Frame 0 is in Wdf01000.sys
        // (FxRequest::CompleteInternal in kdlibcpp's test, with symbols).
        #expect(arm.crash_info.type == "0x80000003" || arm.crash_info.type == "EXCEPTION_BREAKPOINT")
        #expect(arm.threads[0].frames.first?.module == "Wdf01000.sys")
        #expect(arm.threads[0].frames.count >= 2)
    }

    @Test("--rescue: modules whose binaries are missing are rebuilt from the dump and analysis uses them")
    func rescueMissingBinaries() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: nothing to rescue")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pm-rescue-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let binaries = TestEnvironment.shared("generated/pe/x64")
        let (report, _) = try Self.analyze([
            TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp"), "--symbol-path", binaries, "--rescue", folder,
        ])
        // The Wine system DLLs are not on any path given: their stand-ins come from the rescue folder.
        let ntdll = try #require(report.modules.first { $0.filename == "ntdll.dll" })
        #expect(ntdll.binary_file == folder + "/ntdll.dll")
        #expect(FileManager.default.fileExists(atPath: folder + "/kernel32.dll"))
        // The application's own frames still unwind through its real binary's unwind data.
        let frames = report.threads[try #require(report.crash_info.crashing_thread)].frames
        let application = frames.prefix { $0.function != "mainCRTStartup" }
        #expect(application.dropFirst().allSatisfy { $0.trust == "cfi" })
        #expect(frames.contains { $0.function == "mainCRTStartup" })
    }

    @Test("a full user-mode dump: rescue rebuilds every module, and match then accepts every one")
    func userDumpRescueThenMatch() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kdlibcpp dump is needed")
        let dump = TestEnvironment.shared(
            "kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_x64_release/targetapp_stacktest_x64_release.dmp")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pm-udmatch-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let before = try runProcess(TestEnvironment.postmortemExecutable, ["match", dump])
        #expect(before.status == 3, "\(before.stdoutText)\(before.stderrText)")
        let rescue = try runProcess(TestEnvironment.postmortemExecutable, ["rescue", dump, "-o", folder])
        #expect(rescue.status == 0, "\(rescue.stderrText)")
        let after = try runProcess(TestEnvironment.postmortemExecutable, ["match", dump, "--exe-path", folder])
        #expect(after.status == 0, "\(after.stdoutText)\(after.stderrText)")
        #expect(after.stdoutText.contains("7 of 7 matched"), "\(after.stdoutText)")
    }

    @Test func unreadableDumpIsAClearError() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("pm-bad-\(UUID().uuidString).dmp").path
        try Data("MDMP but not really".utf8).write(to: URL(fileURLWithPath: work))
        defer { try? FileManager.default.removeItem(atPath: work) }
        let result = try runProcess(TestEnvironment.postmortemExecutable, ["analyze", work])
        #expect(result.status == 1)
        #expect(result.stderrText.contains(work))
    }
}
