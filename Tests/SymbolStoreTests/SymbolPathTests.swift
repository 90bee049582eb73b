import TestSupport
import Testing

@testable import SymbolStore

@Suite(.ownThread) struct SymbolPathTests {
    typealias Entry = SymbolPath.Entry
    typealias Server = SymbolPath.Server

    static let microsoft = "https://msdl.microsoft.com/download/symbols"

    @Test(arguments: [
        (
            "srv*C:\\symbols*https://msdl.microsoft.com/download/symbols",
            [Entry.server(Server(downstream: [.directory("C:\\symbols")], upstream: .url(microsoft)))]
        ),
        (
            "SRV*c:\\localsymbols*http://msdl.microsoft.com/download/symbols",
            [
                .server(
                    Server(
                        downstream: [.directory("c:\\localsymbols")], upstream: .url("http://msdl.microsoft.com/download/symbols")
                    ))
            ]
        ),
        (
            "symsrv*symsrv.dll*C:\\symbols*https://msdl.microsoft.com/download/symbols",
            [.server(Server(provider: "symsrv.dll", downstream: [.directory("C:\\symbols")], upstream: .url(microsoft)))]
        ),
        (
            "srv**https://msdl.microsoft.com/download/symbols",
            [.server(Server(downstream: [.defaultDownstream], upstream: .url(microsoft)))]
        ),
        (
            "srv*https://msdl.microsoft.com/download/symbols",
            [.server(Server(downstream: [], upstream: .url(microsoft)))]
        ),
        (
            "srv*\\\\buildserver\\symbols",
            [.server(Server(downstream: [], upstream: .directory("\\\\buildserver\\symbols")))]
        ),
        // A cascade: local cache, then a team cache on a share, then the internet.
        (
            "srv*C:\\cache*\\\\team\\symcache*https://msdl.microsoft.com/download/symbols",
            [.server(Server(downstream: [.directory("C:\\cache"), .directory("\\\\team\\symcache")], upstream: .url(microsoft)))]
        ),
        (
            "cache*C:\\MySymbols;\\\\someshare\\symbols",
            [.cache("C:\\MySymbols"), .folder("\\\\someshare\\symbols")]
        ),
        (
            "cache*;srv*https://symbols.mozilla.org/",
            [.cache(nil), .server(Server(downstream: [], upstream: .url("https://symbols.mozilla.org/")))]
        ),
        ("C:\\dir1;;C:\\dir2; ;", [.folder("C:\\dir1"), .folder("C:\\dir2")]),
        (
            ".;srv*/home/me/.cache/symbols*https://symbols.example.com",
            [
                .folder("."),
                .server(
                    Server(downstream: [.directory("/home/me/.cache/symbols")], upstream: .url("https://symbols.example.com"))),
            ]
        ),
        // Folders with spaces, an intermediate share cache, and WinDbg's .symfix form.
        (
            "C:\\Program Files\\My App\\Symbols;srv*c:\\symbols*\\\\server\\symbols*https://msdl.microsoft.com/download/symbols",
            [
                .folder("C:\\Program Files\\My App\\Symbols"),
                .server(
                    Server(downstream: [.directory("c:\\symbols"), .directory("\\\\server\\symbols")], upstream: .url(microsoft))),
            ]
        ),
        (
            "symsrv*SymSrv.dll*C:\\cache*HTTPS://symbols.example.com/store",
            [
                .server(
                    Server(
                        provider: "SymSrv.dll", downstream: [.directory("C:\\cache")],
                        upstream: .url("HTTPS://symbols.example.com/store")))
            ]
        ),
        (
            "srv* C:\\cache * https://x.example/sym ; cache*D:\\c ;E:\\syms",
            [
                .server(Server(downstream: [.directory("C:\\cache")], upstream: .url("https://x.example/sym"))), .cache("D:\\c"),
                .folder("E:\\syms"),
            ]
        ),
        ("", []),
    ])
    func parses(text: String, expected: [Entry]) throws {
        let path = try SymbolPath(parsing: text)
        #expect(path.entries == expected)
        #expect(try SymbolPath(parsing: path.text).entries == expected)
    }

    @Test(arguments: [
        ("C:\\ok;srv*", 6),
        ("srv*C:\\cache*", 0),
        ("a;b;symsrv*", 4),
        ("x;foo*bar", 2),
        ("cache*a*b", 0),
    ])
    func malformed(text: String, position: Int) {
        #expect(throws: SymbolPath.Malformed.self) { try SymbolPath(parsing: text) }
        do {
            _ = try SymbolPath(parsing: text)
        } catch {
            #expect(error.position == position)
        }
    }

    /// Found by fuzzing: a combining mark after `*` forms one grapheme cluster with it.
    @Test(arguments: ["srv*\t\r\u{07AF}/TTTT*TTTT", "srv*\u{07AF}srv**ht*https://x", ";\u{301};srv*a\u{301}*b"])
    func combiningMarksDoNotHideSeparators(text: String) throws {
        let path = try SymbolPath(parsing: text)
        #expect(try SymbolPath(parsing: path.text).text == path.text)
        #expect(path.entries.contains { if case .server = $0 { return true } else { return false } })
    }

    @Test func environmentAltFirst() throws {
        let environment = [
            "_NT_SYMBOL_PATH": "srv*C:\\cache*https://msdl.microsoft.com/download/symbols",
            "_NT_ALT_SYMBOL_PATH": "C:\\private",
            "_NT_EXECUTABLE_IMAGE_PATH": "C:\\images;srv*C:\\cache*https://msdl.microsoft.com/download/symbols",
            "DEBUGINFOD_URLS": "https://debuginfod.debian.net  https://debuginfod.elfutils.org/",
        ]
        let path = try SymbolPath.symbolPath(environment: environment)
        #expect(path.entries.first == .folder("C:\\private"))
        #expect(path.entries.count == 2)
        let images = try SymbolPath.executableImagePath(environment: environment)
        #expect(images.entries.first == .folder("C:\\images"))
        #expect(
            DebuginfodURLs(environment: environment).urls == [
                "https://debuginfod.debian.net", "https://debuginfod.elfutils.org/",
            ])
        #expect(DebuginfodURLs(environment: [:]).urls.isEmpty)
    }
}
