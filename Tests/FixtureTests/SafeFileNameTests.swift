import Analysis
import Foundation
import TestSupport
import Testing

@Suite("File names from untrusted dumps", .ownThread)
struct SafeFileNameTests {
    @Test(
        "names are cut to one harmless component",
        arguments: [
            (#"C:\Windows\System32\ntdll.dll"#, "ntdll.dll"), ("/usr/lib/libc.so.6", "libc.so.6"), ("..", "module"),
            (#"..\..\..\etc\passwd"#, "passwd"), ("../../x.dll", "x.dll"), ("", "module"), ("...", "module"),
            ("NUL", "_NUL"), ("con.dll", "_con.dll"), ("COM1.sys", "_COM1.sys"), ("a:b*c?.dll", "a_b_c_.dll"),
            ("evil\u{0}name.dll", "evil_name.dll"), ("trailing. ", "trailing"), (#"C:\dir\"#, "dir"),
        ])
    func sanitize(input: String, expected: String) {
        #expect(SafeFileName.sanitize(input) == expected)
    }

    @Test("writing replaces a symbolic link instead of following it out of the folder")
    func symlinkNotFollowed() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-safe-\(UUID().uuidString)")
        let outside = root.appendingPathComponent("outside.txt")
        let folder = root.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Data("keep".utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("x.dll").path, withDestinationPath: outside.path)
        let written = try SafeFileName.writeAtomically([1, 2, 3], folder: folder.path, name: #"..\x.dll"#)
        #expect(written == folder.appendingPathComponent("x.dll").path)
        #expect(try Data(contentsOf: outside) == Data("keep".utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == Data([1, 2, 3]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["x.dll"])
    }
}
