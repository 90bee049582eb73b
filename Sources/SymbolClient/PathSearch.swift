import Foundation
import SymbolStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The search of one key along a symbol path (the work behind `SymbolFetcher.fetch`).
struct PathSearch: Sendable {
    let path: SymbolPath
    let configuration: FetchConfiguration
    let downloader: Downloader

    /// An HTTP source to ask after every local place: a server, or a URL from a local `file.ptr`.
    enum Remote: Sendable {
        case server(url: String, caches: [CacheStore])
        case pointerURL(String, caches: [CacheStore])
    }

    /// What the search has seen so far.
    struct Notes {
        var searched = [String]()
        var messages = [String]()
        var errors = [String]()
    }

    /// A local hit, resolved to a file that can be handed out.
    enum Resolved {
        case file(String)
        case message(String)
        case remote(String)
        case none
    }

    func fetch(_ key: StoreKey) async -> FetchOutcome {
        var notes = Notes()
        var remotes = [Remote]()
        var activeCache: CacheStore?
        // First pass: every local place, in path order.
        for entry in path.entries {
            switch entry {
            case .cache(let folder):
                let cache = CacheStore(root: folder ?? configuration.defaultDownstream)
                activeCache = cache
                if let path = lookup(key, in: cache.root, caches: [cache], notes: &notes, remotes: &remotes) {
                    return .found(path: path, source: cache.root)
                }
            case .folder(let folder):
                let caches = activeCache.map { [$0] } ?? []
                if let path = lookup(key, in: folder, caches: caches, notes: &notes, remotes: &remotes) {
                    return .found(path: path, source: folder)
                }
                let flat = folder + "/" + key.storedName
                notes.searched.append(flat)
                if FileManager.default.fileExists(atPath: flat) {
                    return .found(path: fill(caches, key: key, from: flat, notes: &notes), source: folder)
                }
            case .server(let server):
                var caches = server.downstream.map { location -> CacheStore in
                    if case .directory(let folder) = location { return CacheStore(root: folder) }
                    // A URL as a downstream store cannot be written; its place goes to the default store.
                    return CacheStore(root: configuration.defaultDownstream)
                }
                if let activeCache, !caches.contains(activeCache) { caches.append(activeCache) }
                if caches.isEmpty { caches = [CacheStore(root: configuration.defaultDownstream)] }
                for (index, cache) in caches.enumerated() {
                    // Found in a farther store: copied into every nearer one on the way back.
                    if let path = lookup(
                        key, in: cache.root, caches: Array(caches[..<index]), notes: &notes, remotes: &remotes)
                    {
                        return .found(path: path, source: cache.root)
                    }
                }
                switch server.upstream {
                case .directory(let folder):
                    if let path = lookup(key, in: folder, caches: caches, notes: &notes, remotes: &remotes) {
                        return .found(path: path, source: folder)
                    }
                case .url(let url):
                    remotes.append(.server(url: url, caches: caches))
                case .defaultDownstream:
                    break
                }
            }
        }
        // Second pass: the servers, in path order.
        for remote in remotes {
            switch remote {
            case .server(let url, let caches):
                if let outcome = await fetchFromServer(key, url: url, caches: caches, notes: &notes) { return outcome }
            case .pointerURL(let url, let caches):
                let store = caches.first ?? CacheStore(root: configuration.defaultDownstream)
                notes.searched.append(url)
                do {
                    let temporary = try await downloader.download(url, into: store)
                    let path = try store.install(temporary, as: key)
                    return .found(path: fill(Array(caches.dropFirst()), key: key, from: path, notes: &notes), source: url)
                } catch {
                    notes.errors.append("\(error)")
                }
            }
        }
        if let message = notes.messages.first { return .message(message) }
        if !notes.errors.isEmpty { return .failed(errors: notes.errors) }
        return .missing(searched: notes.searched)
    }

    /// Looks `key` up in the store at `root`; a hit is resolved to a plain file (expanded or
    /// followed as needed) and copied into `caches`, nearest first, whose first copy is returned.
    func lookup(_ key: StoreKey, in root: String, caches: [CacheStore], notes: inout Notes, remotes: inout [Remote])
        -> String?
    {
        let store = LocalSymbolStore(root: root)
        notes.searched.append(root + "/" + key.relativePath(twoTier: store.isTwoTier))
        let hit: LocalSymbolStore.Hit?
        do {
            hit = try store.lookup(key)
        } catch {
            notes.errors.append("\(root): \(error)")
            return nil
        }
        switch hit {
        case nil:
            return nil
        case .file(let path):
            return fill(caches, key: key, from: path, notes: &notes)
        case .compressed(let path):
            // Expanded next to the compressed file's nearest cache, or in its own store.
            let target = caches.first ?? CacheStore(root: root)
            do {
                let expanded = try expand(path, as: key, into: target)
                return fill(Array(caches.dropFirst()), key: key, from: expanded, notes: &notes)
            } catch {
                notes.errors.append("\(error)")
                return nil
            }
        case .pointer(let pointer, let pointerPath):
            switch pointer {
            case .path(let target):
                guard FileManager.default.fileExists(atPath: target) else {
                    notes.errors.append("\(pointerPath) points to \(target), which does not exist")
                    return nil
                }
                return fill(caches, key: key, from: target, notes: &notes)
            case .url(let url):
                remotes.append(.pointerURL(url, caches: caches))
                return nil
            case .message(let text):
                notes.messages.append(text)
                return nil
            }
        }
    }

