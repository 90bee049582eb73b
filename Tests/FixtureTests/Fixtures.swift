import Foundation
import TestSupport

/// The minidumps (`MDMP`) among the shared fixtures.
enum MinidumpFixtures {
    /// Every fixture file that starts with `MDMP`, as paths; fails loudly (empty) when fixtures are absent.
    static let all: [String] = {
        guard TestEnvironment.hasSharedFixtures else { return [] }
        return TestEnvironment.sharedFiles(suffixes: [".dmp"]).filter { path in
            guard let handle = FileHandle(forReadingAtPath: path) else { return false }
            defer { try? handle.close() }
            return handle.readData(ofLength: 4) == Data("MDMP".utf8)
        }
    }()

    /// Dumps made invalid on purpose by their owners (rust-minidump's fuzz inputs).
    static let deliberatelyInvalid: Set<String> = ["invalid-range.dmp", "invalid-record-count.dmp"]

    /// Intact dumps: all but the deliberately invalid ones.
    static var intact: [String] {
        all.filter { !deliberatelyInvalid.contains(URL(fileURLWithPath: $0).lastPathComponent) }
    }

    /// A short name for test output: the path below the fixtures folder.
    static func name(_ path: String) -> String {
        path.replacingOccurrences(of: TestEnvironment.sharedFixtures.path + "/", with: "")
    }
}
