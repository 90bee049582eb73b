import Foundation
import TestSupport
import Testing

@testable import Analysis

/// The built-in lists compile lazily and turn frames away by their literal prefix: both must leave
/// the answers exactly as compiling every pattern and running it would give them.
@Suite("Signature pattern prefilter", .ownThread)
struct SignaturePatternPrefilterTests {
    @Test func everyBuiltInPatternCompiles() throws {
        _ = try SignatureLists(
            irrelevant: SignatureLists.defaultIrrelevant, prefix: SignatureLists.defaultPrefix,
            sentinel: SignatureLists.defaultSentinel)
    }

    @Test func literalPrefixes() {
        #expect(SignaturePattern.literalPrefix(of: "KiFastSystemCallRet") == "KiFastSystemCallRet")
        #expect(SignaturePattern.literalPrefix(of: "std::panicking::.*") == "std::panicking::")
        #expect(SignaturePattern.literalPrefix(of: "abcd?e") == "abc")
        #expect(SignaturePattern.literalPrefix(of: "ab*") == "a")
        #expect(SignaturePattern.literalPrefix(of: "a{2}") == "")
        #expect(SignaturePattern.literalPrefix(of: "foo|bar") == "")
        #expect(SignaturePattern.literalPrefix(of: "(?i)foo") == "")
        #expect(SignaturePattern.literalPrefix(of: "\\\\w+") == "")
    }

    @Test("the prefilter never turns away a frame the expression matches")
    func prefilterAgreesWithTheExpressions() throws {
        let lists = SignatureLists.defaults
        let patterns = lists.irrelevant + lists.prefix + lists.sentinel
        // Frames built from the patterns themselves (their letters, with and without what follows),
        // and ordinary frames.
        var frames = patterns.map { $0.source.filter { $0.isLetter || $0.isNumber || $0 == ":" || $0 == "_" } }
        frames += frames.map { $0 + "::inner(int)" }
        frames += [
            "main", "KiFastSystemCallRet", "std::panicking::begin_panic", "abort", "__GI_raise", "memcpy", "malloc",
            "operator new",
        ]
        for pattern in patterns {
            let regex = try SignatureRegex(pattern.source)
            for frame in frames {
                let expected = regex.matchesPrefix(frame)
                #expect(pattern.matches(frame) == expected, "\(pattern.source) on \(frame)")
            }
        }
    }
}
