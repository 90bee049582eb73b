import Foundation
import SymbolStore
import TestSupport

/// Temporary folders and stores for the client tests.
enum Scratch {
    /// A fresh empty folder, removed with the others when the test process exits.
    static func folder(_ name: String) throws -> String {
        let path = root + "/\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// One folder per test process holding every scratch folder: the tests share stores with
    /// servers and fetchers that outlive a single test's scope, so they are removed at exit.
    private static let root: String = {
        let path = NSTemporaryDirectory() + "postmortem-client-tests-\(getpid())-\(UUID().uuidString)"
        atexit { try? FileManager.default.removeItem(atPath: Scratch.root) }
        return path
    }()

    /// Puts `bytes` at `<root>/<relativePath>`.
    static func put(_ bytes: Data, at relativePath: String, in root: String) throws {
        let path = root + "/" + relativePath
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    /// A store laid out as `<file>/<key>/<file>` from the x64 fixtures named; returns the keys by file name.
    static func store(with files: [String], in root: String) throws -> [String: StoreKey] {
        var keys = [String: StoreKey]()
        for name in files {
            let source = TestEnvironment.shared("generated/pe/x64/\(name)")
            let key = StoreKey(try FileIdentity.read(path: source))
            try put(try Data(contentsOf: URL(fileURLWithPath: source)), at: key.path, in: root)
            keys[name] = key
        }
        return keys
    }

    /// Every regular file below `root`, relative, sorted.
    static func files(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found = [String]()
        while let next = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + next, isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append(next)
            }
        }
        return found.sorted()
    }
}
