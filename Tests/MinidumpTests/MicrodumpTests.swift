import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

private func openMicrodump(_ name: String) throws -> Microdump {
    try #require(TestEnvironment.hasSharedFixtures, "shared fixtures are absent: \(TestEnvironment.sharedFixtures.path)")
    let path = TestEnvironment.shared("breakpad/src/processor/testdata/" + name)
    return try Microdump(parsing: MappedFile(path: path).bytes)
}

private func microdump(_ text: String) throws -> Microdump {
    try Microdump(parsing: MappedFile(bytes: Array(text.utf8)).bytes)
}

@Suite("Microdumps written by Breakpad on Android", .ownThread)
struct MicrodumpFixtureTests {
    // Values asserted by Breakpad's microdump_processor_unittest.cc (see the fixture's EXPECTED.md).
    @Test(arguments: [
        ("microdump-arm64.dmp", "arm64", 2, 8, "OS 64 VERSION INFO"),
        ("microdump-arm.dmp", "arm", 2, 6, "OS VERSION INFO"),
        (
            "microdump-x86.dmp", "x86", 4, 124,
            "asus/WW_Z00A/Z00A:5.0/LRX21V/2.19.40.22_20150627_5104_user:user/release-keys"
        ),
        ("microdump-multiple.dmp", "arm", 6, 156, "lge/p1_tmo_us/p1:6.0/MRA58K/1603210524c8d:user/release-keys"),
        ("microdump-mips32.dmp", "mips", 2, 7, "3.0.8-g893bf16 #7 SMP PREEMPT Fri Jul 10 15:20:59 PDT 2015"),
        ("microdump-mips64.dmp", "mips64", 1, 8, "3.10.0-gf185e20 #112 PREEMPT Mon Oct 5 11:12:49 PDT 2015"),
    ])
    func systemAndModules(name: String, cpu: String, cpus: Int, modules: Int, version: String) throws {
        let dump = try openMicrodump(name)
        let system = try #require(dump.systemInfo)
        #expect(system.cpu == cpu)
        #expect(system.cpuCount == cpus)
        #expect(system.osVersion == version)
        #expect(system.osName == "Android" || system.osIdentifier == "L")
        #expect(dump.modules.count == modules)
        #expect(!dump.memory.regions.isEmpty)
    }

    @Test func arm64ContextStackAndModules() throws {
        let dump = try openMicrodump("microdump-arm64.dmp")
        // The writer used Breakpad's old 796-byte ARM64 context.
        guard case .arm64(let context) = try #require(dump.threadContext) else {
            Issue.record("not an arm64 context")
            return
        }
        #expect(context.oldContext != nil)
        #expect(context.pc == 0x55_5f63_6f6c)
        #expect(context.sp == 0x7f_e2ba_6120)
        #expect(context.fp == 0x7f_e2ba_6120)
        #expect(context.x(19) == 0x7f_e2ba_6a50)
        #expect(context.x(28) == 0x7f_e2ba_61f0)
        #expect(dump.stackHeader?.stackPointer == 0x7f_e2ba_6120)
        #expect(dump.stackHeader?.start == 0x7f_e2ba_6000)
        #expect(dump.stackHeader?.size == 0x3000)
        #expect(dump.memory.regions.count == 1)
        #expect(dump.memory.regions.first?.address == 0x7f_e2ba_6000)
        #expect(dump.memory.regions.first?.bytes.count == 0x3000)
        #expect(dump.gpu == nil)
        let first = try #require(dump.modules.first)
        #expect(first.name == "breakpad_unittests")
        #expect(first.base == 0x55_5f60_8000)
        #expect(first.size == 0xC0000)
        #expect(first.debugIdentifier == "D6D1FEC9A15DE7F38A236898871A2E770")
        #expect(dump.modules.last?.name == "linux-gate.so")
        #expect(dump.warnings.isEmpty)
    }

    @Test func armContextAndGPU() throws {
        let dump = try openMicrodump("microdump-arm.dmp")
        guard case .arm(let context) = try #require(dump.threadContext) else {
            Issue.record("not an arm context")
            return
        }
        #expect(context.pc == 0xaaae_b307)
        #expect(context.sp == 0xffea_68c0)
        #expect(context.r(11) == 0xea2)
        #expect(dump.gpu?.version == "OpenGL ES 3.0 V@104.0 AU@  (GIT@Id3510ff6dc)")
        #expect(dump.gpu?.vendor == "Qualcomm")
        #expect(dump.gpu?.renderer == "Adreno (TM) 330")
        #expect(
            dump.modules.map(\.name) == [
                "breakpad_unittests", "libnetd_client.so", "libstdc++.so", "libm.so", "liblog.so", "libc.so",
            ])
    }

    @Test func x86Context() throws {
        let dump = try openMicrodump("microdump-x86.dmp")
        guard case .x86 = try #require(dump.threadContext) else {
            Issue.record("not an x86 context")
            return
        }
        #expect(dump.product == "Chrome_Android:49.0.2623.15")
    }

    @Test func mipsIsParsedWithoutAContext() throws {
        let dump = try openMicrodump("microdump-mips32.dmp")
        #expect(dump.threadContext == nil)
        #expect(dump.warnings.contains { $0.contains("unsupported architecture mips") })
        #expect(dump.modules.first?.name == "crash_example")
    }

    @Test func crashReasonAndOnlyTheFirstDump() throws {
        let dump = try openMicrodump("microdump-withcrashreason.dmp")
        #expect(dump.crashReason?.signal == 5)
        #expect(dump.crashReason?.name == "SIGTRAP")
        #expect(dump.crashReason?.address == 0x4A7C_B000)
        #expect(dump.systemInfo?.cpuCount == 8)
        #expect(dump.processType == "webview")
        // The file holds six dumps; only the first is read.
        guard case .arm = try #require(dump.threadContext) else {
            Issue.record("not an arm context")
            return
        }
    }
}

