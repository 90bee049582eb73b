import Foundation
import HummingbirdTesting
import SymbolServer
import TestSupport
import Testing

@Suite("Last-Modified dates", .ownThread)
struct HTTPDateTests {
    @Test(
        "Last-Modified is an IMF-fixdate in GMT",
        arguments: [
            (1_500_000_000, "Fri, 14 Jul 2017 02:40:00 GMT"), (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (1_709_210_096, "Thu, 29 Feb 2024 12:34:56 GMT"),
        ])
    func lastModified(seconds: Int, expected: String) async throws {
        let root = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = "a.pdb/0123456789ABCDEF0123456789ABCDEF1/a.pdb"
        try ServerFixtures.write(Array("x".utf8), at: path, in: root)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: Double(seconds))], ofItemAtPath: root + "/" + path)
        try await ServerFixtures.server([root]).test(.router) { client in
            try await client.execute(uri: "/" + path, method: .head) { response in
                #expect(response.headers[.lastModified] == expected)
            }
        }
    }
}
