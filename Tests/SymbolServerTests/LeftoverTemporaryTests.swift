import Foundation
import HummingbirdTesting
import SymbolServer
import TestSupport
import Testing

@Suite("Files a killed publisher leaves behind", .ownThread)
struct LeftoverTemporaryTests {
    @Test("a temporary file next to a stored file is never served")
    func temporaryFilesAreNotServed() async throws {
        let root = try ServerFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = "a.pdb/0123456789ABCDEF0123456789ABCDEF1"
        try ServerFixtures.write(Array("whole".utf8), at: folder + "/a.pdb", in: root)
        try ServerFixtures.write(Array("half".utf8), at: folder + "/a.pdb.tmp-4242-17", in: root)
        try await ServerFixtures.server([root]).test(.router) { client in
            try await client.execute(uri: "/\(folder)/a.pdb", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/\(folder)/a.pdb.tmp-4242-17", method: .get) { #expect($0.status == .notFound) }
        }
    }
}
