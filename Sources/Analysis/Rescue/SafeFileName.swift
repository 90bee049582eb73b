import Foundation

/// File names taken from untrusted dumps, made safe to create inside an output folder.
public enum SafeFileName {
    /// Names Windows reserves for devices, whatever the extension (`NUL.dll` is still NUL).
    static let deviceNames: Set<String> = {
        var names: Set<String> = ["con", "prn", "aux", "nul", "conin$", "conout$"]
        for digit in 0...9 {
            names.insert("com\(digit)")
            names.insert("lpt\(digit)")
        }
        return names
    }()

    /// Longest name kept (bytes of UTF-8); most file systems allow 255.
    static let maximumLength = 200

    /// A single path component derived from `name` that cannot leave the folder it is created in.
    ///
    /// Folders (either separator) are dropped, `..` and `.` become `_`, control and reserved
    /// characters become `_`, device names get a leading `_`, and an empty result is `module`.
    public static func sanitize(_ name: String) -> String {
        let base = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var out = ""
        for scalar in base.unicodeScalars {
            switch scalar {
            case "<", ">", ":", "\"", "|", "?", "*", "\u{7F}":
                out.append("_")
            default:
                out.unicodeScalars.append(scalar.value < 0x20 ? "_" : scalar)
            }
        }
        while out.hasSuffix(".") || out.hasSuffix(" ") { out.removeLast() }
        while out.hasPrefix(" ") { out.removeFirst() }
        if out.isEmpty || out.allSatisfy({ $0 == "." }) { return "module" }
        let stem = out.split(separator: ".", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
        if deviceNames.contains(stem) { out = "_" + out }
        if out.utf8.count > maximumLength {
            out = String(decoding: Array(out.utf8.prefix(maximumLength)), as: UTF8.self)
        }
        return out
    }

    /// Writes `bytes` to `folder/name` atomically: a temporary file in the same folder, then a rename,
    /// which replaces whatever is at the name (even a symbolic link) instead of writing through it.
    public static func writeAtomically(_ bytes: [UInt8], folder: String, name: String) throws -> String {
        let safe = sanitize(name)
        let target = URL(fileURLWithPath: folder).appendingPathComponent(safe).standardizedFileURL
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        guard target.deletingLastPathComponent().path == root else {
            throw CocoaError(.fileWriteInvalidFileName, userInfo: [NSFilePathErrorKey: target.path])
        }
        let temporary = URL(fileURLWithPath: folder).appendingPathComponent(".\(safe).\(UUID().uuidString).tmp")
        try Data(bytes).write(to: temporary, options: .withoutOverwriting)
        guard rename(temporary.path, target.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path, "errno": code])
        }
        return target.path
    }
}
