import Foundation
import Minidump
import TestSupport
import Testing

/// The shared fixtures this suite reads, and helpers for their golden files.
enum Fixtures {
    /// The full path of a shared fixture; a missing fixtures folder is reported once on stderr
    /// by `TestEnvironment.hasSharedFixtures`, and the open that follows fails the test.
    static func path(_ relative: String) -> String {
        _ = TestEnvironment.hasSharedFixtures
        return TestEnvironment.shared(relative)
    }

    /// Opens a shared fixture dump.
    static func dump(_ relative: String) throws -> MinidumpFile {
        try MinidumpFile(path: path(relative))
    }

    /// Every intact minidump among the shared fixtures (those starting with `MDMP`, less
    /// rust-minidump's two deliberately broken ones).
    static let minidumps: [String] = {
        guard TestEnvironment.hasSharedFixtures else { return [] }
        let broken: Set<String> = ["invalid-range.dmp", "invalid-record-count.dmp"]
        return TestEnvironment.sharedFiles(suffixes: [".dmp"]).filter { path in
            guard !broken.contains(URL(fileURLWithPath: path).lastPathComponent),
                let handle = FileHandle(forReadingAtPath: path)
            else { return false }
            defer { try? handle.close() }
            return handle.readData(ofLength: 4) == Data("MDMP".utf8)
        }
    }()

    /// The path below the fixtures folder, for test output.
    static func name(_ path: String) -> String {
        path.replacingOccurrences(of: TestEnvironment.sharedFixtures.path + "/", with: "")
    }

    /// A rust-minidump insta snapshot's body (after its front matter).
    static func snapshot(_ name: String) throws -> String {
        let text = try String(
            contentsOfFile: path("rust-minidump/minidump-stackwalk/tests/snapshots/" + name), encoding: .utf8)
        let parts = text.components(separatedBy: "\n---\n")
        return parts.count > 1 ? parts[1] : text
    }

    /// The JSON object of a rust-minidump `--json` snapshot.
    static func snapshotJSON(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(snapshot(name).utf8)) as? [String: Any])
    }

    /// The value after `label` on the first line of `text` that starts with it.
    static func field(_ label: String, in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix(label) {
            return line.dropFirst(label.count).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
