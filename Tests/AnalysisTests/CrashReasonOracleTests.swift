import Analysis
import Foundation
import Minidump
import TestSupport
import Testing

/// Cross-checks against the `minidump` Python package, an independent reader: the raw exception
/// record of every fixture dump, the crash address rule applied to its values, and the
/// `EXCEPTION_*` and signal names of its `ExceptionCode` enum.
@Suite("CrashReason against the minidump Python package", .ownThread)
struct CrashReasonOracleTests {
    /// Prints, per dump, the exception record and SystemInfo as the package reads them.
    ///
    /// The package rejects stream types it does not know (Breakpad's, Crashpad's, Wine's 0xFFF0),
    /// so their directory entries are zeroed in a temporary copy first.
    static let script = #"""
        import sys, json, struct, tempfile, os, logging
        logging.disable(logging.CRITICAL)
        from minidump.minidumpfile import MinidumpFile
        from minidump.constants import MINIDUMP_STREAM_TYPE
        known = {t.value for t in MINIDUMP_STREAM_TYPE}
        out = {}
        for path in sys.argv[1:]:
            data = bytearray(open(path, 'rb').read())
            count, rva = struct.unpack_from('<II', data, 8)
            for i in range(count):
                t, = struct.unpack_from('<I', data, rva + 12 * i)
                if t not in known:
                    struct.pack_into('<I', data, rva + 12 * i, 0)
            with tempfile.NamedTemporaryFile(suffix='.dmp', delete=False) as f:
                f.write(data)
                copy = f.name
            try:
                m = MinidumpFile.parse(copy)
            except Exception as error:
                out[path] = {'error': str(error)}
                continue
            finally:
                os.unlink(copy)
            entry = {}
            if m.exception is not None and m.exception.exception_records:
                r = m.exception.exception_records[0].ExceptionRecord
                entry['code'] = r.ExceptionCode_raw
                entry['flags'] = r.ExceptionFlags
                entry['address'] = r.ExceptionAddress
                entry['parameters'] = list(r.ExceptionInformation[:r.NumberParameters])
            if m.sysinfo is not None:
                entry['arch'] = int(getattr(m.sysinfo.ProcessorArchitecture, 'value', m.sysinfo.ProcessorArchitecture))
                entry['platform'] = int(getattr(m.sysinfo.PlatformId, 'value', m.sysinfo.PlatformId))
            out[path] = entry
        from minidump.streams.ExceptionStream import ExceptionCode
        out['names'] = {c.name: c.value for c in ExceptionCode if isinstance(c.value, int)}
        print(json.dumps(out))
        """#

    struct Entry: Decodable {
        var error: String?
        var code: UInt32?
        var flags: UInt32?
        var address: UInt64?
        var parameters: [UInt64]?
        var arch: UInt16?
        var platform: UInt32?
    }

    static func oracle(_ paths: [String]) throws -> (entries: [String: Entry], names: [String: UInt32]) {
        let result = try runProcess(TestEnvironment.python, ["-c", script] + paths)
        try #require(result.status == 0, "oracle failed: \(result.stderrText)")
        let object = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        let names = try #require(object["names"] as? [String: UInt32])
        var entries = [String: Entry]()
        for path in paths {
            let value = try #require(object[path])
            entries[path] = try JSONDecoder().decode(Entry.self, from: JSONSerialization.data(withJSONObject: value))
        }
        return (entries, names)
    }

    @Test("exception records and crash addresses of every fixture dump")
    func records() throws {
        let paths = Fixtures.minidumps
        try #require(paths.count >= 50, "shared fixtures missing or incomplete")
        let (entries, _) = try Self.oracle(paths)
        var compared = 0
        for path in paths {
            let name = Fixtures.name(path)
            let entry = try #require(entries[path])
            let dump = try MinidumpFile(path: path)
            let exception = try dump.stream(ExceptionStream.self)
            if let error = entry.error {
                // The package cannot read every writer's dumps; those are checked elsewhere.
                Issue.record("\(name): the oracle could not read it (\(error))")
                continue
            }
            guard let code = entry.code, let flags = entry.flags, let address = entry.address,
                let parameters = entry.parameters
            else {
                // The package lists no record for simple-crashpad.dmp, whose exception code is 0;
                // any other record it misses is a disagreement.
                if let exception {
                    #expect(exception.exceptionRecord.exceptionCode == 0, "\(name): the oracle sees no exception")
                }
                continue
            }
            let record = try #require(exception?.exceptionRecord, "\(name): no exception stream")
            #expect(record.exceptionCode == code, "\(name)")
            #expect(record.exceptionFlags == flags, "\(name)")
            #expect(record.exceptionAddress == address, "\(name)")
            #expect(record.parameters == parameters, "\(name)")

            // The address rule, applied to the oracle's values.
            let architecture = ProcessorArchitecture(rawValue: try #require(entry.arch))
            let platform = CrashPlatform(PlatformID(rawValue: try #require(entry.platform)))
            var expected = address
            if platform == .windows, code == 0xC000_0005 || code == 0xC000_0006, parameters.count >= 2 {
                expected = parameters[1]
            }
            if architecture.pointerSize == 4 { expected &= 0xFFFF_FFFF }
            let crash = try #require(try CrashReason(minidump: dump))
            #expect(crash.address == expected, "\(name)")
            compared += 1
        }
        #expect(compared >= 45)
    }

    @Test("EXCEPTION_* and signal names agree with the package's ExceptionCode enum")
    func names() throws {
        let (_, names) = try Self.oracle([])
        var checked = 0
        for (name, value) in names {
            if value >= 0x8000_0000 {
                // WinBase.h spells 0xC000008C EXCEPTION_ARRAY_BOUNDS_EXCEEDED; minidump-stackwalk
                // prints EXCEPTION_BOUNDS_EXCEEDED, and so do we.
                let expected = value == 0xC000_008C ? "EXCEPTION_BOUNDS_EXCEEDED" : name
                #expect(WindowsExceptionNames.exceptionCodes[value] == expected, "\(name)")
                checked += 1
            } else if name.hasPrefix("EXCEPTION_SIG") {
                // The package spells 6 SIGIOT (its alias) and 18 SIGCONTV.
                guard value != 6, value != 18 else { continue }
                #expect(LinuxSignalNames.signals[value] == String(name.dropFirst("EXCEPTION_".count)), "\(name)")
                checked += 1
            }
        }
        #expect(checked >= 45)
    }
}
