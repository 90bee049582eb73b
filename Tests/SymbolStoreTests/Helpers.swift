import Foundation
import TestSupport

/// A fresh empty folder under the system's temporary folder.
func makeTemporaryFolder(_ label: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("postmortem-store-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// Removes a folder made by `makeTemporaryFolder`.
func removeFolder(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Every file below `root`, relative, sorted (lock files and `.deleted` transaction files excluded when asked).
func fileTree(_ root: String, excluding: (String) -> Bool = { _ in false }) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    var files = [String]()
    while let next = walker.nextObject() as? String {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: root + "/" + next, isDirectory: &isDirectory)
        if !isDirectory.boolValue && !excluding(next) { files.append(next) }
    }
    return files.sorted()
}

func readBytes(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
}

func readText(_ path: String) -> String {
    String(decoding: readBytes(path), as: UTF8.self)
}

/// Runs Python from the oracle venv; a missing venv fails the test.
func runPython(_ code: String, _ arguments: [String] = []) throws -> ProcessResult {
    let result = try runProcess(TestEnvironment.python, ["-c", code] + arguments)
    guard result.status == 0 else {
        throw OracleFailure(description: "python failed (\(result.status)): \(result.stderrText)")
    }
    return result
}

/// The files of a cabinet as the `cabarchive` package (PyPI) expands them: name → bytes.
func cabarchiveExpand(_ path: String) throws -> [String: [UInt8]] {
    let code = """
        import sys, base64
        from cabarchive import CabArchive
        archive = CabArchive(open(sys.argv[1], 'rb').read())
        for name in archive:
            print(name + '\\t' + base64.b64encode(archive[name].buf).decode())
        """
    let result = try runPython(code, [path])
    var files = [String: [UInt8]]()
    for line in result.stdoutText.split(separator: "\n") {
        let parts = line.split(separator: "\t", maxSplits: 1)
        guard parts.count == 2, let data = Data(base64Encoded: String(parts[1])) else { continue }
        files[String(parts[0])] = [UInt8](data)
    }
    return files
}

struct OracleFailure: Error, CustomStringConvertible {
    var description: String
}
