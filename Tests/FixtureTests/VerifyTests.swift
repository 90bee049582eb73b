import Analysis
import BinaryReading
import Foundation
import TestSupport
import Testing

/// The dumps `verify` runs over: every minidump, the kernel small dumps and the USERDU64 dump.
enum VerifyFixtures {
    static let kdlib = "kdlibcpp/kdlib/tests/dumps/"
    static let arm64Small = TestEnvironment.shared(kdlib + "win10_arm64_mem/win10_arm64_mem.dmp")
    static let arm32Small = TestEnvironment.shared(kdlib + "win10_arm_rpi3_mem/RPi3_ARM_mini.cab.dmp")
    static let userDump = TestEnvironment.shared(
        kdlib + "targetapp_stacktest_x64_release/targetapp_stacktest_x64_release.dmp")
    static let kernelDumps = TestEnvironment.hasSharedFixtures ? [arm64Small, arm32Small] : []
    /// Breakpad's writer damaged this dump's LinuxDsoDebug stream (its map RVA points past the end).
    static let damagedDsoDebug = "linux_executable_stack.dmp"

    static var intact: [String] {
        guard TestEnvironment.hasSharedFixtures else { return [] }
        return MinidumpFixtures.intact + kernelDumps + [userDump]
    }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func verify(_ bytes: [UInt8], name: String) -> VerificationReport {
        DumpVerifier.verify(bytes: MappedFile(bytes: bytes, name: name).bytes, path: name)
    }

    static func put32(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    static func put64(_ value: UInt64, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    static func get32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}

@Suite("postmortem verify over the fixtures", .ownThread)
struct VerifyTests {
    @Test("every intact dump passes", arguments: VerifyFixtures.intact)
    func intactDumpsPass(path: String) {
        let report = DumpVerifier.verify(path: path)
        let name = URL(fileURLWithPath: path).lastPathComponent
        if name == VerifyFixtures.damagedDsoDebug {
            // Exactly the damaged stream is reported, as a warning.
            let streams = report.check(CheckName.streams)
            #expect(streams?.status == .warn, "\(report.checks)")
            #expect(streams?.detail.contains("LinuxDsoDebug") == true)
            #expect(report.checks.filter { $0.status == .fail }.isEmpty, "\(report.checks)")
        }
        #expect(report.passed, "\(MinidumpFixtures.name(path)): \(report.checks.filter { $0.status != .pass })")
        #expect(report.check(CheckName.header)?.status == .pass)
    }

    @Test("the kernel small dumps' bugchecks are named")
    func bugcheckNamed() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let arm64 = DumpVerifier.verify(path: VerifyFixtures.arm64Small)
        #expect(arm64.kind == "kernel (64-bit, small (triage))")
        #expect(arm64.check(CheckName.bugcheck)?.detail.hasPrefix("0xE2 MANUALLY_INITIATED_CRASH") == true)
        #expect(arm64.check(CheckName.modules)?.detail.contains("ntoskrnl.exe") == true)
        #expect(arm64.check(CheckName.stack)?.status == .pass)
        // The ARM32 dump was written from the debugger: BugCheckCode 0, a breakpoint exception.
        let arm32 = DumpVerifier.verify(path: VerifyFixtures.arm32Small)
        #expect(arm32.check(CheckName.bugcheck)?.status == .warn)
        #expect(arm32.check(CheckName.bugcheck)?.required == false)
        #expect(arm32.passed)
    }

    @Test("truncated copies fail, naming the check", arguments: VerifyFixtures.intact)
    func truncatedCopiesFail(path: String) throws {
        let bytes = try VerifyFixtures.bytes(path)
        let headerSize =
            bytes.starts(with: Array("PAGEDU64".utf8)) ? 0x2000 : bytes.starts(with: Array("PAGEDUMP".utf8)) ? 0x1000 : 32
        let cuts = Set(
            [6, headerSize / 2, bytes.count / 4, bytes.count / 2, bytes.count * 3 / 4].filter { $0 > 0 && $0 < bytes.count })
        for cut in cuts.sorted() {
            let report = VerifyFixtures.verify(Array(bytes[..<cut]), name: "\(MinidumpFixtures.name(path)) cut at \(cut)")
            #expect(!report.passed, "\(report.dump) passed")
            let failure = try #require(report.firstFailure, "\(report.dump)")
            #expect(failure.status == .fail && !failure.detail.isEmpty, "\(report.dump): \(failure)")
        }
    }

    @Test("a damaged signature fails the header check", arguments: VerifyFixtures.intact)
    func signatureCorrupted(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        bytes[1] ^= 0xFF
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        #expect(report.firstFailure?.name == CheckName.header, "\(report.checks)")
    }

    @Test("a minidump stream past the end fails the file size and layout checks", arguments: MinidumpFixtures.intact)
    func streamPastEnd(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        let directory = Int(VerifyFixtures.get32(bytes, at: 12))
        let count = Int(VerifyFixtures.get32(bytes, at: 8))
        // The first stream with data.
        let index = try #require(
            (0..<count).first {
                VerifyFixtures.get32(bytes, at: directory + 12 * $0 + 4) > 0
                    && VerifyFixtures.get32(bytes, at: directory + 12 * $0) != 0
            })
        VerifyFixtures.put32(UInt32(bytes.count + 16), at: directory + 12 * index + 8, in: &bytes)
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        #expect(report.check(CheckName.fileSize)?.status == .fail, "\(report.checks)")
        #expect(report.check(CheckName.layout)?.status == .fail)
    }

