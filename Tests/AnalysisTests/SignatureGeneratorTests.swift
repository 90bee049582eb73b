import Analysis
import Foundation
import TestSupport
import Testing

@Suite("SignatureGenerator", .ownThread)
struct SignatureGeneratorTests {
    static func frames(_ functions: [String]) -> [SignatureFrame] {
        functions.map { SignatureFrame(module: "app", function: $0, file: "a.cpp", line: 1) }
    }

    static func lists(irrelevant: String = "", prefix: String = "", sentinel: String = "") throws -> SignatureLists {
        try SignatureLists(irrelevant: irrelevant, prefix: prefix, sentinel: sentinel)
    }

    @Test("irrelevant frames are skipped and named with their pattern")
    func irrelevant() {
        let result = SignatureGenerator().generate(frames: Self.frames(["raise", "abort", "app::fail(int)", "main"]))
        #expect(result.signature == "app::fail")
        #expect(result.frames.map(\.role) == [.irrelevant, .irrelevant, .last, .notReached])
        #expect(result.frames[0].pattern == "raise$")
        #expect(result.frames[1].pattern == "abort$")
        #expect(result.usedFrames.map(\.index) == [2])
    }

    @Test("glibc abort path")
    func glibcAbort() {
        let result = SignatureGenerator().generate(
            frames: Self.frames([
                "__pthread_kill_implementation", "__pthread_kill_internal", "__GI___pthread_kill", "__GI_raise",
                "__GI_abort", "__assert_fail_base", "__assert_fail", "Parser::check(char const*)", "main",
            ]))
        #expect(result.signature == "Parser::check")
    }

    @Test("Windows waits and exception raising")
    func windowsNoise() {
        let result = SignatureGenerator().generate(
            frames: Self.frames([
                "KiFastSystemCallRet", "NtWaitForSingleObject", "WaitForSingleObjectEx", "RaiseException",
                "_CxxThrowException", "Widget::Load(std::wstring const&)", "wmain",
            ]))
        #expect(result.signature == "Widget::Load")
    }

    @Test("prefix frames join and the walk goes on")
    func prefix() {
        let result = SignatureGenerator().generate(
            frames: Self.frames(["__memcpy_avx_unaligned", "Buffer::Append(char const*, unsigned long)", "main"]))
        #expect(result.signature == "__memcpy_avx_unaligned | Buffer::Append")
        #expect(result.frames.map(\.role) == [.prefix, .last, .notReached])
        let heap = SignatureGenerator().generate(
            frames: Self.frames(["RtlReportCriticalFailure", "RtlpHeapHandleError", "RtlFreeHeap", "free", "Cache::Drop()"]))
        #expect(heap.signature == "RtlReportCriticalFailure | RtlpHeapHandleError | RtlFreeHeap | free | Cache::Drop")
    }

    @Test("a Rust panic keeps the failed unwrap and its caller")
    func rustPanic() {
        let frames = [
            "std::panicking::begin_panic_handler::{{closure}}", "std::sys_common::backtrace::__rust_end_short_backtrace",
            "rust_begin_unwind", "core::panicking::panic_fmt", "core::result::unwrap_failed", "myapp::config::load",
            "myapp::main",
        ].map { SignatureFrame(module: "myapp", function: $0, file: "x.rs", line: 1) }
        #expect(SignatureGenerator().generate(frames: frames).signature == "core::result::unwrap_failed | myapp::config::load")
    }

    @Test("a sentinel frame starts the signature")
    func sentinel() {
        let result = SignatureGenerator().generate(
            frames: Self.frames(["KiFastSystemCallRet", "abort", "_purecall", "Base::Call()", "main"]))
        #expect(result.signature == "_purecall | Base::Call")
        #expect(result.frames.map(\.role) == [.beforeSentinel, .beforeSentinel, .prefix, .last, .notReached])
        #expect(result.notes.contains { $0.contains("sentinel") })
    }

