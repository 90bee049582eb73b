import BinaryReading
import Foundation

/// A symbol store on a local or mounted file system, flat or two-tier.
public struct LocalSymbolStore: Sendable {
    /// What a lookup found for a key.
    public enum Hit: Sendable, Hashable {
        /// The file itself.
        case file(path: String)
        /// The file as a one-file CAB (`foo.pd_`).
        case compressed(path: String)
        /// A `file.ptr` standing in for the file.
        case pointer(FilePointer, path: String)
    }

    /// Errors reading a store.
    public enum ReadError: Error, Sendable, CustomStringConvertible {
        case notFound(StoreKey)
        case pointerOnly(FilePointer)
        case cabinet(ParseError)
        case pointer(FilePointer.Malformed)
        case io(String)

        public var description: String {
            switch self {
            case .notFound(let key): return "\(key) is not in the store"
            case .pointerOnly(let pointer): return "the store holds only a pointer: \(pointer.text)"
            case .cabinet(let error): return "compressed file: \(error)"
            case .pointer(let error): return error.description
            case .io(let message): return message
            }
        }
    }

    /// The store's root folder.
    public let root: String

    /// Opens the store at `root` (nothing is read until a lookup).
    public init(root: String) {
        self.root = root
    }

    /// Whether the store is two-tier (`index2.txt` at the root).
    public var isTwoTier: Bool {
        FileManager.default.fileExists(atPath: root + "/index2.txt")
    }

    /// Looks up `key`: the plain file first, then the compressed file, then `file.ptr`.
    public func lookup(_ key: StoreKey) throws(ReadError) -> Hit? {
        let twoTier = isTwoTier
        func absolute(_ key: StoreKey) -> String { root + "/" + key.relativePath(twoTier: twoTier) }
        let manager = FileManager.default
        let plain = absolute(key)
        if manager.fileExists(atPath: plain) { return .file(path: plain) }
        let compressed = absolute(key.compressed)
        if manager.fileExists(atPath: compressed) { return .compressed(path: compressed) }
        let pointer = absolute(key.pointer)
        if manager.fileExists(atPath: pointer) {
            guard let data = manager.contents(atPath: pointer) else { throw .io("cannot read \(pointer)") }
            guard data.count <= 64 * 1024 else {
                throw .pointer(FilePointer.Malformed(reason: "\(pointer) is larger than 64 KiB"))
            }
            do {
                return .pointer(try FilePointer(parsing: String(decoding: data, as: UTF8.self)), path: pointer)
            } catch {
                throw .pointer(error)
            }
        }
        return nil
    }

    /// The bytes stored under `key`, expanded when compressed; a path pointer is followed
    /// when it names a local file. At most `limit` bytes are produced.
    public func read(_ key: StoreKey, limit: Int = 1 << 32) throws(ReadError) -> [UInt8] {
        switch try lookup(key) {
        case nil:
            throw .notFound(key)
        case .file(let path):
            return try Self.readFile(path, limit: limit)
        case .compressed(let path):
            do {
                return try Cabinet(path: path).extractSingleFile(limit: limit).bytes
            } catch {
                throw .cabinet(error)
            }
        case .pointer(let pointer, _):
            if case .path(let path) = pointer, FileManager.default.fileExists(atPath: path) {
                return try Self.readFile(path, limit: limit)
            }
            throw .pointerOnly(pointer)
        }
    }

    /// The references recorded for a key's folder (`refs.ptr`), empty when there is none.
    public func references(_ key: StoreKey) throws(ReadError) -> [StoreReference] {
        let path =
            root + "/"
            + StoreKey(fileName: key.fileName, index: key.index, storedName: "refs.ptr").relativePath(twoTier: isTwoTier)
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        do {
            return try StoreReference.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw .pointer(error)
        }
    }

    static func readFile(_ path: String, limit: Int) throws(ReadError) -> [UInt8] {
        do {
            let file = try MappedFile(path: path)
            guard file.size <= limit else { throw ReadError.io("\(path) is larger than the limit of \(limit) bytes") }
            return file.bytes.array
        } catch let error as ReadError {
            throw error
        } catch {
            throw .io("\(error)")
        }
    }
}
