import Foundation
import SymbolClient
import SymbolStore
import TestSupport
import Testing

/// A transport that has nothing, and counts the requests it was asked.
final class EmptyTransport: SymbolTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var asked = 0
    let remembers: Bool

    init(remembers: Bool) { self.remembers = remembers }

    var requests: Int { lock.withLock { asked } }

    func get(_ url: String, to path: String, configuration: FetchConfiguration) async throws(TransportError) {
        lock.withLock { asked += 1 }
        throw .notFound
    }

    func shutdown() async {}

    func remembersMisses(on url: String) -> Bool { remembers }
}

@Suite("Misses a transport asks not to be remembered", .ownThread)
struct MissMemoryTests {
    @Test(arguments: [true, false])
    func aSecondFetchAsksAgainOnlyWhenMissesAreForgotten(remembers: Bool) async throws {
        let cache = try Scratch.folder("cache")
        let transport = EmptyTransport(remembers: remembers)
        var configuration = FetchConfiguration(defaultDownstream: cache + "/default", attempts: 1, progress: nil)
        configuration.transport = { _ in transport }
        let key = StoreKey(fileName: "app.pdb", index: "00112233445566778899AABBCCDDEEFF1", storedName: "app.pdb")
        let path = "srv*\(cache)*s3://bucket/symbols"
        for _ in 0..<2 {
            let outcome = try await fetchOnce(key, path: path, configuration: configuration)
            guard case .missing = outcome else {
                Issue.record("expected a miss, got \(outcome)")
                return
            }
        }
        // The file, its compressed form and its file.ptr, asked once or twice.
        #expect(transport.requests == (remembers ? 3 : 6))
    }
}
