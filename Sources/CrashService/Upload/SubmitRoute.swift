import Foundation
import Hummingbird
import NIOCore

/// `POST /submit`: stores an upload durably, queues it, and answers `CrashID=bp-<uuid>`.
struct SubmitRoute {
    let parts: ServiceParts
    let limiter: SubmitRateLimiter

    init(parts: ServiceParts) {
        self.parts = parts
        self.limiter = SubmitRateLimiter(limit: parts.configuration.submitRate)
    }

    func register(on router: Router<ServiceRequestContext>) {
        router.post("/submit") { request, context in
            // Checked before the body is read, so a flood costs the server as little as possible.
            let client = context.remoteAddress?.ipAddress ?? "unknown"
            if case .limited(let retryAfter) = limiter.take(client: client) {
                return rateLimited(client: client, retryAfter: retryAfter)
            }
            return try await submit(request)
        }
    }

    /// `429` with `Retry-After`, in the `Discarded=` form crash reporters log, and a line for people.
    func rateLimited(client: String, retryAfter: Int) -> Response {
        parts.metrics.rejected(reason: "rate_limited")
        let limit = limiter.limit
        var response = Response.text(
            "Discarded=rate_limited\ntoo many uploads from \(client): \(limit.rateText) per second are allowed, "
                + "\(limit.burst) at once; retry after \(retryAfter) s\n", status: .tooManyRequests)
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }

    func submit(_ request: Request) async throws -> Response {
        let limit = parts.configuration.maxUploadBytes
        do {
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                throw SubmissionRejection("too_large", status: 413, detail: "Content-Length \(length) > \(limit)")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw SubmissionRejection("too_large", status: 413, detail: "body over \(limit) bytes")
            }
            let headers = request.headers
            let submission = try await blocking { () throws(SubmissionRejection) -> Submission in
                try SubmissionParser.parse(
                    body: body, contentType: headers[.contentType], contentEncoding: headers[.contentEncoding], maxBytes: limit)
            }
            let id = try await store(submission)
            parts.metrics.accepted(bytes: submission.body.count)
            return Response.text("CrashID=bp-\(id.uuidString.lowercased())\n")
        } catch let rejection as SubmissionRejection {
            parts.metrics.rejected(reason: rejection.reason)
            parts.configuration.logger.notice("upload refused: \(rejection)")
            return Response.text(
                "Discarded=\(rejection.reason)\n", status: HTTPResponse.Status(code: rejection.status))
        }
    }

    /// Writes the files (each synced, renamed, its folder synced), then the row and job in one
    /// transaction; only then is the upload acknowledged.
    func store(_ submission: Submission) async throws -> UUID {
        let id = UUID()
        let storage = parts.storage
        var attachments = [AttachmentRecord]()
        for (index, part) in submission.attachments.enumerated() {
            attachments.append(
                AttachmentRecord(index: index, field: part.name, fileName: part.fileName, size: part.range.count))
        }
        do {
            for (index, part) in submission.attachments.enumerated() {
                try await storage.put(Data(submission.body[part.range]), at: .attachment(reportID: id, index: index))
            }
            try await storage.put(Data(submission.body[submission.dump.range]), at: .dump(reportID: id))
            try await parts.database.insert(
                NewReport(
                    id: id.uuidString.lowercased(), receivedAt: Date(), product: submission.product,
                    version: submission.version, annotations: submission.annotations, dumpSize: submission.dump.range.count,
                    attachments: attachments))
        } catch {
            parts.configuration.logger.error("upload not stored: \(error)")
            throw SubmissionRejection("storage_unavailable", status: 503, detail: "\(error)")
        }
        return id
    }
}