@Suite("Microdump text edge cases", .ownThread)
struct MicrodumpSyntheticTests {
    @Test func noDumpIsAnError() {
        #expect(throws: ParseError.self) { try microdump("hello\nworld\n") }
    }

    @Test func bareLinesWithoutLogcatPrefix() throws {
        let dump = try microdump(
            """
            -----BEGIN BREAKPAD MICRODUMP-----
            O L arm64 04 aarch64 5.10
            S 0 1010 1000 20
            S 1000 00112233
            S 1004 44556677
            S 2000 AABB
            M 400000 0 1000 0123456789ABCDEF0123456789ABCDEF0 app
            -----END BREAKPAD MICRODUMP-----

            """)
        #expect(dump.systemInfo?.osName == "Linux")
        #expect(dump.systemInfo?.cpuCount == 4)
        #expect(dump.memory.regions.count == 2)
        #expect(dump.memory.read(UInt64.self, at: 0x1000) == 0x7766_5544_3322_1100)
        #expect(dump.modules.count == 1)
        #expect(dump.warnings.contains { $0.contains("C") } == false)
    }

    @Test func interleavedLogLinesAreSkippedAndGarbageWarns() throws {
        let dump = try microdump(
            """
            I/other( 1): -----BEGIN BREAKPAD MICRODUMP----- (not ours)
            W/google-breakpad( 7): -----BEGIN BREAKPAD MICRODUMP-----
            W/google-breakpad( 7): O A arm 02 armv7l X
            I/other( 1): S 0 not a stack line
            W/google-breakpad( 7): S zz 0011
            W/google-breakpad( 7): C 0600
            W/google-breakpad( 7): M 1000 0 1000 ID a.so
            W/google-breakpad( 7): M 1800 0 1000 ID b.so
            W/google-breakpad( 7): M 1800 0 1000 ID c.so
            W/google-breakpad( 7): Q what
            """)
        #expect(dump.systemInfo?.cpu == "arm")
        #expect(dump.threadContext == nil)
        #expect(dump.warnings.contains { $0.contains("malformed arm CPU context of 2 bytes") })
        #expect(dump.warnings.contains { $0.contains("an S line") })
        #expect(dump.warnings.contains { $0.contains("unknown key 'Q'") })
        #expect(dump.warnings.contains { $0.contains("no END line") })
        // Android: the lower of two overlapping modules shrinks; the same base twice is left out.
        #expect(dump.modules.map(\.name) == ["a.so", "b.so"])
        #expect(dump.modules.first?.size == 0x800)
    }

    @Test func hugeAndBrokenValuesStayBounded() throws {
        let dump = try microdump(
            """
            -----BEGIN BREAKPAD MICRODUMP-----
            O A arm 1FFFFFFFFFFFFFFFFFFFF armv7l
            M FFFFFFFFFFFFFFFF 0 10 ID wraps.so
            S FFFFFFFFFFFFFFFE 00112233
            R
            G
            -----END BREAKPAD MICRODUMP-----
            """)
        #expect(dump.systemInfo == nil)
        #expect(dump.modules.isEmpty)
        #expect(dump.gpu == nil)
        #expect(dump.memory.regions.isEmpty)
        #expect(!dump.warnings.isEmpty)
    }
}
