import Foundation
import NIOCore
import TestSupport
import Testing

@testable import CrashService

/// The token bucket on `POST /submit`, on a clock the test sets, and through a real server.
@Suite("Submit rate limit", .ownThread)
struct SubmitRateLimitTests {
    let start = ContinuousClock.now

    @Test func aFullBucketAllowsTheBurstThenRefillsAtTheRate() {
        let limiter = SubmitRateLimiter(limit: SubmitRateLimit(perSecond: 1, burst: 3))
        for _ in 0..<3 { #expect(limiter.take(client: "10.0.0.1", now: start) == .allowed) }
        #expect(limiter.take(client: "10.0.0.1", now: start) == .limited(retryAfter: 1))
        // Another address has a bucket of its own.
        #expect(limiter.take(client: "10.0.0.2", now: start) == .allowed)
        // Half a second earns half a token: still refused, and told to wait the other half (rounded up).
        #expect(limiter.take(client: "10.0.0.1", now: start + .milliseconds(500)) == .limited(retryAfter: 1))
        #expect(limiter.take(client: "10.0.0.1", now: start + .seconds(1)) == .allowed)
        #expect(limiter.take(client: "10.0.0.1", now: start + .seconds(1)) == .limited(retryAfter: 1))
        // A long pause refills no more than the burst.
        for _ in 0..<3 { #expect(limiter.take(client: "10.0.0.1", now: start + .seconds(600)) == .allowed) }
        #expect(limiter.take(client: "10.0.0.1", now: start + .seconds(600)) != .allowed)
    }

    @Test func slowRatesAskForLongerWaits() {
        let limiter = SubmitRateLimiter(limit: SubmitRateLimit(perSecond: 0.25, burst: 1))
        #expect(limiter.take(client: "::1", now: start) == .allowed)
        #expect(limiter.take(client: "::1", now: start) == .limited(retryAfter: 4))
        #expect(limiter.take(client: "::1", now: start + .seconds(3)) == .limited(retryAfter: 1))
        #expect(limiter.take(client: "::1", now: start + .seconds(4)) == .allowed)
    }

    @Test func rateZeroTurnsTheLimitOff() {
        let limiter = SubmitRateLimiter(limit: SubmitRateLimit(perSecond: 0, burst: 1))
        for _ in 0..<1000 { #expect(limiter.take(client: "10.0.0.1", now: start) == .allowed) }
    }

    /// A burst past the limit gets 429s; after waiting as long as `Retry-After` says, uploads succeed again.
    @Test func aBurstBeyondTheLimitIsRefusedUntilRetryAfterHasPassed() async throws {
        let data = try ServiceFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: data) }
        // One token every 2 s: the burst of 3 is spent long before the next token arrives.
        let server = try ServeProcess(data: data, arguments: ["--submit-rate", "0.5", "--submit-burst", "3"])
        defer { server.terminate() }
        let upload = Upload.crashpad(dump: try ServiceFixtures.bytes(TestEnvironment.local("rust-minidump/test.dmp")))

        var answers = [(status: Int, text: String, retryAfter: String?)]()
        while answers.count < 30, answers.last?.status != 429 {
            answers.append(try await LiveClient.post(upload, to: server.base))
        }
        #expect(answers.prefix(3).allSatisfy { $0.status == 200 }, "the burst is allowed: \(answers.prefix(3).map(\.text))")
        let refused = try #require(answers.last { $0.status == 429 }, "no 429 in \(answers.count) uploads")
        #expect(refused.text.hasPrefix("Discarded=rate_limited\n"))
        #expect(refused.text.contains("127.0.0.1"))
        let wait = try #require(refused.retryAfter.flatMap { Int($0) }, "Retry-After: \(refused.retryAfter ?? "missing")")
        #expect(wait >= 1)

        try await Task.sleep(for: .seconds(wait))
        let again = try await LiveClient.post(upload, to: server.base)
        #expect(again.status == 200, "after \(wait) s: \(again.text)")
        #expect(LiveServiceTests.crashID(again.text) != nil)

        let metrics = String(buffer: try await LiveClient.get(server.base + "/metrics").body)
        #expect(metrics.contains("postmortem_uploads_rejected_total{reason=\"rate_limited\"} 1"))
    }
}
