import Foundation
import TestSupport
import Testing

@testable import CrashService

/// `CrashDatabase.withExclusiveLock`: bodies of one lock never overlap, across tasks and database handles
/// (which stand for processes).
@Suite("Exclusive locks through the database", .serialized, .ownThread)
struct ExclusiveLockTests {
    /// Counts the bodies running at once.
    actor Overlap {
        var running = 0
        var most = 0
        func enter() {
            running += 1
            most = max(most, running)
        }
        func leave() { running -= 1 }
    }

    /// Runs 12 bodies spread over `databases` at once; returns the most that ran together.
    static func mostAtOnce(_ databases: [any CrashDatabase]) async throws -> Int {
        let overlap = Overlap()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await databases[index % databases.count].withExclusiveLock(.symbolStore) {
                        await overlap.enter()
                        try await Task.sleep(for: .milliseconds(15))
                        await overlap.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        return await overlap.most
    }

    @Test func sqliteHandlesOfOneFileTakeTurns() async throws {
        let folder = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let databases = try (0..<2).map { _ in try SQLiteCrashDatabase(path: folder + "/postmortem.sqlite") }
        #expect(try await Self.mostAtOnce(databases) == 1)
    }

    @Test func postgresClientsOfOneServerTakeTurns() async throws {
        let most = try await PostgresDatabaseTests.withDatabase { database, server in
            let other = try PostgresCrashDatabase(url: server.url, logger: ServiceFixtures.quietLogger)
            return try await other.withRunning { try await Self.mostAtOnce([database, other]) }
        }
        #expect(most == 1)
    }
}