    @Test("overlapping minidump streams fail the layout check", arguments: MinidumpFixtures.intact)
    func overlappingStreams(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        let directory = Int(VerifyFixtures.get32(bytes, at: 12))
        let count = Int(VerifyFixtures.get32(bytes, at: 8))
        let withData = (0..<count).filter {
            VerifyFixtures.get32(bytes, at: directory + 12 * $0 + 4) > 0
                && VerifyFixtures.get32(bytes, at: directory + 12 * $0) != 0
        }
        try #require(withData.count >= 2, "\(path) has fewer than two streams")
        // The second stream now starts where the first one does.
        let first = VerifyFixtures.get32(bytes, at: directory + 12 * withData[0] + 8)
        VerifyFixtures.put32(first, at: directory + 12 * withData[1] + 8, in: &bytes)
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        let layout = try #require(report.check(CheckName.layout))
        #expect(layout.status == .fail)
        #expect(layout.detail.contains("overlaps") || layout.detail.contains("past the end"), "\(layout.detail)")
    }

    @Test("a kernel dump with an unknown DumpType fails the dump type check", arguments: VerifyFixtures.kernelDumps)
    func unknownDumpType(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        let is64Bit = bytes.starts(with: Array("PAGEDU64".utf8))
        VerifyFixtures.put32(0x77, at: is64Bit ? 0xF98 : 0xF88, in: &bytes)
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        #expect(report.firstFailure?.name == CheckName.dumpType, "\(report.checks)")
        #expect(report.firstFailure?.detail.contains("0x77") == true)
    }

    @Test(
        "a kernel dump whose RequiredDumpSpace exceeds the file fails the file size check", arguments: VerifyFixtures.kernelDumps)
    func requiredDumpSpaceTooLarge(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        VerifyFixtures.put64(UInt64(bytes.count) * 2, at: 0xFA0, in: &bytes)
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        let check = try #require(report.check(CheckName.fileSize))
        #expect(check.status == .fail && check.required)
        #expect(check.detail.contains("RequiredDumpSpace"))
    }

    @Test("a kernel small dump whose driver list leaves the file fails the layout check", arguments: VerifyFixtures.kernelDumps)
    func driverListPastEnd(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        let is64Bit = bytes.starts(with: Array("PAGEDU64".utf8))
        // TRIAGE_DUMP.DriverListOffset is the 13th field of the triage header.
        VerifyFixtures.put32(UInt32(bytes.count - 8), at: (is64Bit ? 0x2000 : 0x1000) + 12 * 4, in: &bytes)
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        #expect(report.check(CheckName.layout)?.status == .fail, "\(report.checks)")
        #expect(report.check(CheckName.modules)?.status == .fail)
    }

