import BinaryReading
import BreakpadSymbols
import Foundation
import TestSupport
import Testing

@Suite("Breakpad .sym files", .ownThread)
struct SymbolFileTests {
    static let testApp =
        "rust-minidump/breakpad-symbols/testdata/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
    static let testAppCRLF =
        "rust-minidump/breakpad-symbols/testdata/symbols/test_app.pdb/6A9832E5287241C1838ED98914E9B7FF1/test_app.sym"

    static let allFiles: [String] = {
        #expect(TestEnvironment.hasSharedFixtures, "shared fixtures absent")
        return TestEnvironment.sharedFiles(suffixes: [".sym"])
    }()

    @Test("rust-minidump's assertions on test_app.sym (LF and CRLF copies)", arguments: [testApp, testAppCRLF])
    func testAppAssertions(relative: String) throws {
        let file = try SymbolFile(path: TestEnvironment.shared(relative))
        #expect(file.warnings.isEmpty, "\(file.warnings)")
        // The CRLF copy sits in a folder named 6A98… but its MODULE line still says 5A98…, on purpose.
        #expect(
            file.module == ModuleRecord(os: "windows", arch: "x86", id: "5A9832E5287241C1838ED98914E9B7FF1", name: "test_app.pdb")
        )
        #expect(file.files.count == 6661)
        #expect(file.publics.count == 5)
        #expect(file.functions.count == 1065)
        #expect(file.publicSymbol(at: 0x9b07)?.name == "_NLG_Return")
        #expect(file.publicSymbol(at: 0x142e7)?.name == "_NLG_Return")
        #expect(file.publicSymbol(at: 0x23b06)?.name == "__from_strstr_to_strchr")
        #expect(file.publicSymbol(at: 0xFFFF_FFFF)?.name == "__from_strstr_to_strchr")
        #expect(file.function(at: 0x1000)?.name == "vswprintf")
        #expect(file.function(at: 0x1012)?.name == "vswprintf")
        #expect(file.function(at: 0x1013) == nil)
        #expect(file.stackWin.filter { $0.type == StackWinRecord.frameData }.count == 1556)
        #expect(file.stackWin.filter { $0.type == StackWinRecord.fpo }.count == 259)
        #expect(file.stackWin(at: 0x41b0)?.rva == 0x41b0)
    }

    @Test("rust-minidump's human-symbols snapshot frames resolve in test_app.sym")
    func snapshotFrames() throws {
        let file = try SymbolFile(path: TestEnvironment.shared(Self.testApp))
        // test.dmp crashes at 0x40429e in test_app.exe loaded at 0x400000.
        let crash = try #require(file.lookup(0x429e))
        #expect(crash.frames.last?.function == "`anonymous namespace'::CrashFunction")
        #expect(crash.frames.last?.file?.hasSuffix("test_app.cc") == true)
        #expect(crash.frames.last?.line == 58)
    }

    @Test("every .sym in the fixtures parses, and text() round-trips it", arguments: allFiles)
    func parsesAndRoundTrips(path: String) throws {
        let file = try SymbolFile(path: path)
        #expect(file.warnings.isEmpty, "\(file.warnings.prefix(3))")
        #expect(!file.functions.isEmpty || !file.publics.isEmpty || !file.cfi.isEmpty)
        let again = try SymbolFile(parsing: MappedFile(bytes: Array(file.text().utf8)).bytes)
        #expect(again == file)
    }

    @Test("the old and new INLINE formats give the same frames")
    func inlineFormats() throws {
        let folder = "breakpad/src/processor/testdata/symbols/linux_inline/BBA6FA10B8AAB33D00000000000000000/"
        let old = try SymbolFile(path: TestEnvironment.shared(folder + "linux_inline.old.sym"))
        let new = try SymbolFile(path: TestEnvironment.shared(folder + "linux_inline.new.sym"))
        #expect(old.inlineOrigins == new.inlineOrigins)
        #expect(old.inlineOrigins[0] == "bar()")
        let withInlines = try #require(new.functions.first { !$0.inlines.isEmpty })
        let address = try #require(withInlines.inlines.first?.ranges.first?.address)
        let oldFrames = try #require(old.lookup(address)).frames.map(\.function)
        let newFrames = try #require(new.lookup(address)).frames.map(\.function)
        #expect(oldFrames == newFrames)
        #expect(newFrames.count >= 2)
    }

    @Test("not a symbol file: a clear error, not a trap")
    func notSymbols() throws {
        let inputs: [[UInt8]] = [
            [], Array("hello\n".utf8), Array("MODULE windows\n".utf8), [0xFF, 0xFE, 0x00, 0x0A], Array("\n\n".utf8),
        ]
        for input in inputs {
            #expect(throws: ParseError.self) { try SymbolFile(parsing: MappedFile(bytes: input).bytes) }
        }
        let broken =
            "MODULE Linux x86_64 ABC crash\nFUNC zz 1 0 f\n1000 10 3 0\nSTACK CFI 1000 .cfa: x\nINLINE 1\nPUBLIC 10 0 p\n"
        let file = try SymbolFile(parsing: MappedFile(bytes: Array(broken.utf8)).bytes)
        #expect(file.warnings.count == 4)
        #expect(file.publics.count == 1)
    }
}
