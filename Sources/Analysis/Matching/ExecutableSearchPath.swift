import Foundation
import Minidump

/// Where to look for a dump's module binaries, in the order debuggers look.
///
/// The entries of `--exe-path` and `_NT_EXECUTABLE_IMAGE_PATH` use WinDbg's `;`-separated
/// syntax. Symbol-server entries (`srv*…`, `symsrv*…`, `cache*…`) are kept and reported but
/// not searched until the symbol-store layer resolves them.
public struct ExecutableSearchPath: Sendable, Equatable {
    /// One place to look.
    public enum Entry: Sendable, Equatable {
        /// A folder searched for the module's file name.
        case folder(String)
        /// A symbol-server entry, searched once symbol stores are supported.
        case symbolServer(String)
    }

    /// A mapping of a Windows path prefix (`C:\`, Wine's `Z:\`) to a folder on this machine.
    public struct PrefixMapping: Sendable, Equatable {
        public var windowsPrefix: String
        public var localFolder: String

        public init(windowsPrefix: String, localFolder: String) {
            self.windowsPrefix = windowsPrefix
            self.localFolder = localFolder
        }

        /// Parses `PREFIX=FOLDER`, e.g. `Z:\=/` or `C:\=/mnt/windows`.
        public init?(argument: String) {
            guard let equals = argument.firstIndex(of: "=") else { return nil }
            windowsPrefix = String(argument[..<equals])
            localFolder = String(argument[argument.index(after: equals)...])
            if windowsPrefix.isEmpty || localFolder.isEmpty { return nil }
        }
    }

    /// The explicit entries, in order.
    public var entries: [Entry]
    /// Prefix mappings applied to a module's recorded path.
    public var mappings: [PrefixMapping]

    public init(entries: [Entry] = [], mappings: [PrefixMapping] = []) {
        self.entries = entries
        self.mappings = mappings
    }

    /// Splits a WinDbg-style path (`a;b;srv*c*https://x`) into entries.
    public static func parse(_ text: String) -> [Entry] {
        text.split(separator: ";", omittingEmptySubsequences: true).compactMap { raw in
            let entry = raw.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { return nil }
            let lower = entry.lowercased()
            if lower.hasPrefix("srv*") || lower.hasPrefix("symsrv*") || lower.hasPrefix("cache*") {
                return .symbolServer(entry)
            }
            return .folder(entry)
        }
    }

    /// The search path from `--exe-path` (if any) followed by `_NT_EXECUTABLE_IMAGE_PATH`.
    public static func from(exePath: String?, environment: [String: String], mappings: [PrefixMapping]) -> ExecutableSearchPath {
        var entries = [Entry]()
        if let exePath { entries += parse(exePath) }
        if let variable = environment["_NT_EXECUTABLE_IMAGE_PATH"] { entries += parse(variable) }
        return ExecutableSearchPath(entries: entries, mappings: mappings)
    }

    /// The candidate files for a module recorded as `recordedPath`, for a dump at `dumpPath`:
    /// the dump's folder, `<dump folder>/<module name>/`, the recorded path mapped onto this
    /// machine, then each folder entry.
    public func candidates(recordedPath: String, dumpPath: String) -> [String] {
        let name = Module.baseName(recordedPath)
        let dumpFolder = URL(fileURLWithPath: dumpPath).deletingLastPathComponent().path
        var folders = [dumpFolder, dumpFolder + "/" + name]
        var files = [String]()
        for mapping in mappings {
            let prefix = mapping.windowsPrefix.lowercased()
            if recordedPath.lowercased().hasPrefix(prefix) {
                let rest = recordedPath.dropFirst(mapping.windowsPrefix.count).replacingOccurrences(of: "\\", with: "/")
                let folder = mapping.localFolder.hasSuffix("/") ? mapping.localFolder : mapping.localFolder + "/"
                files.append(folder + rest)
            }
        }
        for entry in entries {
            if case .folder(let folder) = entry { folders.append(folder) }
        }
        return files + folders.map { $0 + "/" + name }
    }
}

/// Finds `name` in a folder case-insensitively (Windows names meet case-sensitive file systems).
func existingFile(matching path: String) -> String? {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    if manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { return path }
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    let wanted = url.lastPathComponent.lowercased()
    guard let names = try? manager.contentsOfDirectory(atPath: folder) else { return nil }
    guard let found = names.first(where: { $0.lowercased() == wanted }) else { return nil }
    let candidate = folder + "/" + found
    guard manager.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
    return candidate
}
