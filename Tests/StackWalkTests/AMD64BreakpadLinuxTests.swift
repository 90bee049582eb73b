import BreakpadSymbols
import Foundation
import Minidump
import StackWalk
import TestSupport
import Testing

/// Breakpad's Linux x86-64 test dumps with the .sym files of its testdata: walks stay bounded on
/// every dump, and those whose modules all have symbols unwind by CFI alone down to `_start`.
@Suite(.ownThread) struct AMD64BreakpadLinuxTests {
    static let testdata = "breakpad/src/processor/testdata"

    static var symbolFiles: [String: String] {
        let symbols = TestEnvironment.shared("\(testdata)/symbols")
        return [
            "ld-2.13.so": symbols + "/ld-2.13.so/C32AD7E235EA6112E02A5B9D6219C4850/ld-2.13.so.sym",
            "libc-2.13.so": symbols + "/libc-2.13.so/F4F8DFCD5A5FB5A7CE64717E9E6AE3890/libc-2.13.so.sym",
            "libgcc_s.so.1": symbols + "/libgcc_s.so.1/18B180F90887D8F8B5C35D185444AF4C0/libgcc_s.so.1.sym",
            "null_read_av": symbols + "/null_read_av/7B7D1968FF0D47AE4366E9C3A7E1B6750/null_read_av.sym",
            "overflow": symbols + "/overflow/B0E1FC01EF48E39CAF5C881D2DF0C3840/overflow.sym",
        ]
    }

    static let dumps = [
        "linux_divide_by_zero", "linux_executable_heap", "linux_executable_stack", "linux_inline",
        "linux_inside_module_exe_region1", "linux_inside_module_exe_region2", "linux_jmp_to_0",
        "linux_jmp_to_module_not_exe_region", "linux_null_dereference", "linux_null_read_av", "linux_outside_module",
        "linux_overflow", "linux_raise_sigabrt", "linux_stack_pointer_in_module", "linux_stack_pointer_in_stack",
        "linux_stack_pointer_in_stack_alt_name", "linux_stacksmash", "linux_write_to_nonwritable_module",
        "linux_write_to_nonwritable_region_math", "linux_write_to_outside_module", "linux_write_to_outside_module_via_math",
        "linux_write_to_under_4k",
    ]

    @Test(arguments: dumps)
    func walksStayBoundedAndOrdered(dump: String) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the Breakpad walks cannot run")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared("\(Self.testdata)/\(dump).dmp"))
        #expect(harness.architecture == .amd64)
        let modules = try harness.moduleSet(symbolFiles: Self.symbolFiles)
        let threads = try harness.dump.stream(ThreadList.self)?.threads ?? []
        #expect(!threads.isEmpty)
        for thread in threads {
            let stack = try #require(try harness.walk(threadID: thread.threadId, modules: modules))
            #expect(stack.frames.count < 64, "thread \(thread.threadId) of \(dump)")
            #expect(stack.frames.first?.trust == .context)
            for (callee, caller) in zip(stack.frames, stack.frames.dropFirst()) {
                #expect((caller.registers.sp ?? 0) > (callee.registers.sp ?? .max))
                #expect(caller.pc >= 0x1000)
            }
            // Everything but the context frame found by unwinding lies in a module.
            for frame in stack.frames.dropFirst() where frame.trust == .scan {
                #expect(modules.module(containing: frame.pc) != nil)
            }
        }
    }

    /// null_read_av and overflow have symbols for every module on their crashing stacks: CFI alone
    /// leads from the crash through main and __libc_start_main to the executable's `_start` (which
    /// has no symbol). libc's .sym holds only PUBLIC records, so its frames carry the nearest public
    /// name: `__fsetlocking` stands for the static `__libc_message`, `__chk_fail` for
    /// `__stack_chk_fail`, `gsignal` for its alias `raise`.
    @Test(
        arguments: [
            ("linux_null_read_av", ["crash()", "main", "__libc_start_main", nil]),
            (
                "linux_overflow",
                [
                    "gsignal", "abort", "__fsetlocking", "__fortify_fail", "__chk_fail", "overflow(char const*)", "main",
                    "__libc_start_main", nil,
                ]
            ),
        ] as [(String, [String?])])
    func symbolizedWalksReachStart(dump: String, names: [String?]) throws {
        try #require(TestEnvironment.hasSharedFixtures, "../shared/fixtures is absent: the Breakpad walks cannot run")
        let harness = try MinidumpWalkHarness(path: TestEnvironment.shared("\(Self.testdata)/\(dump).dmp"))
        let modules = try harness.moduleSet(symbolFiles: Self.symbolFiles)
        let exception = try #require(try harness.dump.stream(ExceptionStream.self))
        let stack = try #require(try harness.walk(threadID: exception.threadId, modules: modules))
        #expect(stack.frames.dropFirst().allSatisfy { $0.trust == .cfi })
        let found: [String?] = stack.frames.map { frame in
            guard let module = modules.module(containing: frame.lookupAddress), let symbols = module.rules as? SymbolFile else {
                return nil
            }
            let rva = frame.lookupAddress - module.base
            return symbols.function(at: rva)?.name ?? symbols.publicSymbol(at: rva)?.name
        }
        #expect(found == names)
        #expect(modules.module(containing: stack.frames.last?.pc ?? 0)?.base == 0x400000, "the walk ends in the executable")
    }
}
