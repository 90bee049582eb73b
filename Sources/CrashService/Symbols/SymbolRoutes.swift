import Analysis
import Foundation
import Hummingbird
import NIOCore
import SymbolClient
import SymbolServer
import SymbolStore

extension CrashServiceConfiguration {
    /// The service's own symbol store, which `POST /symbols/upload` publishes into: `<data>/symbols`.
    public var symbolStore: String { dataDirectory + "/symbols" }

    /// Where workers keep what they read from the symbol store in object storage: `<data>/symbol-cache`.
    public var symbolCache: String { dataDirectory + "/symbol-cache" }

    /// The symbol store in object storage (`--storage s3://…`), nil when the store is `<data>/symbols`.
    var objectSymbolStore: S3SymbolStore? {
        objectStorage.map { S3SymbolStore(client: S3Client(configuration: $0)) }
    }

    /// What workers search: the service's own store first (uploads are local and cheap to probe), then
    /// the configured symbol path. A store in object storage is a symbol server to the worker, cached in
    /// `symbolCache`; its misses are never remembered, so symbols uploaded later are found on reprocessing.
    var workerSymbols: SymbolLocations {
        var locations = symbols
        if let objectStorage, let store = objectSymbolStore {
            let server = SymbolPath.Server(downstream: [.directory(symbolCache)], upstream: .url(store.url))
            locations.symbolPath.entries.insert(.server(server), at: 0)
            locations.fetch = locations.fetch.withS3Symbols(objectStorage)
        } else {
            locations.symbolPath.entries.insert(.folder(symbolStore), at: 0)
        }
        return locations
    }
}

/// `POST /symbols/upload` publishes files into the service's store as one symstore transaction;
/// `GET`/`HEAD /symbols/<file>/<key>/<file>` serve that store exactly as `postmortem serve-symbols` does.
struct SymbolRoutes {
    let parts: ServiceParts

    func register(on router: Router<ServiceRequestContext>) {
        router.post("/symbols/upload") { request, _ in try await upload(request) }
        if let store = parts.configuration.objectSymbolStore {
            router.get("/symbols/**") { request, _ in try await store.respond(to: request) }
            router.head("/symbols/**") { request, _ in try await store.respond(to: request) }
            return
        }
        let responder = SymbolFileResponder(stores: [parts.configuration.symbolStore])
        router.get("/symbols/**") { request, context in try await responder.respond(to: request, context: context) }
        router.head("/symbols/**") { request, context in try await responder.respond(to: request, context: context) }
    }

    /// The answer to a successful upload.
    struct Published: Encodable {
        struct File: Encodable {
            var file: String
            var key: String
        }
        var transaction: String
        var published: [File]
    }

    func upload(_ request: Request) async throws -> Response {
        let limit = parts.configuration.maxUploadBytes
        do {
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                throw SymbolUploadRejection(413, "Content-Length \(length) is over the \(limit)-byte limit")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw SymbolUploadRejection(413, "the body is over the \(limit)-byte limit")
            }
            let contentType = request.headers[.contentType]
            let query = request.uri.queryParameters
            let name = query.get("name")
            let files = try await blocking { () throws(SymbolUploadRejection) -> [UploadedSymbolFile] in
                try SymbolUpload.files(
                    body: Array(body.readableBytesView), contentType: contentType, name: name, maxBytes: limit)
            }
            let options = StorePublisher.AddOptions(
                product: query.get("product") ?? "", version: query.get("version") ?? "",
                comment: query.get("comment") ?? "uploaded to postmortem serve")
            let store = parts.configuration.symbolStore
            let scratch = parts.configuration.dataDirectory + "/tmp"
            let transaction: String
            if let objectStore = parts.configuration.objectSymbolStore {
                do {
                    transaction = try await objectStore.publish(
                        files, options: options, scratch: scratch, database: parts.database)
                } catch let error as StorePublisher.PublishError {
                    throw error
                } catch {
                    // Object storage or the database lock: nothing was recorded, the client may send again.
                    throw StorePublisher.PublishError.io("\(error)")
                }
            } else {
                transaction = try await blocking { try Self.publish(files, store: store, scratch: scratch, options: options) }
            }
            parts.configuration.logger.info("symbols: transaction \(transaction) published \(files.count) file(s)")
            let answer = Published(
                transaction: transaction, published: files.map { Published.File(file: $0.name, key: $0.key.path) })
            return Response.data(try APIRoutes.encoder.encode(answer), contentType: "application/json")
        } catch let rejection as SymbolUploadRejection {
            parts.configuration.logger.notice("symbol upload refused: \(rejection)")
            return Self.error(rejection.description, status: rejection.status)
        } catch let error as StorePublisher.PublishError {
            parts.configuration.logger.error("symbol upload not published: \(error)")
            return Self.error("the symbol store could not be written: \(error)", status: 503)
        }
    }

    /// Writes the files under a fresh folder of `scratch` (one sub-folder each, so equal names from an
    /// archive do not collide), publishes them as one transaction, and removes the folder.
    static func publish(
        _ files: [UploadedSymbolFile], store: String, scratch: String, options: StorePublisher.AddOptions
    ) throws -> String {
        let folder = scratch + "/symbols-" + UUID().uuidString.lowercased()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var paths = [String]()
        for (index, file) in files.enumerated() {
            let directory = "\(folder)/\(index)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/" + file.name
            try Data(file.bytes).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let result = try StorePublisher(root: store).add(paths, options: options)
        return TransactionID.format(result.transactionID)
    }

    static func error(_ message: String, status: Int) -> Response {
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data("{}".utf8)
        return Response.data(body, status: HTTPResponse.Status(code: status), contentType: "application/json")
    }
}
