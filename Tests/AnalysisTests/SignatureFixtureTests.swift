import Analysis
import Foundation
import TestSupport
import Testing

/// Signatures of crashing threads as the stackwalkers' golden outputs give them.
@Suite("SignatureGenerator on golden stack traces", .ownThread)
struct SignatureFixtureTests {
    /// The crashing thread of a minidump-stackwalk JSON snapshot, inline frames first as the
    /// human output lists them.
    static func frames(snapshot: String) throws -> [SignatureFrame] {
        let json = try Fixtures.snapshotJSON(snapshot)
        let thread = try #require(json["crashing_thread"] as? [String: Any])
        let frames = try #require(thread["frames"] as? [[String: Any]])
        var out = [SignatureFrame]()
        for frame in frames {
            let offset = hexValue(frame["offset"]) ?? 0
            for inline in frame["inlines"] as? [[String: Any]] ?? [] {
                out.append(
                    SignatureFrame(
                        module: frame["module"] as? String, function: inline["function"] as? String,
                        file: inline["file"] as? String, line: inline["line"] as? Int,
                        moduleOffset: hexValue(frame["module_offset"]), offset: offset, inlined: true))
            }
            out.append(
                SignatureFrame(
                    module: frame["module"] as? String, function: frame["function"] as? String,
                    file: frame["file"] as? String, line: frame["line"] as? Int,
                    moduleOffset: hexValue(frame["module_offset"]), offset: offset))
        }
        return out
    }

    /// A frame from the fields of a Breakpad machine-readable thread line.
    static func machineReadableFrame(_ fields: [String]) -> SignatureFrame {
        let module: String? = fields[2].isEmpty ? nil : fields[2]
        let function: String? = fields[3].isEmpty ? nil : fields[3]
        let file: String? = fields[4].isEmpty ? nil : fields[4]
        return SignatureFrame(module: module, function: function, file: file, line: Int(fields[5]))
    }

    static func hexValue(_ value: Any?) -> UInt64? {
        guard let text = value as? String, text.hasPrefix("0x") else { return nil }
        return UInt64(text.dropFirst(2), radix: 16)
    }

    @Test("test.dmp with symbols: the anonymous-namespace function (json-pretty-symbols snapshot)")
    func testDumpWithSymbols() throws {
        let frames = try Self.frames(snapshot: "test_minidump_stackwalk__json-pretty-symbols.snap")
        #expect(frames.count == 4)
        let result = SignatureGenerator().generate(frames: frames, pointerSize: 4)
        #expect(result.signature == "`anonymous namespace'::CrashFunction")
        #expect(
            result.frames.map(\.normalized) == [
                "`anonymous namespace'::CrashFunction", "main", "__tmainCRTStartup", "kernel32.dll@0x00016fd6",
            ])
    }

    @Test("test.dmp without symbols: the module and offset")
    func testDumpWithoutSymbols() throws {
        let frames = try Self.frames(snapshot: "test_minidump_stackwalk__json-pretty.snap")
        #expect(SignatureGenerator().generate(frames: frames, pointerSize: 4).signature == "test_app.exe@0x0000429e")
    }

    @Test("Breakpad's machine-readable minidump2 stack gives the same signature")
    func breakpadMachineReadable() throws {
        let text = try String(
            contentsOfFile: Fixtures.path("breakpad/src/processor/testdata/minidump2.stackwalk.machine_readable.out"),
            encoding: .utf8)
        // Thread lines: thread|frame|module|function|file|line|offset
        var frames = [SignatureFrame]()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 7, fields[0] == "0" else { continue }
            frames.append(Self.machineReadableFrame(fields))
        }
        #expect(frames.count == 4)
        #expect(SignatureGenerator().generate(frames: frames, pointerSize: 4).signature == "`anonymous namespace'::CrashFunction")
    }

    @Test("the macOS Rust crash: an inlined core::ptr frame joins its caller")
    func macOSInlines() throws {
        let frames = try Self.frames(snapshot: "test_minidump_stackwalk__macos_inlines_json_pretty.snap")
        #expect(frames.first?.inlined == true)
        #expect(frames.first?.function == "core::ptr::write_volatile::<u8>")
        let result = SignatureGenerator().generate(frames: frames)
        #expect(result.signature == "core::ptr::write_volatile::<T> | sadness_generator::raise_segfault")
        #expect(result.frames[0].role == .prefix)
        #expect(result.frames[0].pattern == "core::ptr::")
    }

    @Test("linux-mini.dmp without symbols")
    func linux() throws {
        let frames = try Self.frames(snapshot: "test_minidump_stackwalk__linux_json_pretty.snap")
        #expect(SignatureGenerator().generate(frames: frames).signature == "crash@0x0000000000001d72")
    }
}
