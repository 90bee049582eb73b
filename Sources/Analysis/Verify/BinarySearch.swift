import BinaryReading
import Foundation
import PortableExecutable

/// The `--symbol-path` part of `verify`: where to look for the key modules' binaries.
///
/// For now only plain folders are searched; symbol-server entries (`srv*…`, `cache*…`) are
/// named in the check's detail as not searched.
public struct BinarySearch: Sendable {
    public var searchPath: ExecutableSearchPath
    public var policy: MatchPolicy

    public init(symbolPath: String, policy: MatchPolicy = .windbg) {
        searchPath = ExecutableSearchPath(entries: ExecutableSearchPath.parse(symbolPath))
        self.policy = policy
    }

    /// The symbol-server entries that were not searched.
    var deferredEntries: [String] {
        searchPath.entries.compactMap {
            if case .symbolServer(let entry) = $0 { return entry }
            return nil
        }
    }

    /// Looks for a module known only by its identity (kernel drivers, user-dump modules).
    func locate(identity: ModuleIdentity, recordedPath: String, dumpPath: String) -> (found: String?, rejected: [String]) {
        var rejected = [String]()
        var seen = Set<String>()
        for candidate in searchPath.candidates(recordedPath: recordedPath, dumpPath: dumpPath) {
            guard let file = existingFile(matching: candidate), seen.insert(file).inserted else { continue }
            do {
                let image = try PEImage(path: file)
                let found = ModuleIdentity(image: image, name: URL(fileURLWithPath: file).lastPathComponent)
                let differences = identity.differences(from: found, policy: policy)
                if differences.isEmpty { return (file, rejected) }
                rejected.append("\(file) (\(differences.map(\.description).joined(separator: ", ")))")
            } catch {
                rejected.append("\(file) (\(error))")
            }
        }
        return (nil, rejected)
    }

    /// Records the `binaries` check from per-module outcomes.
    func record(_ results: [ModuleMatch], into list: inout CheckList) {
        record(
            results.map { match in
                (
                    match.filename, match.path,
                    match.rejected.map { "\($0.path) (\($0.error ?? $0.differences.map(\.description).joined(separator: ", ")))" }
                )
            }, into: &list)
    }

    func record(_ results: [(name: String, found: String?, rejected: [String])], into list: inout CheckList) {
        var lines = [String]()
        var missing = 0
        for result in results {
            if let found = result.found {
                lines.append("\(result.name): matched \(found)")
            } else {
                missing += 1
                lines.append(
                    "\(result.name): "
                        + (result.rejected.isEmpty
                            ? "not found" : "no match; rejected " + result.rejected.joined(separator: "; ")))
            }
        }
        if !deferredEntries.isEmpty {
            lines.append("not searched (symbol servers are not supported yet): " + deferredEntries.joined(separator: ", "))
        }
        if results.isEmpty {
            list.warn(CheckName.binaries, (["no key module to look for"] + lines).joined(separator: "; "))
        } else if missing == 0 {
            list.pass(CheckName.binaries, lines.joined(separator: "; "))
        } else {
            list.fail(CheckName.binaries, lines.joined(separator: "; "))
        }
    }
}
