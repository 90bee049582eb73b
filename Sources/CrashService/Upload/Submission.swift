import CompressNIO
import Foundation
import NIOCore

/// A crash report as uploaded: annotations, the dump and further files, as ranges of the body.
public struct Submission: Sendable {
    /// The decoded (gunzipped) body the ranges point into.
    public var body: [UInt8]
    public var annotations: [String: String]
    /// The `upload_file_minidump` part.
    public var dump: FormPart
    /// Other file parts, in upload order.
    public var attachments: [FormPart]

    /// `prod` (Crashpad), `ProductName` (Breakpad, Socorro) or `product`.
    public var product: String? { firstAnnotation(["prod", "ProductName", "product"]) }
    /// `ver` (Crashpad), `Version` (Breakpad, Socorro) or `version`.
    public var version: String? { firstAnnotation(["ver", "Version", "version"]) }

    private func firstAnnotation(_ keys: [String]) -> String? {
        keys.lazy.compactMap { annotations[$0] }.first { !$0.isEmpty }
    }
}

/// Why an upload was refused: the HTTP status and Socorro's `Discarded=<reason>` name.
public struct SubmissionRejection: Error, Equatable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    /// More detail for the log; the client gets only the reason.
    public var detail: String

    init(_ reason: String, status: Int = 400, detail: String = "") {
        self.status = status
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "Discarded=\(reason)" + (detail.isEmpty ? "" : " (\(detail))") }
}

/// Reads a Breakpad/Crashpad upload: `multipart/form-data`, optionally gzip-encoded as a whole.
public enum SubmissionParser {
    /// The form field of the crashing process's dump.
    public static let dumpField = "upload_file_minidump"

    /// Decodes and parses a body; `maxBytes` bounds the decompressed size too.
    public static func parse(
        body: ByteBuffer, contentType: String?, contentEncoding: String?, maxBytes: Int
    ) throws(SubmissionRejection) -> Submission {
        guard let contentType, !contentType.isEmpty else { throw SubmissionRejection("malformed_no_content_type") }
        guard contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw SubmissionRejection("malformed_wrong_content_type", detail: contentType)
        }
        guard let boundary = Multipart.boundary(contentType: contentType) else {
            throw SubmissionRejection("malformed_no_boundary")
        }
        let bytes = try decode(body, encoding: contentEncoding, maxBytes: maxBytes)
        let parts: [FormPart]
        do {
            parts = try Multipart.parse(bytes, boundary: boundary)
        } catch {
            throw SubmissionRejection("malformed_invalid_payload_structure", detail: error.description)
        }
        return try assemble(parts, body: bytes)
    }

    static func decode(_ body: ByteBuffer, encoding: String?, maxBytes: Int) throws(SubmissionRejection) -> [UInt8] {
        switch encoding?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "", "identity":
            return Array(body.readableBytesView)
        case "gzip", "x-gzip":
            var compressed = body
            do {
                let inflated = try compressed.decompress(with: .gzip(), maxSize: maxBytes)
                return Array(inflated.readableBytesView)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                throw SubmissionRejection("too_large", status: 413, detail: "more than \(maxBytes) bytes once decompressed")
            } catch {
                throw SubmissionRejection("malformed_bad_gzip", detail: "\(error)")
            }
        case let other?:
            throw SubmissionRejection("malformed_bad_content_encoding", status: 415, detail: other)
        }
    }

    /// Sorts parts into the dump, attachments and annotations, with Socorro's rules for `extra`.
    static func assemble(_ parts: [FormPart], body: [UInt8]) throws(SubmissionRejection) -> Submission {
        var dump: FormPart?
        var attachments = [FormPart]()
        var fields = [String: String]()
        var extra: String?
        for part in parts {
            if part.name == dumpField && dump == nil {
                dump = part
            } else if part.fileName != nil {
                attachments.append(part)
            } else if part.name == "extra" {
                extra = String(decoding: body[part.range], as: UTF8.self)
            } else {
                // A repeated field keeps its first value, as Socorro does.
                if fields[part.name] == nil { fields[part.name] = String(decoding: body[part.range], as: UTF8.self) }
            }
        }
        var annotations = fields
        if let extra {
            guard fields.isEmpty else { throw SubmissionRejection("malformed_has_json_and_kv") }
            annotations = try flatten(json: extra)
        }
        guard !annotations.isEmpty else { throw SubmissionRejection("malformed_no_annotations") }
        guard let dump, !dump.range.isEmpty else { throw SubmissionRejection("malformed_no_minidump") }
        return Submission(body: body, annotations: annotations, dump: dump, attachments: attachments)
    }

    /// The `extra` field: a JSON object whose values become strings (nested values as JSON text).
    static func flatten(json: String) throws(SubmissionRejection) -> [String: String] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        } catch {
            throw SubmissionRejection("malformed_invalid_json", detail: "\(error)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw SubmissionRejection("malformed_invalid_json", detail: "extra is not a JSON object")
        }
        var annotations = [String: String]()
        for (key, value) in dictionary {
            switch value {
            case let text as String: annotations[key] = text
            case let number as NSNumber: annotations[key] = number.stringValue
            case is NSNull: continue
            default:
                if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
                    annotations[key] = String(decoding: data, as: UTF8.self)
                }
            }
        }
        return annotations
    }
}
