import Foundation

/// Locations of the shared fixtures and the oracle tools the tests compare against.
///
/// Tests over `../shared/fixtures` fail loudly when the folder is missing instead of
/// passing vacuously; oracles that are missing fail the test that needs them.
public enum TestEnvironment {
    /// The repository root (the folder holding Package.swift).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `$POSTMORTEM_FIXTURES`, else `<repo>/../shared/fixtures`.
    public static let sharedFixtures: URL = {
        if let path = ProcessInfo.processInfo.environment["POSTMORTEM_FIXTURES"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }()

    /// Whether the shared fixtures are present; when they are not, a line says so on stderr.
    public static let hasSharedFixtures: Bool = {
        let present = FileManager.default.fileExists(atPath: sharedFixtures.appendingPathComponent("README.md").path)
        if !present {
            FileHandle.standardError.write(
                Data("*** SHARED FIXTURES ABSENT at \(sharedFixtures.path): the real-data suite is NOT running ***\n".utf8))
        }
        return present
    }()

    /// A file under the shared fixtures.
    public static func shared(_ relativePath: String) -> String {
        sharedFixtures.appendingPathComponent(relativePath).path
    }

    /// A file under `Tests/Fixtures` in the repository.
    public static func local(_ relativePath: String) -> String {
        repositoryRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relativePath).path
    }

    /// Every file below `relativeFolder` of the shared fixtures whose name ends with one of `suffixes`, sorted.
    public static func sharedFiles(under relativeFolder: String = "", suffixes: [String]) -> [String] {
        let root = sharedFixtures.appendingPathComponent(relativeFolder)
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var found = [String]()
        while let next = walker.nextObject() as? String {
            let lower = next.lowercased()
            if suffixes.contains(where: { lower.hasSuffix($0) }) {
                found.append(root.appendingPathComponent(next).path)
            }
        }
        return found.sorted()
    }

    /// The Python interpreter of the oracle venv: `$POSTMORTEM_PYTHON`, else `<repo>/.venv/bin/python3`.
    public static var python: String {
        if let path = ProcessInfo.processInfo.environment["POSTMORTEM_PYTHON"], !path.isEmpty { return path }
        return repositoryRoot.appendingPathComponent(".venv/bin/python3").path
    }

    /// The built `postmortem` executable (debug build folder of this test run).
    public static var postmortemExecutable: String {
        if let path = ProcessInfo.processInfo.environment["POSTMORTEM_EXECUTABLE"], !path.isEmpty { return path }
        // Test bundles live in the same build folder as the executable.
        let bundle = Bundle.main.bundleURL
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("postmortem")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url.path }
        }
        return repositoryRoot.appendingPathComponent(".build/debug/postmortem").path
    }
}

/// The result of running an external program.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Errors from running an external program.
public struct ProcessFailure: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// Runs `executable` with `arguments`, feeding `input` on stdin, and collects its output.
///
/// Throws when the program cannot be started: a missing oracle is a failure, not a skip.
public func runProcess(
    _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil
) throws -> ProcessResult {
    guard FileManager.default.isExecutableFile(atPath: executable) || !executable.contains("/") else {
        throw ProcessFailure(description: "required tool \(executable) is not installed (run .ci/run to set up)")
    }
    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(input) }
    try? inPipe.fileHandleForWriting.close()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: outData, stderr: errData)
}

/// Compares `actual` with the snapshot file `Tests/<suite>/Snapshots/<name>`.
///
/// With `POSTMORTEM_RECORD_SNAPSHOTS=1` the snapshot is (re)written and the comparison passes;
/// otherwise a missing or different snapshot returns a description of the difference.
public func snapshotMismatch(_ actual: String, suite: String, name: String) -> String? {
    let url = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/\(suite)/Snapshots/\(name)")
    if ProcessInfo.processInfo.environment["POSTMORTEM_RECORD_SNAPSHOTS"] == "1" {
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? Data(actual.utf8).write(to: url)
        return nil
    }
    guard let data = FileManager.default.contents(atPath: url.path) else {
        return "snapshot \(url.path) is missing; record it with POSTMORTEM_RECORD_SNAPSHOTS=1"
    }
    let expected = String(decoding: data, as: UTF8.self)
    if expected == actual { return nil }
    let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
    for index in 0..<max(expectedLines.count, actualLines.count) {
        let left = index < expectedLines.count ? String(expectedLines[index]) : "<end>"
        let right = index < actualLines.count ? String(actualLines[index]) : "<end>"
        if left != right {
            return "snapshot \(name) differs at line \(index + 1):\n  expected: \(left)\n  actual:   \(right)"
        }
    }
    return "snapshot \(name) differs"
}
