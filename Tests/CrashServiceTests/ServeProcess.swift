import AsyncHTTPClient
import Foundation
import NIOCore
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `postmortem serve` run as a child process, for what only a real process shows (SIGKILL).
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var log = ""
    private var boundPort: Int?

    /// Starts the server and waits until it listens.
    init(data: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: TestEnvironment.postmortemExecutable)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.arguments =
            ["serve", "--data", data, "--port", "0", "--token", "\(ServiceFixtures.readToken.secret):read"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let reader = errors.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { return }
                lock.withLock {
                    log += String(decoding: chunk, as: UTF8.self)
                    // "postmortem: serve: all on http://127.0.0.1:PORT (data in …)"
                    if boundPort == nil, let range = log.range(of: "on http://127.0.0.1:") {
                        boundPort = Int(log[range.upperBound...].prefix { $0.isNumber })
                    }
                }
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while port == nil {
            guard process.isRunning, Date() < deadline else {
                throw ProcessFailure(description: "postmortem serve did not start: \(output)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    var port: Int? { lock.withLock { boundPort } }
    var output: String { lock.withLock { log } }
    var base: String { "http://127.0.0.1:\(port ?? 0)" }

    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// HTTP requests to a live server.
enum LiveClient {
    static let client = HTTPClient(eventLoopGroupProvider: .singleton)

    /// Posts an upload as Crashpad does: gzip body sent chunked, without a Content-Length.
    static func submit(_ upload: Upload, to base: String) async throws -> (status: Int, text: String) {
        let answer = try await post(upload, to: base)
        return (answer.status, answer.text)
    }

    /// `submit`, with the response's `Retry-After`.
    static func post(_ upload: Upload, to base: String) async throws -> (status: Int, text: String, retryAfter: String?) {
        var request = HTTPClientRequest(url: base + "/submit")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: upload.contentType)
        if upload.gzip { request.headers.add(name: "Content-Encoding", value: "gzip") }
        let body = upload.wireBody
        let pieces = stride(from: 0, to: body.readableBytes, by: 16 * 1024).map {
            body.getSlice(at: body.readerIndex + $0, length: min(16 * 1024, body.readableBytes - $0))!
        }
        request.body = .stream(pieces.async, length: .unknown)
        let response = try await client.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return (Int(response.status.code), text, response.headers.first(name: "Retry-After"))
    }

    static func get(_ url: String, token: String? = ServiceFixtures.readToken.secret) async throws -> (
        status: Int, body: ByteBuffer
    ) {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await client.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), try await response.body.collect(upTo: 64 << 20))
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence, for streamed request bodies.
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
