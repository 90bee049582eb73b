import BinaryReading
import Foundation
import TestSupport
import Testing

/// Files read into memory and files mapped give the same bytes; what is not a file is refused.
@Suite("MappedFile", .ownThread)
struct MappedFileTests {
    static func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "postmortem-mapped-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(
        "small files are read, larger ones mapped, with the same bytes",
        arguments: [0, 1, MappedFile.copyThreshold - 1, MappedFile.copyThreshold, MappedFile.copyThreshold + 1, 300_000])
    func sameBytes(size: Int) throws {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let path = try Self.temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try MappedFile(path: path)
        #expect(file.size == size)
        #expect(file.bytes.count == size)
        #expect(file.bytes.array == bytes)
    }

    @Test func aFolderIsNotAFile() throws {
        let error = try #require(throws: ParseError.self) { try MappedFile(path: NSTemporaryDirectory()) }
        #expect(error.description.contains("not a regular file"))
        #expect(throws: ParseError.self) {
            try MappedFile(path: NSTemporaryDirectory() + "postmortem-missing-\(UUID().uuidString)")
        }
    }
}
