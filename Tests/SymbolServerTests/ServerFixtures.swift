import Foundation
import Hummingbird
import Logging
import SymbolServer
import TestSupport

/// Stores and servers the tests share.
enum ServerFixtures {
    /// The real store written by symstore (PyPI) in the shared fixtures.
    static var symstore: String { TestEnvironment.shared("generated/symstore") }

    /// The ELF executable with build id `crashBuildID`.
    static var crashExecutable: String { TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/linux/crash") }
    static var crashDebugFile: String { TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/linux/crash.debug") }
    static let crashBuildID = "f1c3bcc0279865fe3058404b2831d9e64135386c"

    /// A quiet logger, so test output stays readable.
    static var quietLogger: Logger {
        var logger = Logger(label: "serve-symbols-test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }

    static func server(_ stores: [String], port: Int = 0, memoryCacheBytes: Int = 64 << 20) -> some ApplicationProtocol {
        buildSymbolServer(
            configuration: SymbolServerConfiguration(
                stores: stores, port: port, memoryCacheBytes: memoryCacheBytes, logger: quietLogger))
    }

    /// A new empty folder under the temporary folder; the caller removes it.
    static func temporaryFolder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("symbolserver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Writes `bytes` at `relativePath` below `root`, creating folders.
    static func write(_ bytes: [UInt8], at relativePath: String, in root: String) throws {
        let url = URL(fileURLWithPath: root).appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// Copies a file to `relativePath` below `root`, creating folders.
    static func copy(_ source: String, to relativePath: String, in root: String) throws {
        try write(Array(try Data(contentsOf: URL(fileURLWithPath: source))), at: relativePath, in: root)
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Runs a program off the cooperative thread pool, so a blocking wait cannot starve the server.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws
        -> ProcessResult
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runProcess(executable, arguments, environment: environment) })
            }
        }
    }
}
