import Analysis
import Foundation
import Minidump
import TestSupport
import Testing

@Suite("WERBucket", .ownThread)
struct WERBucketTests {
    static let app = WERBucket.Module(
        name: #"C:\Program Files\App\app.exe"#, base: 0x40_0000, size: 0x2D000, timeDateStamp: 0x45D3_5F6C, version: "1.2.3.4")
    static let library = WERBucket.Module(
        name: #"C:\Windows\system32\kernel32.dll"#, base: 0x7C80_0000, size: 0xF4000, timeDateStamp: 0x44AB_9A84,
        version: "5.1.2600.2945")

    @Test("the eight parameters in WER's order, spelled as WER spells them")
    func parameters() {
        let bucket = WERBucket(
            main: Self.app, modules: [Self.app, Self.library], exceptionCode: 0xC000_0005, faultAddress: 0x7C81_6FD6,
            pointerSize: 4)
        #expect(
            bucket.parameters == [
                "app.exe", "1.2.3.4", "45d35f6c", "kernel32.dll", "5.1.2600.2945", "44ab9a84", "c0000005", "00016fd6",
            ])
        #expect(bucket.description == "app.exe_1.2.3.4_45d35f6c_kernel32.dll_5.1.2600.2945_44ab9a84_c0000005_00016fd6")
    }

    @Test("64-bit offsets have 16 digits; a module without a version resource is 0.0.0.0")
    func widths() {
        let module = WERBucket.Module(name: "/opt/lib.so", base: 0x7F00_0000_0000, size: 0x1000, timeDateStamp: 0, version: nil)
        let bucket = WERBucket(
            main: module, modules: [module], exceptionCode: 0x8000_0003, faultAddress: 0x7F00_0000_0ABC, pointerSize: 8)
        #expect(bucket.offset == "0000000000000abc")
        #expect(bucket.appVersion == "0.0.0.0")
        #expect(bucket.moduleName == "lib.so")
        #expect(bucket.exceptionCode == "80000003")
    }

    @Test("a fault outside every module: ModName unknown and the absolute address")
    func outsideModules() {
        let bucket = WERBucket(
            main: Self.app, modules: [Self.app, Self.library], exceptionCode: 0xC000_0005, faultAddress: 0x1234, pointerSize: 4)
        #expect(bucket.moduleName == "unknown")
        #expect(bucket.moduleVersion == "0.0.0.0")
        #expect(bucket.moduleStamp == "00000000")
        #expect(bucket.offset == "00001234")
        // The end of an image is outside it.
        let atEnd = WERBucket(
            main: Self.app, modules: [Self.app], exceptionCode: 0xC000_0005, faultAddress: 0x42_D000, pointerSize: 4)
        #expect(atEnd.moduleName == "unknown")
        let noMain = WERBucket(main: nil, modules: [], exceptionCode: 0, faultAddress: 0, pointerSize: 8)
        #expect(noMain.appName == "unknown")
        #expect(noMain.appStamp == "00000000")
    }

    @Test("JSON keys")
    func json() throws {
        let bucket = WERBucket(
            main: Self.app, modules: [Self.app], exceptionCode: 0xC000_0005, faultAddress: 0x40_429E, pointerSize: 4)
        let object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(bucket)) as? [String: String])
        #expect(
            Set(object.keys) == [
                "app_name", "app_version", "app_stamp", "module_name", "module_version", "module_stamp", "exception_code",
                "offset",
            ])
        #expect(object["offset"] == "0000429e")
        #expect(try JSONDecoder().decode(WERBucket.self, from: JSONEncoder().encode(bucket)) == bucket)
    }

    @Test("test.dmp: a write in test_app.exe at 0x40429e")
    func testDump() throws {
        let bucket = try #require(try WERBucket(minidump: Fixtures.dump("rust-minidump/testdata/test.dmp")))
        #expect(bucket.description == "test_app.exe_0.0.0.0_45d35f6c_test_app.exe_0.0.0.0_45d35f6c_c0000005_0000429e")
    }

    @Test("32-bit dump with garbage in the high half of the exception address")
    func truncatedAddress() throws {
        let bucket = try #require(
            try WERBucket(minidump: Fixtures.dump("breakpad/src/processor/testdata/minidump_32bit_crash_addr.dmp")))
        #expect(bucket.moduleName == "test_app.exe")
        #expect(bucket.offset == "0000429e")
    }

    @Test("generated dump: stamps agree with the PE files (pefile), offset with README.md's 0x180001090")
    func generated() throws {
        let bucket = try #require(try WERBucket(minidump: Fixtures.dump("generated/dumps/x64-dll-inproc-cv.dmp")))
        #expect(bucket.appName == "fixture.exe")
        #expect(bucket.moduleName == "fixturedll.dll")
        #expect(bucket.exceptionCode == "c0000005")
        #expect(bucket.offset == "0000000000001090")
        let script = """
            import sys, pefile
            for path in sys.argv[1:]:
                print('%08x' % pefile.PE(path, fast_load=True).FILE_HEADER.TimeDateStamp)
            """
        let result = try runProcess(
            TestEnvironment.python,
            ["-c", script, Fixtures.path("generated/pe/x64/fixture.exe"), Fixtures.path("generated/pe/x64/fixturedll.dll")])
        try #require(result.status == 0, "pefile failed: \(result.stderrText)")
        let stamps = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(stamps == [bucket.appStamp, bucket.moduleStamp])
    }

    @Test("Linux and kdlib dumps: the faulting module of the exception address")
    func others() throws {
        // linux-mini.dmp: si_addr is 0x45; the faulting instruction is crash + 0x1d72 (the snapshot's frame 0).
        let linux = try #require(try WERBucket(minidump: Fixtures.dump("rust-minidump/testdata/linux-mini.dmp")))
        #expect(linux.appName == "crash")
        #expect(linux.moduleName == "crash")
        #expect(linux.exceptionCode == "0000000b")
        #expect(linux.offset == "0000000000001d72")
        #expect(linux.appStamp == "00000000")
        let breakpoint = try #require(
            try WERBucket(
                minidump: Fixtures.dump(
                    "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp")))
        #expect(breakpoint.appName == "targetapp.exe")
        #expect(breakpoint.moduleName == "targetapp.exe")
        #expect(breakpoint.exceptionCode == "80000003")
        #expect(breakpoint.offset.count == 16)
    }
}
