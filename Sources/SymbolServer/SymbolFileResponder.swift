import Hummingbird

/// The store-file handling of `serve-symbols` (GET and HEAD of SymSrv and debuginfod paths, validators,
/// ranges) for another application's router, such as the crash service's `/symbols/`.
public struct SymbolFileResponder: Sendable {
    let server: StoreFileServer

    /// Serves `stores` (searched in order), reading at most `maxConcurrentReads` file bodies at once
    /// and keeping up to `memoryCacheBytes` of small files in memory.
    public init(stores: [String], maxConcurrentReads: Int = 16, memoryCacheBytes: Int = 64 << 20) {
        server = StoreFileServer(
            stores: stores.map(ServedStore.init(root:)), limiter: ReadLimiter(permits: max(1, maxConcurrentReads)),
            contents: FileContentCache(budget: memoryCacheBytes))
    }

    /// Answers a GET or HEAD whose path ends with a store key (any prefix before it is ignored).
    public func respond(to request: Request, context: some RequestContext) async throws -> Response {
        try await server.respond(to: request, context: context)
    }
}
