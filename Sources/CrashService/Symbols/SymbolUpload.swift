import BinaryReading
import Foundation
import SymbolStore

/// One file of a symbol upload, named as the client named it (checked by `SymbolUpload.fileName`).
public struct UploadedSymbolFile: Sendable {
    public var name: String
    public var bytes: [UInt8]
    /// The key it is published under.
    public var key: StoreKey
}

/// Why a symbol upload was refused, with the HTTP status that says so.
public struct SymbolUploadRejection: Error, Equatable, CustomStringConvertible {
    public var status: Int
    public var description: String

    init(_ status: Int, _ description: String) {
        self.status = status
        self.description = description
    }
}

/// Reads a symbol upload: PE binaries, PDBs, ELF files, Breakpad .sym files, and ZIP archives of them,
/// as `multipart/form-data` file parts or as a raw body (`?name=` names a raw file).
public enum SymbolUpload {
    /// How much larger than the request body the files in its archives may be once inflated together.
    public static let maxExpansion = 8
    /// The most files one upload publishes.
    public static let maxFiles = 1000

    /// The files of an upload, each identified; throws for anything that cannot be published whole.
    public static func files(body: [UInt8], contentType: String?, name: String?, maxBytes: Int) throws(SymbolUploadRejection)
        -> [UploadedSymbolFile]
    {
        var budget = maxBytes * maxExpansion
        var named = [(name: String, bytes: [UInt8])]()
        if let contentType, contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = Multipart.boundary(contentType: contentType) else {
                throw SymbolUploadRejection(400, "multipart/form-data without a boundary")
            }
            let parts: [FormPart]
            do {
                parts = try Multipart.parse(body, boundary: boundary)
            } catch {
                throw SymbolUploadRejection(400, "malformed multipart body: \(error.description)")
            }
            for part in parts {
                guard let fileName = part.fileName else { continue }
                try add(Array(body[part.range]), name: fileName, to: &named, budget: &budget)
            }
        } else if ZipArchive.looksLikeZip(body) {
            try add(body, name: name ?? "upload.zip", to: &named, budget: &budget)
        } else {
            guard let name else {
                throw SymbolUploadRejection(400, "a raw upload names its file with ?name=FILE (or send multipart/form-data)")
            }
            try add(body, name: name, to: &named, budget: &budget)
        }
        guard !named.isEmpty else { throw SymbolUploadRejection(400, "the upload holds no files") }
        guard named.count <= maxFiles else {
            throw SymbolUploadRejection(413, "\(named.count) files in one upload; at most \(maxFiles)")
        }
        var files = [UploadedSymbolFile]()
        for (name, bytes) in named {
            let identity: FileIdentity
            do {
                identity = try FileIdentity.read(bytes: MappedFile(bytes: bytes, name: name).bytes, fileName: name)
            } catch {
                throw SymbolUploadRejection(422, "\(name): \(error)")
            }
            files.append(UploadedSymbolFile(name: name, bytes: bytes, key: StoreKey(identity)))
        }
        return files
    }

    /// Adds a file, or the files of a ZIP archive (not nested further).
    static func add(
        _ bytes: [UInt8], name rawName: String, to files: inout [(name: String, bytes: [UInt8])], budget: inout Int
    ) throws(SymbolUploadRejection) {
        let name = try fileName(rawName)
        guard ZipArchive.looksLikeZip(bytes) else {
            files.append((name, bytes))
            return
        }
        let archive: ZipArchive
        do {
            archive = try ZipArchive(bytes: MappedFile(bytes: bytes, name: name).bytes)
        } catch {
            throw SymbolUploadRejection(400, "\(name): not a readable ZIP archive: \(error)")
        }
        // Every name is checked, and the declared sizes weighed, before anything is inflated.
        var members = [(name: String, entry: ZipArchive.Entry)]()
        for entry in archive.entries where !entry.isFolder {
            let path = try archivePath(entry.name, in: name)
            // Finder adds resource forks under __MACOSX/; they are never symbols.
            if path.first == "__MACOSX" { continue }
            guard entry.uncompressedSize <= budget else {
                throw SymbolUploadRejection(413, "\(name): the archive inflates to more than \(budget) bytes")
            }
            budget -= entry.uncompressedSize
            members.append((path.last!, entry))
        }
        for member in members {
            do {
                files.append((member.name, try archive.contents(of: member.entry)))
            } catch {
                throw SymbolUploadRejection(400, "\(name): \(member.entry.name): \(error)")
            }
        }
    }

    /// The path components of an archive member, refused when the name could leave a folder.
    static func archivePath(_ raw: String, in archive: String) throws(SymbolUploadRejection) -> [String] {
        guard !raw.hasPrefix("/"), !raw.contains("\\"), !raw.contains(":") else {
            throw SymbolUploadRejection(400, "\(archive): member name '\(raw)' is not a relative path")
        }
        let components = raw.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !components.isEmpty, !components.contains(where: { $0 == ".." || $0 == "." }) else {
            throw SymbolUploadRejection(400, "\(archive): member name '\(raw)' leaves the archive's folder")
        }
        _ = try fileName(components.last!)
        return components
    }

    /// A file name as it will be stored: one path component, no control characters, no leading dot.
    static func fileName(_ raw: String) throws(SymbolUploadRejection) -> String {
        let forbidden = raw.isEmpty || raw == "." || raw == ".." || raw.hasPrefix(".") || raw.utf8.count > 255
        guard !forbidden, !raw.contains("/"), !raw.contains("\\"), !raw.contains(":"),
            !raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw SymbolUploadRejection(400, "file name '\(raw)' is not a plain file name")
        }
        return raw
    }
}
