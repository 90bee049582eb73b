import Foundation
import Hummingbird
import SymbolStore

/// Answers GET and HEAD for files in the stores: validators, single byte ranges, streamed bodies.
struct StoreFileServer: Sendable {
    let stores: [ServedStore]
    let limiter: ReadLimiter
    /// Small files held in memory.
    let contents: FileContentCache
    /// Where misses are fetched when the server is a caching proxy.
    var upstream: UpstreamProxy? = nil
    let fileIO = FileIO()

    func respond(to request: Request, context: some RequestContext) async throws -> Response {
        let path: RequestPath
        do {
            path = try RequestPath(raw: request.uri.path)
        } catch {
            return Self.plain(.badRequest, "bad path\n", head: request.method == .head)
        }
        if let file = find(path.target) { return try await serve(file, request: request, context: context) }
        switch await upstream?.file(for: path.target) {
        case .file(let file):
            return try await serve(file, request: request, context: context)
        case .failed(let reason):
            context.logger.warning("upstream: \(reason)")
            return Self.plain(.badGateway, "upstream failed\n", head: request.method == .head)
        case .missing, nil:
            return Self.plain(.notFound, "not found\n", head: request.method == .head)
        }
    }

    /// The first store's file for `target`, or nil.
    func find(_ target: RequestPath.Target) -> ServedFile? {
        switch target {
        case .none:
            return nil
        case .symsrv(let fileName, let index, let storedName):
            // A publisher killed mid-write leaves `<stored name>.tmp-<pid>-<n>` (StorePublisher's
            // temporary files): never a key's name, and possibly incomplete.
            // (Searched as bytes: Foundation's `contains` goes through NSString on every request.)
            guard storedName.utf8.firstRange(of: ".tmp-".utf8) == nil else { return nil }
            let key = StoreKey(fileName: fileName, index: index, storedName: storedName)
            for store in stores { if let file = store.file(for: key) { return file } }
            return nil
        case .debuginfod(let buildID, let artifact):
            guard buildID.count >= 2, buildID.count <= 128, buildID.count % 2 == 0,
                buildID.allSatisfy({ $0.isHexDigit && $0.isASCII })
            else { return nil }
            for store in stores {
                if let file = store.elfFile(buildID: buildID, debugInfo: artifact == "debuginfo") { return file }
            }
            return nil
        }
    }

    func serve(_ file: ServedFile, request: Request, context: some RequestContext) async throws -> Response {
        let isHead = request.method == .head
        var headers: HTTPFields = [
            .eTag: file.etag, .lastModified: file.lastModified, .acceptRanges: "bytes",
            .contentType: "application/octet-stream",
        ]
        if let tags = request.headers[.ifNoneMatch], Self.matches(tags, file.etag) {
            return Response(status: .notModified, headers: headers)
        }
        var range = file.size > 0 ? 0...(file.size - 1) : nil
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range], request.headers[.ifRange].map({ $0 == file.etag }) ?? true {
            switch ByteRange.parse(header, size: file.size) {
            case .ignore:
                break
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(file.size)"
                return Self.plain(.rangeNotSatisfiable, "", head: isHead, headers: headers)
            case .range(let requested):
                range = requested
                status = .partialContent
                headers[.contentRange] = "bytes \(requested.lowerBound)-\(requested.upperBound)/\(file.size)"
            }
        }
        let length = range?.count ?? 0
        headers[.contentLength] = String(length)
        guard let range, !isHead else { return Response(status: status, headers: headers) }
        if contents.admits(file), let bytes = await contents.load(file),
            let part = bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: length)
        {
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: part))
        }
        let limiter = self.limiter
        let body = try await fileIO.loadFile(path: file.path, range: range, context: context)
        return Response(
            status: status, headers: headers,
            body: ResponseBody(contentLength: length) { writer in
                let inner = body
                try await limiter.withPermit { try await inner.write(writer) }
            })
    }

    /// Whether an `If-None-Match` list names `etag` (weak comparison, `*` matches).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String, head: Bool, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "text/plain"
        headers[.contentLength] = String(text.utf8.count)
        if head { return Response(status: status, headers: headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// A single `Range: bytes=…` request.
enum ByteRange: Equatable {
    /// Not a single byte range we serve: answer with the whole file.
    case ignore
    case unsatisfiable
    case range(ClosedRange<Int>)

    static func parse(_ header: String, size: Int) -> ByteRange {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes=") else { return .ignore }
        let spec = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(",") else { return .ignore }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .ignore }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            // A suffix range: the last N bytes.
            guard let count = Int(last), count >= 0 else { return .ignore }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .range(max(0, size - count)...(size - 1))
        }
        guard let start = Int(first), start >= 0 else { return .ignore }
        let end: Int
        if last.isEmpty {
            end = size - 1
        } else {
            guard let value = Int(last), value >= start else { return .ignore }
            end = min(value, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .range(start...end)
    }
}

/// A counting semaphore for file reads: at most `permits` bodies stream at once.
actor ReadLimiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) {
        available = permits
    }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }

    nonisolated func withPermit<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}