    /// Copies `path` into each cache; returns the nearest copy, or `path` when there are no caches.
    func fill(_ caches: [CacheStore], key: StoreKey, from path: String, notes: inout Notes) -> String {
        var nearest: String?
        for cache in caches {
            let target = cache.path(of: key)
            if target == path {
                nearest = nearest ?? target
                continue
            }
            do {
                let copied = try cache.copy(from: path, as: key)
                nearest = nearest ?? copied
            } catch {
                notes.errors.append("\(error)")
            }
        }
        return nearest ?? path
    }

    /// Expands the one-file CAB at `path` into `store` as `key`.
    func expand(_ path: String, as key: StoreKey, into store: CacheStore) throws(DownloadError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try Cabinet(path: path).extractSingleFile(limit: configuration.maximumDownloadSize).bytes
        } catch {
            throw .local("\(path): \(error)")
        }
        return try store.write(bytes, as: key)
    }

    /// Asks the server at `url` for the file, its compressed form, then its `file.ptr`.
    /// nil when the server does not have it (the miss is remembered) or failed (an error is noted).
    func fetchFromServer(_ key: StoreKey, url base: String, caches: [CacheStore], notes: inout Notes) async
        -> FetchOutcome?
    {
        let store = caches[0]
        let misses = NegativeCache(store: store)
        // A store that gains files under its readers (the crash service's own) must be asked every time.
        let remembers = downloader.transport?.remembersMisses(on: base) ?? true
        if remembers, misses.isFreshMiss(key, server: base, lifetime: configuration.negativeCacheLifetime) {
            notes.searched.append("\(Self.url(base, key)) (miss remembered)")
            return nil
        }
        do {
            let plainURL = Self.url(base, key)
            notes.searched.append(plainURL)
            if let temporary = try await optional({ () async throws(DownloadError) in
                try await downloader.download(plainURL, into: store)
            }) {
                return found(key, try store.install(temporary, as: key), source: plainURL, caches: caches, notes: &notes)
            }
            let compressedURL = Self.url(base, key.compressed)
            notes.searched.append(compressedURL)
            if let temporary = try await optional({ () async throws(DownloadError) in
                try await downloader.download(compressedURL, into: store)
            }) {
                defer { unlink(temporary) }
                let path = try expand(temporary, as: key, into: store)
                return found(key, path, source: compressedURL, caches: caches, notes: &notes)
            }
            let pointerURL = Self.url(base, key.pointer)
            notes.searched.append(pointerURL)
            if let text = try await optional({ () async throws(DownloadError) in
                try await downloader.text(pointerURL, into: store)
            }) {
                let pointer: FilePointer
                do {
                    pointer = try FilePointer(parsing: text)
                } catch {
                    throw DownloadError.local("\(pointerURL): \(error)")
                }
                switch pointer {
                case .message(let message):
                    return .message(message)
                case .path(let target):
                    guard FileManager.default.fileExists(atPath: target) else {
                        throw DownloadError.local("\(pointerURL) points to \(target), which does not exist")
                    }
                    return found(key, try store.copy(from: target, as: key), source: target, caches: caches, notes: &notes)
                case .url(let target):
                    notes.searched.append(target)
                    let temporary = try await downloader.download(target, into: store)
                    return found(key, try store.install(temporary, as: key), source: target, caches: caches, notes: &notes)
                }
            }
            if remembers { misses.recordMiss(key, server: base) }
            return nil
        } catch {
            notes.errors.append("\(error)")
            return nil
        }
    }

    private func found(_ key: StoreKey, _ path: String, source: String, caches: [CacheStore], notes: inout Notes)
        -> FetchOutcome
    {
        NegativeCache(store: caches[0]).clear(key)
        // The file landed in the nearest store; the farther ones get copies too.
        _ = fill(Array(caches.dropFirst()), key: key, from: path, notes: &notes)
        configuration.progress?("\(source) -> \(path)")
        return .found(path: path, source: source)
    }

    /// Runs a download, turning "not found" into nil.
    private func optional<T>(_ body: () async throws(DownloadError) -> T) async throws(DownloadError) -> T? {
        do {
            return try await body()
        } catch .notFound {
            return nil
        }
    }

    /// `<base>/<file>/<index>/<name>`, each component percent-encoded.
    static func url(_ base: String, _ key: StoreKey) -> String {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        let encode = { (part: String) in
            part.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? part
        }
        return [trimmed, encode(key.fileName), encode(key.index), encode(key.storedName)].joined(separator: "/")
    }
}
