import Foundation
import Hummingbird

/// The JSON API under `/api/` (docs/service-api.md).
struct APIRoutes {
    let parts: ServiceParts
    let fileIO = FileIO()

    func register(on router: Router<ServiceRequestContext>) {
        registerReprocess(on: router)
        router.get("/api/buckets") { request, _ in
            let query = try ListQuery(request)
            return try json(try await parts.database.topBuckets(query.buckets))
        }
        router.get("/api/buckets/:id") { request, context in
            let id = try bucketID(context)
            guard let bucket = try await parts.database.bucket(id: id) else { throw notFound("bucket") }
            let page = try ListQuery(request)
            let reports = try await parts.database.reports(bucketID: id, page: page.page, perPage: page.perPage)
            return try json(BucketResponse(bucket: bucket, reports: reports))
        }
        router.get("/api/reports") { request, _ in
            let search = try SearchRequest(request)
            guard search.hasCriteria || search.query.status != nil else {
                throw HTTPError(
                    .badRequest,
                    message: "give status=queued|processing|processed|failed, or signature, module, version, "
                        + "product or annotation=KEY=VALUE to search")
            }
            return try json(try await parts.database.search(search.query))
        }
        router.get("/api/reports/:id") { _, context in
            let id = try reportID(context)
            guard let report = try await parts.database.report(id: id.uuidString.lowercased()) else {
                throw notFound("report")
            }
            let processed = try await parts.database.processedJSON(reportID: report.id)
            // The processed document is stored as the analyzer wrote it; it is spliced in, not re-encoded.
            var body = Data("{\"report\":".utf8)
            body += try Self.encoder.encode(report)
            body += Data(",\"processed\":".utf8)
            body += processed ?? Data("null".utf8)
            body += Data("}".utf8)
            return Response.data(body, contentType: "application/json")
        }
        router.get("/api/reports/:id/dump") { _, context in
            let id = try reportID(context)
            guard let report = try await parts.database.report(id: id.uuidString.lowercased()) else {
                throw notFound("dump")
            }
            // Gone, not Not Found: the report exists and had a dump, which retention deleted for good.
            if let purged = report.dumpPurgedAt {
                throw HTTPError(
                    .gone, message: "the dump was removed by retention on \(timeText(purged)) UTC; the processed results remain")
            }
            let body: ResponseBody
            if let local = parts.storage as? LocalDumpStorage {
                guard let path = local.localPath(for: .dump(reportID: id)) else { throw notFound("dump") }
                body = try await fileIO.loadFile(path: path, context: context)
            } else {
                let bytes = try await parts.storage.withLocalFile(.dump(reportID: id)) { path in
                    try Data(contentsOf: URL(fileURLWithPath: path))
                }
                guard let bytes else { throw notFound("dump") }
                body = ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/octet-stream",
                    .contentDisposition: "attachment; filename=\"\(id.uuidString.lowercased()).dmp\"",
                ], body: body)
        }
    }

    /// `POST /api/reprocess?bucket=ID` or `?all=true` (admin): queues finished reports again.
    func registerReprocess(on router: Router<ServiceRequestContext>) {
        router.post("/api/reprocess") { request, _ in
            let parameters = request.uri.queryParameters
            let bucket: Int64?
            if let text = parameters.get("bucket") {
                guard let id = Int64(text), id > 0 else {
                    throw HTTPError(.badRequest, message: "bucket ids are positive integers")
                }
                bucket = id
            } else if parameters.get("all") == "true" {
                bucket = nil
            } else {
                // Requeueing everything is expensive, so it is never what an empty request means.
                throw HTTPError(.badRequest, message: "give bucket=ID or all=true")
            }
            let outcome = try await parts.database.requeue(bucketID: bucket, at: Date())
            let skipped = outcome.skippedPurged > 0 ? "; \(outcome.skippedPurged) skipped, their dumps removed by retention" : ""
            parts.configuration.logger.notice(
                "reprocessing \(outcome.requeued) report(s) of \(bucket.map { "bucket \($0)" } ?? "all buckets")\(skipped)")
            return try json(outcome)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    func json<T: Encodable>(_ value: T) throws -> Response {
        Response.data(try Self.encoder.encode(value), contentType: "application/json")
    }
}

/// The search parameters of `/api/reports` and `/search`: `signature`, `module`, `version`, `product`,
/// `annotation=KEY=VALUE` (repeatable), `status`, and the lists' `page` and `per_page`.
///
/// Read as HTML forms send them (`application/x-www-form-urlencoded`: `+` is a space), so the dashboard's
/// search form and the API agree on what a query means.
struct SearchRequest {
    /// Longer criteria are refused: no real signature or module name is that long.
    static let maxLength = 1024
    static let maxAnnotations = 10

    var query: ReportSearch
    /// The criteria as given, for the form and the pager.
    var fields: [(name: String, value: String)]

    /// Whether anything narrows the search beyond the status (and the page size).
    var hasCriteria: Bool {
        query.signature != nil || query.module != nil || query.version != nil || query.product != nil
            || !query.annotations.isEmpty
    }

    init(_ request: Request) throws {
        let list = try ListQuery(request)
        var query = ReportSearch(page: list.page, perPage: list.perPage)
        var fields = [(name: String, value: String)]()
        for (name, value) in Self.formParameters(request.uri.query ?? "") where !value.isEmpty {
            guard value.count <= Self.maxLength else {
                throw HTTPError(.badRequest, message: "\(name) is longer than \(Self.maxLength) characters")
            }
            switch name {
            case "signature": query.signature = value
            case "module": query.module = value
            case "version": query.version = value
            case "product": query.product = value
            case "status":
                guard let status = ReportStatus(rawValue: value) else {
                    throw HTTPError(.badRequest, message: "status must be one of queued, processing, processed, failed")
                }
                query.status = status
            case "annotation":
                guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
                    throw HTTPError(.badRequest, message: "annotation takes KEY=VALUE")
                }
                guard query.annotations.count < Self.maxAnnotations else {
                    throw HTTPError(.badRequest, message: "at most \(Self.maxAnnotations) annotations")
                }
                query.annotations.append(
                    .init(key: String(value[..<equals]), value: String(value[value.index(after: equals)...])))
            case "per_page": break  // Read by ListQuery; kept so the pager's links keep the page size.
            default: continue
            }
            fields.append((name, value))
        }
        self.query = query
        self.fields = fields
    }

    /// `name=value` pairs of a query string, `+` as space, then percent-decoded (invalid escapes kept as sent).
    static func formParameters(_ query: String) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// The criteria as a query string, each value percent-encoded; `page` is left to the pager.
    var queryString: String {
        fields.map { "\($0.name)=\(HTML.query($0.value))" }.joined(separator: "&")
    }
}