    @Test("frames in a DLL stand for the module, and a repeat is skipped")
    func dlls() throws {
        let lists = try Self.lists(irrelevant: "ntdll\\.dll", prefix: "foo\\.dll")
        let frames = [
            SignatureFrame(module: "ntdll.dll", moduleOffset: 0x10, offset: 0x7700_0010),
            SignatureFrame(module: "foo.dll", moduleOffset: 0x10, offset: 0x1000_0010),
            SignatureFrame(module: "foo.dll", moduleOffset: 0x20, offset: 0x1000_0020),
            SignatureFrame(module: "app.exe", function: "App::Run()", file: "a.cpp", line: 4),
        ]
        let result = SignatureGenerator(lists: lists).generate(frames: frames, pointerSize: 4)
        #expect(result.signature == "foo.dll | App::Run")
        #expect(result.frames.map(\.role) == [.irrelevant, .prefix, .repeatedModule, .last])
        #expect(result.frames[1].normalized == "foo.dll@0x00000010")
        // A DLL frame that is not a prefix ends the signature as the module name.
        let plain = SignatureGenerator().generate(frames: Array(frames[1...]), pointerSize: 4)
        #expect(plain.signature == "foo.dll")
    }

    @Test("longer than 255 characters: cut to 252 and `...`")
    func truncation() throws {
        let lists = try Self.lists(prefix: "f")
        let part = String(repeating: "f", count: 20)
        let long = SignatureGenerator(lists: lists).generate(frames: Self.frames(Array(repeating: part, count: 30) + ["end"]))
        #expect(long.truncated)
        #expect(long.signature.unicodeScalars.count == 255)
        #expect(long.signature.hasSuffix("..."))
        #expect(long.signature.hasPrefix(part + " | " + part))
        // Exactly 255 characters stays as it is: 11 parts of 20, 11 separators and "g2".
        let exact = SignatureGenerator(lists: lists).generate(
            frames: Self.frames(Array(repeating: part, count: 11) + ["g2"]))
        #expect(exact.signature.unicodeScalars.count == 255)
        #expect(!exact.truncated)
    }

    @Test("every frame irrelevant, or none at all")
    func empty() {
        let irrelevant = SignatureGenerator().generate(frames: Self.frames(["abort", "raise"]))
        #expect(irrelevant.signature == "abort")
        #expect(!irrelevant.notes.isEmpty)
        #expect(SignatureGenerator().generate(frames: []).signature == SignatureGenerator.noFrames)
    }

    @Test("patterns match at the start of a frame; `$` anchors the end")
    func anchoring() throws {
        let abort = try SignaturePattern("abort$")
        #expect(abort.matches("abort"))
        #expect(!abort.matches("abort_handler"))
        #expect(!abort.matches("my_abort"))
        let dll = try SignaturePattern("ntdll\\.dll")
        #expect(dll.matches("ntdll.dll@0x1234"))
    }

    @Test("list text: comments, blank lines, whitespace; bad patterns say where")
    func parsing() throws {
        let patterns = try SignatureLists.parse("# comment\n\n  abort$  \n\t# indented comment\nraise\n", list: "test")
        #expect(patterns.map(\.source) == ["abort$", "raise"])
        #expect(throws: SignatureListError.self) { try SignatureLists.parse("ok\nbad(\n", list: "prefix") }
        do {
            _ = try SignatureLists.parse("ok\nbad(\n", list: "prefix")
        } catch {
            #expect(error.list == "prefix")
            #expect(error.line == 2)
            #expect(error.pattern == "bad(")
            #expect(error.description.hasPrefix("prefix line 2: invalid pattern bad("))
        }
    }

    @Test("a list file replaces the built-in list")
    func files() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siglists-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("irrelevant.txt")
        try Data("# ours\nLogger::Flush$\n".utf8).write(to: file)
        let lists = try SignatureLists.loading(irrelevant: file.path)
        #expect(lists.irrelevant.map(\.source) == ["Logger::Flush$"])
        #expect(lists.prefix == SignatureLists.defaults.prefix)
        // `abort` is no longer irrelevant; Logger::Flush is.
        let result = SignatureGenerator(lists: lists).generate(frames: Self.frames(["Logger::Flush()", "abort", "main"]))
        #expect(result.signature == "abort")
        #expect(throws: (any Error).self) { try SignatureLists.loading(prefix: folder.appendingPathComponent("none").path) }
    }

    @Test("the built-in lists compile and are not empty")
    func defaults() {
        let lists = SignatureLists.defaults
        #expect(lists.irrelevant.count > 40)
        #expect(lists.prefix.count > 40)
        #expect(!lists.sentinel.isEmpty)
        #expect(lists.lineNumbers.isEmpty)
    }

    @Test("the result encodes as JSON with snake_case roles")
    func json() throws {
        let result = SignatureGenerator().generate(frames: Self.frames(["abort", "f()"]))
        let text = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        #expect(text.contains("\"signature\":\"f\""))
        #expect(text.contains("\"role\":\"irrelevant\""))
        #expect(text.contains("\"role\":\"last\""))
    }
}
