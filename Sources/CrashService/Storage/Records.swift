import Foundation

/// A report as stored: what was uploaded, where it is in processing, and what processing found.
public struct ReportRecord: Sendable, Codable, Equatable {
    /// The generated id (a lowercase UUID); the crash reporter is told `bp-<id>`.
    public var id: String
    public var receivedAt: Date
    public var product: String?
    public var version: String?
    /// The annotations as uploaded (form fields, or the `extra` JSON flattened to strings).
    public var annotations: [String: String]
    public var dumpSize: Int
    public var attachments: [AttachmentRecord]
    public var status: ReportStatus
    /// Why processing failed, for failed reports.
    public var failure: String?
    public var signature: String?
    public var bucketID: Int64?
    public var crashReason: String?
    public var crashAddress: String?
    /// The WER bucket parameters joined by `|`, when processing produced them.
    public var werBucket: String?
    /// Operating system and CPU, e.g. `Windows NT amd64`.
    public var platform: String?
    public var processedAt: Date?
    public var processingSeconds: Double?
    /// When retention deleted the dump and attachments (the processed results stay); nil while they are stored.
    public var dumpPurgedAt: Date? = nil

    enum CodingKeys: String, CodingKey {
        case id, receivedAt = "received_at", product, version, annotations, dumpSize = "dump_size", attachments, status,
            failure, signature, bucketID = "bucket_id", crashReason = "crash_reason", crashAddress = "crash_address",
            werBucket = "wer_bucket", platform, processedAt = "processed_at", processingSeconds = "processing_seconds",
            dumpPurgedAt = "dump_purged_at"
    }
}

/// Where a report is in its life.
public enum ReportStatus: String, Sendable, Codable, CaseIterable {
    /// Stored and waiting for a worker (or for its retry time).
    case queued
    /// Claimed by a worker.
    case processing
    case processed
    /// Processing gave up; `failure` says why.
    case failed
}

/// A file part other than the dump, stored beside it under a generated name.
public struct AttachmentRecord: Sendable, Codable, Equatable {
    /// Its position among the report's attachments; the stored file's name.
    public var index: Int
    /// The form field name it came in.
    public var field: String
    /// The file name the client gave (shown, never used as a path).
    public var fileName: String?
    public var size: Int

    enum CodingKeys: String, CodingKey {
        case index, field, fileName = "file_name", size
    }
}

/// A new report to store with its job, in one transaction.
public struct NewReport: Sendable {
    public var id: String
    public var receivedAt: Date
    public var product: String?
    public var version: String?
    public var annotations: [String: String]
    public var dumpSize: Int
    public var attachments: [AttachmentRecord]
}

/// A job a worker holds until its lease expires.
public struct ClaimedJob: Sendable, Equatable {
    public var reportID: String
    /// How many times it has been claimed, this claim included.
    public var attempt: Int
}

/// What a worker stores for a processed report.
public struct ProcessingResult: Sendable {
    public var signature: String
    public var crashReason: String?
    public var crashAddress: String?
    public var werBucket: String?
    public var platform: String?
    public var processedJSON: Data
    public var processingSeconds: Double
    public var processedAt: Date
}

/// Which reports the bucket list counts.
public struct BucketQuery: Sendable, Equatable {
    /// Received at or after.
    public var from: Date
    /// Received before.
    public var to: Date
    public var product: String?
    public var version: String?
    /// Zero-based page.
    public var page: Int
    public var perPage: Int

    /// Creates a query.
    public init(from: Date, to: Date, product: String? = nil, version: String? = nil, page: Int = 0, perPage: Int = 50) {
        self.from = from
        self.to = to
        self.product = product
        self.version = version
        self.page = page
        self.perPage = perPage
    }
}

/// One bucket in the top list.
public struct BucketSummary: Sendable, Codable, Equatable {
    public var id: Int64
    public var signature: String
    /// Reports in the queried range.
    public var count: Int
    public var firstSeen: Date
    public var lastSeen: Date
    /// Versions among the counted reports, most frequent first.
    public var versions: [String]

    enum CodingKeys: String, CodingKey {
        case id, signature, count, firstSeen = "first_seen", lastSeen = "last_seen", versions
    }
}

/// A count of something within a bucket.
public struct Tally: Sendable, Codable, Equatable {
    public var value: String
    public var count: Int
}

/// A bucket with what its reports have in common and where they differ.
public struct BucketDetail: Sendable, Codable, Equatable {
    public var id: Int64
    public var signature: String
    public var firstSeen: Date
    public var lastSeen: Date
    public var reportCount: Int
    /// The WER buckets of its reports; grouping by signature keeps rebuilds of a module together, WER splits them.
    public var werBuckets: [Tally]
    public var versions: [Tally]
    public var products: [Tally]
    public var platforms: [Tally]

