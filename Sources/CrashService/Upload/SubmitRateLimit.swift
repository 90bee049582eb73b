import Foundation

/// How fast one client (one remote IP address) may post to `/submit`: a token bucket.
public struct SubmitRateLimit: Sendable, Equatable {
    /// Submissions per second a client earns back; 0 turns the limit off.
    public var perSecond: Double
    /// Submissions a client may send at once after being idle (the bucket's size).
    public var burst: Int

    /// Creates a limit; the default lets a client send 100 reports at once and 10 a second after that,
    /// far more than a crash reporter sends, so that only a loop or a flood is refused.
    public init(perSecond: Double = 10, burst: Int = 100) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// No limit.
    public static let unlimited = SubmitRateLimit(perSecond: 0, burst: 0)

    var isEnabled: Bool { perSecond > 0 }

    /// The rate as people write it: `10`, `0.5`.
    var rateText: String { perSecond == perSecond.rounded() && perSecond < 1e15 ? String(Int(perSecond)) : String(perSecond) }
}

/// The token buckets of the clients seen recently, one per address.
final class SubmitRateLimiter: @unchecked Sendable {
    /// The outcome for one request.
    enum Decision: Equatable {
        case allowed
        /// Refused; a token will be there after this many whole seconds.
        case limited(retryAfter: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let limit: SubmitRateLimit
    private let lock = NSLock()
    private var buckets = [String: Bucket]()
    /// Past this many clients, full buckets are dropped: a full bucket is what a new client gets anyway,
    /// so forgetting it changes nothing and the table cannot grow with every address ever seen.
    private let pruneThreshold = 10_000

    init(limit: SubmitRateLimit) {
        self.limit = limit
    }

    /// Takes one token from `client`'s bucket, refilled for the time since its last request.
    func take(client: String, now: ContinuousClock.Instant = .now) -> Decision {
        guard limit.isEnabled else { return .allowed }
        let capacity = Double(max(1, limit.burst))
        return lock.withLock {
            var bucket = buckets[client] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = max(0, (now - bucket.updated).seconds)
            bucket.tokens = min(capacity, bucket.tokens + elapsed * limit.perSecond)
            bucket.updated = now
            defer {
                buckets[client] = bucket
                if buckets.count > pruneThreshold { prune(now: now, capacity: capacity) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return .allowed
            }
            // Whole seconds, rounded up: after waiting this long the client is sure to have a token.
            let wait = ((1 - bucket.tokens) / limit.perSecond).rounded(.up)
            return .limited(retryAfter: Int(min(max(1, wait), 86_400)))
        }
    }

    /// Drops the buckets that have refilled completely by `now`.
    private func prune(now: ContinuousClock.Instant, capacity: Double) {
        buckets = buckets.filter { _, bucket in
            bucket.tokens + (now - bucket.updated).seconds * limit.perSecond < capacity
        }
    }
}
