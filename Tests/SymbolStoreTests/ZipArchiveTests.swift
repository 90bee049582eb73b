import BinaryReading
import Foundation
import SymbolStore
import TestSupport
import Testing

/// `ZipArchive` against archives written by Python's zipfile (the venv's interpreter), and damaged copies.
@Suite("ZipArchive", .ownThread)
struct ZipArchiveTests {
    /// Writes an archive with Python's zipfile: `members` as (name, method, contents); returns its bytes.
    static func pythonZip(_ members: [(String, String, [UInt8])], comment: String = "") throws -> [UInt8] {
        let folder = try makeTemporaryFolder("zip")
        defer { removeFolder(folder) }
        var lines = ["import zipfile, sys", "z = zipfile.ZipFile(sys.argv[1], 'w')"]
        for (index, (name, method, contents)) in members.enumerated() {
            let path = "\(folder)/member\(index)"
            try Data(contents).write(to: URL(fileURLWithPath: path))
            lines.append("z.write(\(pythonString(path)), \(pythonString(name)), compress_type=zipfile.\(method))")
        }
        lines.append("z.comment = \(pythonString(comment)).encode()")
        lines.append("z.close()")
        let result = try runProcess(TestEnvironment.python, ["-c", lines.joined(separator: "\n"), folder + "/out.zip"])
        #expect(result.status == 0, "\(result.stderrText)")
        return readBytes(folder + "/out.zip")
    }

    static func pythonString(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "\\'") + "'" }

    static func archive(_ bytes: [UInt8]) throws(ParseError) -> ZipArchive {
        try ZipArchive(bytes: MappedFile(bytes: bytes).bytes)
    }

    static let text = Array(
        String(repeating: "MODULE windows x86 5A9832E5287241C1838ED98914E9B7FF1 test_app.pdb\n", count: 200).utf8)
    static let binary: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }

    @Test func readsStoredAndDeflatedMembers() throws {
        let bytes = try Self.pythonZip(
            [
                ("a/text.sym", "ZIP_DEFLATED", Self.text), ("binary.bin", "ZIP_STORED", Self.binary),
                ("empty", "ZIP_DEFLATED", []),
            ],
            comment: "built by a test")
        #expect(ZipArchive.looksLikeZip(bytes))
        let archive = try Self.archive(bytes)
        #expect(archive.entries.map(\.name) == ["a/text.sym", "binary.bin", "empty"])
        #expect(archive.entries.map(\.method) == [8, 0, 8])
        #expect(try archive.contents(of: archive.entries[0]) == Self.text)
        #expect(try archive.contents(of: archive.entries[1]) == Self.binary)
        #expect(try archive.contents(of: archive.entries[2]) == [])
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let bytes = try Self.pythonZip([("text.sym", "ZIP_DEFLATED", Self.text), ("binary.bin", "ZIP_STORED", Self.binary)])
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            if let archive = try? Self.archive(prefix) {
                // A prefix that still parses (never the case without the end record) must not yield wrong bytes.
                for entry in archive.entries { _ = try? archive.contents(of: entry) }
            }
        }
        #expect(throws: ParseError.self) { try Self.archive(Array(bytes.prefix(bytes.count - 1))) }
    }

    @Test func damagedDataFailsItsChecksum() throws {
        var bytes = try Self.pythonZip([("binary.bin", "ZIP_STORED", Self.binary)])
        bytes[30 + "binary.bin".utf8.count + 10] ^= 0x01
        let archive = try Self.archive(bytes)
        let error = #expect(throws: ParseError.self) { try archive.contents(of: archive.entries[0]) }
        #expect(error?.field == "crc-32")
    }

    @Test func unsupportedMethodsAndEncryptionAreRefused() throws {
        let bzip = try Self.pythonZip([("text.sym", "ZIP_BZIP2", Self.text)])
        #expect(throws: ParseError.self) { try Self.archive(bzip) }
        var encrypted = try Self.pythonZip([("text.sym", "ZIP_STORED", Self.text)])
        // Set bit 0 of the central header's general purpose flag (central header + 8).
        let central = try #require(Self.find([0x50, 0x4B, 0x01, 0x02], in: encrypted))
        encrypted[central + 8] |= 1
        let error = #expect(throws: ParseError.self) { try Self.archive(encrypted) }
        #expect(error?.description.contains("encrypted") == true)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }
}