/// `GET /api/buckets/{id}`: the bucket and a page of its reports.
struct BucketResponse: Encodable {
    var bucket: BucketDetail
    var reports: Page<ReportRecord>
}

func notFound(_ what: String) -> HTTPError { HTTPError(.notFound, message: "no such \(what)") }

/// A report id from the path: `bp-<uuid>` or `<uuid>`; anything else is refused before it reaches storage.
func reportID(_ context: ServiceRequestContext) throws -> UUID {
    guard var text = context.parameters.get("id") else { throw notFound("report") }
    if text.lowercased().hasPrefix("bp-") { text.removeFirst(3) }
    guard let id = UUID(uuidString: text) else { throw HTTPError(.badRequest, message: "report ids are UUIDs") }
    return id
}

func bucketID(_ context: ServiceRequestContext) throws -> Int64 {
    guard let id = context.parameters.get("id").flatMap(Int64.init), id > 0 else {
        throw HTTPError(.badRequest, message: "bucket ids are positive integers")
    }
    return id
}

/// The query parameters lists share: `from`, `to`, `product`, `version`, `page` (from 1), `per_page`.
struct ListQuery {
    /// Without `from`, lists cover the last 7 days.
    static let defaultDays = 7
    static let maxPerPage = 200

    var from: Date
    var to: Date
    var product: String?
    var version: String?
    /// Zero-based.
    var page: Int
    var perPage: Int

    init(_ request: Request, now: Date = Date()) throws {
        let parameters = request.uri.queryParameters
        func value(_ name: String) -> String? {
            parameters.get(name).flatMap { $0.isEmpty ? nil : $0 }
        }
        to = try value("to").map { try Self.date($0, name: "to", endOfDay: true) } ?? now.addingTimeInterval(60)
        from =
            try value("from").map { try Self.date($0, name: "from", endOfDay: false) }
            ?? to.addingTimeInterval(
                -Double(Self.defaultDays) * 86400)
        product = value("product")
        version = value("version")
        let pageNumber = try value("page").map { text in
            guard let number = Int(text), number >= 1, number <= 1_000_000 else {
                throw HTTPError(.badRequest, message: "page counts from 1")
            }
            return number
        }
        page = (pageNumber ?? 1) - 1
        perPage =
            try value("per_page").map { text in
                guard let number = Int(text), (1...Self.maxPerPage).contains(number) else {
                    throw HTTPError(.badRequest, message: "per_page is 1 to \(Self.maxPerPage)")
                }
                return number
            } ?? 50
        guard from < to else { throw HTTPError(.badRequest, message: "from must be before to") }
    }

    var buckets: BucketQuery {
        BucketQuery(from: from, to: to, product: product, version: version, page: page, perPage: perPage)
    }

    /// `YYYY-MM-DD` (a UTC day; `to` includes it) or an ISO 8601 time.
    static func date(_ text: String, name: String, endOfDay: Bool) throws -> Date {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        if text.count == 10, let date = day.date(from: text) { return endOfDay ? date.addingTimeInterval(86400) : date }
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        throw HTTPError(.badRequest, message: "\(name) takes YYYY-MM-DD or an ISO 8601 time")
    }
}
