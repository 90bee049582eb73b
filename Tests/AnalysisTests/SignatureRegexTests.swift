import Foundation
import TestSupport
import Testing

@testable import Analysis

/// The signature-list engine against Python's `re`, the engine Socorro's lists were written for.
@Suite("Signature regular expressions", .ownThread)
struct SignatureRegexTests {
    /// Patterns exercising every construct the engine accepts, beside the built-in lists.
    static let syntaxPatterns = [
        "a", "abc$", "a.c", "a*", "a+b", "ab?c", "a{2}", "a{2,}", "a{,2}b", "a{1,3}$", "a{2,3}?b", "a*?b", "a+?$",
        "(ab)+$", "(?:ab|cd)*e", "x|y|z", "(a|ab)(c|bcd)$", "[abc]+$", "[^abc]", "[a-z_]+::", "[]a]", "[^]a]+$",
        "[a-]+$", "[-a]+$", "[\\]x]+", "[\\d.]+$", "[\\w-]", "\\d+", "\\D", "\\w+$", "\\W", "\\s", "\\S+", "\\.",
        "\\\\", "\\$", "\\x41", "^abc", "\\Aabc", "abc\\Z", "\\bfoo\\b", "foo\\B", "a{", "a{x}", "a{1,x}", "}", "]",
        "(a*)*b", "(a|b)*c$", "(|a)+$", "()", "a||b", "operator new(\\[\\])?$", "std::sys::.*::abort_internal$",
        "@0x[0-9a-fA-F]{2,}", "libc(-[0-9.]+)?\\.so(\\.[0-9]+)?@", "é+", "[à-ü]+$", "\\w+", "a\\tb", "a$\\n",
    ]

    /// Frames to try every pattern on.
    static func frames(for patterns: [String]) -> [String] {
        var frames = [
            "", "a", "aa", "aaa", "ab", "abc", "abcd", "ac", "abbc", "aac", "b", "e", "cde", "ababe", "abcd", "abbcd",
            "x", "zz", "abc\n", "abc\nd", "a\tb", "A", "foo", "foo bar", "foobar", "foo_bar", "]", "]]a", "-a", "a-",
            "1.2.3", "9", "::", "main", "std::sys::unix::abort_internal", "std::sys::abort_internal", "operator new[]",
            "operator new", "@0x1f", "@0x1", "libc-2.31.so@0x1234", "libc.so.6@0x10", "éé", "àbü", "x{", "a{x}", "a{1,x}",
            "}", "KiFastSystemCallRet", "__GI_raise", "memcpy", "_memcpy_avx", "malloc", "__rust_alloc", "abort",
            "std::panicking::begin_panic", "core::option::Option<T>::unwrap", String(repeating: "a", count: 12) + "c",
        ]
        // Frames built from the patterns' own letters, with and without a tail.
        let built = patterns.map { $0.filter { $0.isLetter || $0.isNumber || $0 == ":" || $0 == "_" || $0 == "." } }
        frames += built + built.map { $0 + "::inner(int)" }
        return frames
    }

    /// Asks Python which of `patterns` compile and which frames each matches at its start.
    static func pythonAnswers(patterns: [String], frames: [String]) throws -> [[Bool]?] {
        let script = """
            import json, re, sys
            request = json.load(sys.stdin)
            answers = []
            for pattern in request["patterns"]:
                try:
                    compiled = re.compile(pattern)
                except re.error:
                    answers.append(None)
                    continue
                answers.append([compiled.match(frame) is not None for frame in request["frames"]])
            json.dump(answers, sys.stdout)
            """
        let input = try JSONSerialization.data(withJSONObject: ["patterns": patterns, "frames": frames])
        let result = try runProcess(TestEnvironment.python, ["-c", script], input: input)
        guard result.status == 0 else { throw ProcessFailure(description: "python failed: \(result.stderrText)") }
        return try JSONDecoder().decode([[Bool]?].self, from: result.stdout)
    }

    @Test("matches exactly where Python's re.match does, on the built-in lists and on every construct")
    func agreesWithPython() throws {
        let lists = SignatureLists.defaults
        let patterns = (lists.irrelevant + lists.prefix + lists.sentinel).map(\.source) + Self.syntaxPatterns
        let frames = Self.frames(for: patterns)
        let answers = try Self.pythonAnswers(patterns: patterns, frames: frames)
        #expect(answers.count == patterns.count)
        var compared = 0
        for (pattern, expected) in zip(patterns, answers) {
            guard let expected else {
                Issue.record("Python refuses \(pattern), which the test expects to be valid")
                continue
            }
            let regex = try SignatureRegex(pattern)
            for (frame, matches) in zip(frames, expected) {
                #expect(regex.matchesPrefix(frame) == matches, "\(pattern) on \(frame.debugDescription)")
                compared += 1
            }
        }
        #expect(compared == patterns.count * frames.count)
    }

    @Test("refuses what Python refuses, and what the engine does not support")
    func refusals() throws {
        let invalidInPython = ["*a", "a**", "(ab", "ab)", "[ab", "a{3,2}", "\\", "+", "?", "{2}", "a|*", "\\q", "[b-a]"]
        let answers = try Self.pythonAnswers(patterns: invalidInPython, frames: [])
        for (pattern, answer) in zip(invalidInPython, answers) {
            #expect(answer == nil, "Python accepts \(pattern)")
            #expect(throws: SignatureRegexError.self, "\(pattern)") { try SignatureRegex(pattern) }
        }
        // Valid Python, but beyond the engine: refused rather than misread.
        for pattern in ["(?=a)", "(?!a)b", "(?<=a)b", "(?P<name>a)", "(?i)abc", "(a)\\1", "a*+", "a{2}+", "\\u0041"] {
            #expect(throws: SignatureRegexError.self, "\(pattern)") { try SignatureRegex(pattern) }
        }
        #expect(throws: SignatureRegexError.self) { try SignatureRegex("(a{1000}){1000}") }
    }

    @Test("a pattern that makes backtracking engines explode is matched without backtracking")
    func noCatastrophicBacktracking() throws {
        let regex = try SignatureRegex("(a*)*(a|aa)*b$")
        let text = String(repeating: "a", count: 5_000)
        #expect(!regex.matchesPrefix(text))
        #expect(regex.matchesPrefix(text + "b"))
    }

    @Test("a list with an unsupported construct is refused with its line")
    func listErrorsNameTheLine() {
        #expect(throws: SignatureListError.self) {
            _ = try SignatureLists.parse("abort$\n(?=lookahead)\n", list: "irrelevant")
        }
        do {
            _ = try SignatureLists.parse("abort$\n\n(?=lookahead)\n", list: "irrelevant")
        } catch {
            #expect(error.line == 3)
            #expect(error.description.contains("irrelevant line 3"))
        }
    }
}
