import BinaryReading
import Foundation
import Minidump
import TestSupport
import Testing

/// Compares thread contexts with the `minidump` package from PyPI (an independent reader of
/// x86 and AMD64 `CONTEXT`s).
@Suite("Thread contexts against the Python minidump package", .ownThread)
struct ContextOracleTests {
    /// Prints one JSON line per dump: each thread's id, ip, sp and fp as the oracle reads them.
    static let script = """
        import sys, json, logging
        logging.disable(logging.CRITICAL)  # it logs (harmless) PEB lookups that fail
        from minidump.minidumpfile import MinidumpFile
        for path in sys.argv[1:]:
            try:
                mf = MinidumpFile.parse(path)
            except Exception as e:
                print(json.dumps({"file": path, "error": repr(e)[:300]}))
                continue
            threads = []
            for t in (mf.threads.threads if mf.threads is not None else []):
                c = t.ContextObject
                if c is not None and hasattr(c, "Rip"):
                    threads.append({"tid": t.ThreadId, "ip": c.Rip, "sp": c.Rsp, "fp": c.Rbp})
                elif c is not None and hasattr(c, "Eip"):
                    threads.append({"tid": t.ThreadId, "ip": c.Eip, "sp": c.Esp, "fp": c.Ebp})
                else:
                    threads.append({"tid": t.ThreadId})
            print(json.dumps({"file": path, "threads": threads}))
        """

    /// Dumps the oracle cannot read correctly, and why. Each is checked to still fail in the oracle,
    /// so the list cannot hide a dump that the oracle could compare.
    static let oracleCannotRead: [String: String] = [
        // Wine writes its private stream type 0xFFF0; the package rejects unknown stream types.
        "generated/dumps/x64-dll-inproc-cv.dmp": "65520 is not a valid MINIDUMP_STREAM_TYPE",
        "generated/dumps/x64-null-aedebug-cv.dmp": "65520 is not a valid MINIDUMP_STREAM_TYPE",
        "generated/dumps/x64-null-aedebug.dmp": "65520 is not a valid MINIDUMP_STREAM_TYPE",
        // Malformed on purpose (rust-minidump's tests): an unknown stream type 77.
        "rust-minidump/testdata/invalid-record-count.dmp": "77 is not a valid MINIDUMP_STREAM_TYPE",
    ]

    /// Dumps the oracle reads wrongly: symbolic's crash_macos.dmp pads its thread list with 4 bytes
    /// after the count, which the package does not skip, so it reads thread id 0 and garbage registers.
    static let oracleMisreads: Set<String> = ["symbolic/py/tests/res/minidump/crash_macos.dmp"]

    struct OracleThread: Decodable {
        var tid: UInt32
        var ip: UInt64?
        var sp: UInt64?
        var fp: UInt64?
    }

    struct OracleDump: Decodable {
        var file: String
        var error: String?
        var threads: [OracleThread]?
    }

    @Test("ip, sp and fp of every thread match the oracle")
    func matchesOracle() throws {
        let dumps = ContextFixtures.dumps
        try #require(!dumps.isEmpty, "no fixture dumps")
        // A missing interpreter makes runProcess throw: the test fails, it is never skipped.
        let result = try runProcess(TestEnvironment.python, ["-c", Self.script] + dumps)
        try #require(result.status == 0, "oracle failed: \(result.stderrText)")
        let answers = try result.stdoutText.split(separator: "\n").map {
            try JSONDecoder().decode(OracleDump.self, from: Data($0.utf8))
        }
        try #require(answers.count == dumps.count, "oracle answered for \(answers.count) of \(dumps.count) dumps")

        var compared = 0
        var threadsCompared = 0
        for answer in answers {
            let name = ContextFixtures.name(answer.file)
            if let reason = Self.oracleCannotRead[name] {
                #expect(answer.error?.contains(reason) == true, "\(name): oracle no longer fails with \(reason)")
                continue
            }
            let oracleThreads = try #require(answer.threads, "\(name): oracle error \(answer.error ?? "")")
            let ours = try ContextFixtures.decode(path: answer.file)
            if Self.oracleMisreads.contains(name) {
                #expect(oracleThreads.map(\.tid) != ours.threads.map(\.threadId), "\(name): oracle now reads it; compare it")
                continue
            }
            #expect(oracleThreads.map(\.tid) == ours.threads.map(\.threadId), "\(name): thread ids differ")
            for (oracle, mine) in zip(oracleThreads, ours.threads) {
                let context = mine.context
                #expect(oracle.ip == context.instructionPointer, "\(name) thread \(oracle.tid): ip")
                #expect(oracle.sp == context.stackPointer, "\(name) thread \(oracle.tid): sp")
                #expect(oracle.fp == context.framePointer, "\(name) thread \(oracle.tid): fp")
                threadsCompared += 1
            }
            compared += 1
        }
        // 63 minidumps today: 4 the oracle cannot read, 1 it misreads; 58 compared (2 of them have no threads).
        #expect(compared >= 58, "compared only \(compared) dumps")
        #expect(threadsCompared >= 108, "compared only \(threadsCompared) threads")
    }
}