    enum CodingKeys: String, CodingKey {
        case id, signature, firstSeen = "first_seen", lastSeen = "last_seen", reportCount = "report_count",
            werBuckets = "wer_buckets", versions, products, platforms
    }
}

/// One page of results and how many there are in all.
public struct Page<Item: Sendable & Codable & Equatable>: Sendable, Codable, Equatable {
    public var items: [Item]
    public var page: Int
    public var perPage: Int
    public var total: Int

    enum CodingKeys: String, CodingKey {
        case items, page, perPage = "per_page", total
    }
}

/// Reports received on one day (UTC).
public struct DayCount: Sendable, Codable, Equatable {
    /// `YYYY-MM-DD`.
    public var day: String
    public var count: Int
}

/// The queue at a moment.
public struct QueueDepth: Sendable, Equatable {
    /// Waiting for a worker (including retries not yet due).
    public var waiting: Int
    /// Held by a worker under a lease.
    public var leased: Int
}

/// What a reprocessing request did.
public struct RequeueOutcome: Sendable, Codable, Equatable {
    /// Reports queued again.
    public var requeued: Int
    /// Matching reports left alone because retention deleted their dumps: there is nothing to analyze again.
    public var skippedPurged: Int

    enum CodingKeys: String, CodingKey {
        case requeued, skippedPurged = "skipped_purged"
    }
}

/// A report whose dump and attachments retention is deleting.
public struct PurgeCandidate: Sendable, Equatable {
    public var reportID: String
    /// The indexes of its attachments, the stored files' names.
    public var attachmentIndexes: [Int]
}

/// Which reports a search returns; every criterion given must hold.
public struct ReportSearch: Sendable, Equatable {
    /// A case-insensitive substring of the signature (ASCII letters fold; `%` and `_` match themselves).
    public var signature: String?
    /// The file name of a module loaded in the crash, case-insensitive (ASCII letters fold), e.g. `kernel32.dll`.
    public var module: String?
    /// The product version, exactly.
    public var version: String?
    /// The product, exactly.
    public var product: String?
    /// Annotations the submission carried, key and value exactly.
    public var annotations: [Annotation]
    /// Only reports with this status.
    public var status: ReportStatus?
    /// Zero-based page.
    public var page: Int
    public var perPage: Int

    /// One `key=value` annotation criterion.
    public struct Annotation: Sendable, Equatable {
        public var key: String
        public var value: String

        /// Creates a criterion.
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Creates a search; without criteria it lists every report.
    public init(
        signature: String? = nil, module: String? = nil, version: String? = nil, product: String? = nil,
        annotations: [Annotation] = [], status: ReportStatus? = nil, page: Int = 0, perPage: Int = 50
    ) {
        self.signature = signature
        self.module = module
        self.version = version
        self.product = product
        self.annotations = annotations
        self.status = status
        self.page = page
        self.perPage = perPage
    }

    /// The `LIKE` pattern of `signature`: lowercased as SQL's `lower()` lowercases in both databases (ASCII
    /// only), with `\`, `%` and `_` escaped so a user's text never acts as a wildcard (`ESCAPE '\'`).
    var signaturePattern: String? {
        signature.map { text in
            // By scalar, not Character: a `%` followed by a combining mark is one Character, yet a wildcard to SQL.
            var pattern = "%".unicodeScalars
            for scalar in text.asciiLowercased.unicodeScalars {
                if scalar == "\\" || scalar == "%" || scalar == "_" { pattern.append("\\") }
                pattern.append(scalar)
            }
            pattern.append("%")
            return String(pattern)
        }
    }
}

extension String {
    /// ASCII letters lowercased, every other character kept: what `lower()` does in SQLite and in
    /// PostgreSQL's "C" collation, so both databases compare the same text.
    var asciiLowercased: String {
        String(String.UnicodeScalarView(unicodeScalars.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32)! : $0 }))
    }
}

/// The file names of the modules in a processed crash document, lowercased (ASCII) for searching.
enum ProcessedModules {
    private struct Document: Decodable {
        var modules: [Module]?
    }

    private struct Module: Decodable {
        var filename: String?
    }

    /// Distinct names in first-seen order; none when the document has no module list.
    static func names(in json: Data) -> [String] {
        // Only the names are decoded; the rest of the document is skipped.
        let modules = (try? JSONDecoder().decode(Document.self, from: json))?.modules ?? []
        var seen = Set<String>()
        return modules.compactMap { $0.filename?.asciiLowercased }.filter { !$0.isEmpty && seen.insert($0).inserted }
    }
}
