import Foundation

/// Counters of this process, rendered in the Prometheus text format at `/metrics`.
public final class ServiceMetrics: @unchecked Sendable {
    /// Upper bounds of the processing-time histogram, in seconds.
    static let processingBounds: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    private let lock = NSLock()
    private var uploadsAccepted = 0
    private var uploadBytes = 0
    private var uploadsRejected = [String: Int]()
    private var processed = 0
    private var failures = [String: Int]()
    private var processingBuckets = [Int](repeating: 0, count: processingBounds.count)
    private var processingCount = 0
    private var processingSum = 0.0
    private var dumpsPurged = 0

    /// Creates zeroed counters.
    public init() {}

    func accepted(bytes: Int) {
        lock.withLock {
            uploadsAccepted += 1
            uploadBytes += bytes
        }
    }

    func rejected(reason: String) { lock.withLock { uploadsRejected[reason, default: 0] += 1 } }

    func processed(seconds: Double) {
        lock.withLock {
            processed += 1
            processingCount += 1
            processingSum += seconds
            for (index, bound) in Self.processingBounds.enumerated() where seconds <= bound { processingBuckets[index] += 1 }
        }
    }

    /// Counts a processing failure: `failed` (the dump cannot be analyzed), `retried`, `abandoned` (lease ran out too often), `lost_lease`.
    func failure(_ kind: String) { lock.withLock { failures[kind, default: 0] += 1 } }

    /// Counts a report whose dump and attachments retention deleted.
    func dumpPurged() { lock.withLock { dumpsPurged += 1 } }

    /// The Prometheus exposition text, with the queue and report gauges read from the database.
    func render(queue: QueueDepth?, statuses: [ReportStatus: Int]?) -> String {
        lock.withLock {
            var lines = [String]()
            func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
                lines.append("# HELP \(name) \(help)")
                lines.append("# TYPE \(name) \(type)")
                for sample in samples { lines.append("\(name)\(sample.labels) \(sample.value)") }
            }
            metric(
                "postmortem_uploads_accepted_total", "counter", "Uploads stored and acknowledged.",
                [("", "\(uploadsAccepted)")])
            metric(
                "postmortem_upload_bytes_total", "counter", "Bytes of accepted uploads (decoded).", [("", "\(uploadBytes)")])
            metric(
                "postmortem_uploads_rejected_total", "counter", "Uploads refused, by Discarded reason.",
                uploadsRejected.sorted { $0.key < $1.key }.map { ("{reason=\"\($0.key)\"}", "\($0.value)") })
            metric("postmortem_reports_processed_total", "counter", "Reports processed by this process.", [("", "\(processed)")])
            metric(
                "postmortem_processing_failures_total", "counter", "Processing failures, by kind.",
                failures.sorted { $0.key < $1.key }.map { ("{kind=\"\($0.key)\"}", "\($0.value)") })
            metric(
                "postmortem_dumps_purged_total", "counter", "Reports whose dump and attachments retention deleted.",
                [("", "\(dumpsPurged)")])
            var histogram = [(labels: String, value: String)]()
            for (index, bound) in Self.processingBounds.enumerated() {
                histogram.append(("_bucket{le=\"\(bound)\"}", "\(processingBuckets[index])"))
            }
            histogram.append(("_bucket{le=\"+Inf\"}", "\(processingCount)"))
            histogram.append(("_sum", String(format: "%.6f", processingSum)))
            histogram.append(("_count", "\(processingCount)"))
            metric("postmortem_processing_seconds", "histogram", "Time to analyze and store one report.", histogram)
            if let queue {
                metric(
                    "postmortem_queue_depth", "gauge", "Jobs in the queue, waiting or leased to a worker.",
                    [("{state=\"waiting\"}", "\(queue.waiting)"), ("{state=\"leased\"}", "\(queue.leased)")])
            }
            if let statuses {
                metric(
                    "postmortem_reports", "gauge", "Stored reports by status.",
                    ReportStatus.allCases.map { ("{status=\"\($0.rawValue)\"}", "\(statuses[$0] ?? 0)") })
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