    @Test("a user dump with a table past the end or overlapping tables fails the layout check")
    func userDumpCorrupted() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let original = try VerifyFixtures.bytes(VerifyFixtures.userDump)
        // USERDU64: ModuleOffset at 0x28, ThreadOffset at 0x20, ThreadStateOffset at 0x48.
        var pastEnd = original
        VerifyFixtures.put64(UInt64(original.count + 0x100), at: 0x28, in: &pastEnd)
        let report1 = VerifyFixtures.verify(pastEnd, name: "module table past the end")
        #expect(!report1.passed)
        #expect(report1.check(CheckName.layout)?.status == .fail, "\(report1.checks)")
        var overlapping = original
        VerifyFixtures.put64(
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(original[0x20 + $1]) << (8 * $1) }, at: 0x48, in: &overlapping)
        let report2 = VerifyFixtures.verify(overlapping, name: "thread states over thread contexts")
        #expect(!report2.passed)
        let layout = try #require(report2.check(CheckName.layout))
        #expect(layout.status == .fail && layout.detail.contains("overlaps"), "\(layout.detail)")
    }

    @Test("binaries: the generated dumps' key modules are found and match; srv* entries are named, not searched")
    func binariesMatch() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let symbolPath = [
            TestEnvironment.shared("generated/pe/x64"), TestEnvironment.shared("generated/wine-x86_64-windows"),
            "srv*/tmp/cache*http://127.0.0.1:9/symbols",
        ].joined(separator: ";")
        let report = DumpVerifier.verify(
            path: TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp"), binaries: BinarySearch(symbolPath: symbolPath))
        let binaries = try #require(report.check(CheckName.binaries))
        #expect(binaries.status == .pass, "\(binaries.detail)")
        #expect(binaries.detail.contains("fixture.exe: matched"))
        #expect(binaries.detail.contains("fixturedll.dll: matched"))
        #expect(binaries.detail.contains("not searched") && binaries.detail.contains("srv*/tmp/cache"))
        #expect(report.passed)
        // Without the folders, the same dump fails the check.
        let missing = DumpVerifier.verify(
            path: TestEnvironment.shared("generated/dumps/x64-dll-inproc-cv.dmp"),
            binaries: BinarySearch(symbolPath: "/nonexistent"))
        #expect(missing.check(CheckName.binaries)?.status == .fail)
        #expect(!missing.passed)
        // The user dump's targetapp.exe is not shipped: not found.
        let user = DumpVerifier.verify(path: VerifyFixtures.userDump, binaries: BinarySearch(symbolPath: "/nonexistent"))
        #expect(user.check(CheckName.binaries)?.detail.contains("targetapp.exe: not found") == true)
    }
}

@Suite("verify on randomly damaged dumps", .ownThread)
struct VerifyRandomDamageTests {
    /// A small deterministic generator, so a failure can be replayed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("damaged headers, directories and tables give a report, never a trap", arguments: VerifyFixtures.intact)
    func randomDamage(path: String) throws {
        let original = try VerifyFixtures.bytes(path)
        var random = SplitMix(state: UInt64(original.count))
        // The structures live near the start: headers, directories, triage and module tables.
        let span = min(original.count, 0x4000)
        let rounds = original.count > 1 << 20 ? 20 : 100
        for _ in 0..<rounds {
            var bytes = original
            for _ in 0..<4 {
                let offset = Int(random.next() % UInt64(span))
                bytes[offset] = UInt8(truncatingIfNeeded: random.next())
            }
            let report = VerifyFixtures.verify(bytes, name: path)
            #expect(!report.checks.isEmpty)
            #expect(report.passed == report.checks.allSatisfy { !$0.required || $0.status == .pass })
        }
    }
}

@Suite("verify: minidump thread records", .ownThread)
struct VerifyThreadRecordTests {
    @Test("a thread stack past the end of the file fails the layout check", arguments: MinidumpFixtures.intact)
    func threadStackPastEnd(path: String) throws {
        var bytes = try VerifyFixtures.bytes(path)
        let directory = Int(VerifyFixtures.get32(bytes, at: 12))
        let count = Int(VerifyFixtures.get32(bytes, at: 8))
        // ThreadListStream (3): a count, then MINIDUMP_THREAD records of 48 bytes; the stack's
        // MINIDUMP_LOCATION_DESCRIPTOR is at +32 (DataSize) and +36 (Rva).
        guard let entry = (0..<count).first(where: { VerifyFixtures.get32(bytes, at: directory + 12 * $0) == 3 }) else { return }
        let rva = Int(VerifyFixtures.get32(bytes, at: directory + 12 * entry + 8))
        guard VerifyFixtures.get32(bytes, at: rva) > 0, VerifyFixtures.get32(bytes, at: rva + 4 + 32) > 0 else { return }
        VerifyFixtures.put32(UInt32(bytes.count + 64), at: rva + 4 + 36, in: &bytes)
        let report = VerifyFixtures.verify(bytes, name: path)
        #expect(!report.passed)
        let layout = try #require(report.check(CheckName.layout))
        #expect(layout.status == .fail && layout.detail.contains("thread 0 stack"), "\(layout.detail)")
    }
}
