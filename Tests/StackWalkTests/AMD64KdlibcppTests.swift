import Analysis
import Foundation
import KernelDump
import Minidump
import StackWalk
import Symbolication
import TestSupport
import Testing

/// kdlibcpp's WinDbg-written x64 dumps with their MSVC PDBs: a USERDU64 full user-mode dump, whose
/// captured images carry `.pdata`, and a minidump that holds no image pages (scanning only).
@Suite(.ownThread) struct AMD64KdlibcppTests {
    static let folder = "kdlibcpp/kdlib/tests/dumps"

    /// The frames kdlibcpp's InlineStackTest asserts — stackMethod and stackTestRun2 inlined into
    /// stackTestRun1 (frames 0-2 share one address), then stackTestRun — found through the unwind
    /// data of the images the dump holds, down to kernel32 and ntdll.
    @Test func userDumpWalksThroughStackTestRun() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kdlibcpp walks cannot run")
        let folder = TestEnvironment.shared("\(Self.folder)/targetapp_stacktest_x64_release")
        let dump = try UserDumpFile(path: folder + "/targetapp_stacktest_x64_release.dmp")
        let memory = try dump.memory()
        let modules = ModuleSet(
            try dump.modules().map { module in
                WalkModule(
                    base: module.baseOfImage, size: UInt64(module.sizeOfImage), name: Self.fileName(module.imageName),
                    image: CapturedImage(memory: UserDumpStackMemory(memory), base: module.baseOfImage))
            })
        let pdb = try PDBSymbolProvider(path: folder + "/targetapp.pdb")
        let walker = StackWalker(architecture: .amd64, modules: modules, memory: UserDumpStackMemory(memory))
        let threads = try dump.threads()
        #expect(threads.count == 3)
        var mainThreadSeen = false
        for thread in threads {
            let stack = walker.walk(
                context: RegisterSet(context: try MinidumpFile.decodeContext(thread.context, architecture: .amd64)))
            #expect(stack.warnings.isEmpty)
            #expect(stack.frames.dropFirst().allSatisfy { $0.trust == .cfi }, "every caller from unwind data")
            // Every thread starts where Windows 10 starts threads.
            #expect(
                stack.frames.suffix(2).map { Self.describe($0.pc, modules) } == ["KERNEL32.DLL+0x13034", "ntdll.dll+0x73691"])
            guard Self.describe(stack.frames[0].pc, modules).hasPrefix("targetapp.exe") else { continue }
            mainThreadSeen = true
            #expect(
                stack.frames.map { Self.describe($0.pc, modules) } == [
                    "targetapp.exe+0x1e65", "targetapp.exe+0x1c33", "targetapp.exe+0x2e98", "KERNEL32.DLL+0x13034",
                    "ntdll.dll+0x73691",
                ])
            let names = stack.frames.prefix(3).map { frame in
                pdb.frames(at: frame.lookupAddress - modules.module(containing: frame.pc)!.base).map(\.function)
            }
            #expect(names[0] == ["stackTestClass::stackMethod", "stackTestRun2", "stackTestRun1"])
            #expect(names[1].first == "stackTestRun")
            #expect(names[2].last == "__scrt_common_main_seh")
            let inlined = pdb.frames(at: stack.frames[0].pc - modules.module(containing: stack.frames[0].pc)!.base).map(\.inlined)
            #expect(inlined == [true, true, false])
        }
        #expect(mainThreadSeen)
    }

    /// The cv_allreg minidump holds only 256 bytes of code around each thread's pc — no headers, no
    /// `.pdata` — so the walk falls back to scanning; it must still climb from the breakpoint through
    /// test_cv_allreg and wmain to the CRT's startup and the thread start in kernel32 and ntdll.
    @Test func minidumpWithoutImagesScans() throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the kdlibcpp walks cannot run")
        let folder = TestEnvironment.shared("\(Self.folder)/targetapp_test_cv_allreg_amd64")
        let harness = try MinidumpWalkHarness(path: folder + "/targetapp_test_cv_allreg_amd64.dmp")
        let modules = try harness.moduleSet()
        let pdb = try PDBSymbolProvider(path: folder + "/targetapp.pdb")
        let stack = try #require(try harness.walk(threadID: 0x5768, modules: modules))
        #expect(stack.frames.count < 40)
        let names: [String] = stack.frames.map { frame in
            guard let module = modules.module(containing: frame.pc) else { return "?" }
            guard module.name == "targetapp.exe" else { return module.name }
            return pdb.frames(at: frame.lookupAddress - module.base).last?.function ?? "?"
        }
        #expect(names.first == "test_cv_allreg_amd64")
        let expectedOrder = [
            "test_cv_allreg_amd64", "test_cv_allreg", "wmain", "__scrt_common_main_seh", "kernel32.dll", "ntdll.dll",
        ]
        var position = names.startIndex
        for name in expectedOrder {
            let found = names[position...].firstIndex(of: name)
            #expect(found != nil, "\(name) after frame \(position) in \(names)")
            position = (found ?? position) + 1
        }
        #expect(names.last == "ntdll.dll")
    }

    static func fileName(_ path: String) -> String {
        String(path.split(whereSeparator: { $0 == "\\" || $0 == "/" }).last ?? "")
    }

    static func describe(_ pc: UInt64, _ modules: ModuleSet) -> String {
        guard let module = modules.module(containing: pc) else { return "0x" + String(pc, radix: 16) }
        return module.name + "+0x" + String(pc - module.base, radix: 16)
    }
}
