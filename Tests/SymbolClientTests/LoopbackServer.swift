import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 with an ephemeral port, for client tests: it serves a
/// folder laid out as a symbol store, counts requests per path, and misbehaves on demand.
/// Every connection is closed after one response.
final class LoopbackServer: @unchecked Sendable {
    /// What to answer to one request.
    enum Reply {
        /// 200 with the body.
        case body(Data)
        /// A status with an empty body.
        case status(Int)
        /// Read the request, then say nothing for `seconds` and close.
        case hang(seconds: Double)
        /// Announce `contentLength` bytes, send `sent` of them, then close cleanly (FIN).
        case truncated(contentLength: Int, sent: Data)
        /// Announce `contentLength` bytes, send `sent` of them, then reset the connection (RST).
        case dropped(contentLength: Int, sent: Data)
    }

    /// Picks a reply for a path and the number of times it was asked (1 for the first); nil
    /// falls back to the folder (200 with the file, or 404).
    typealias Behavior = @Sendable (_ path: String, _ count: Int) -> Reply?

    let root: String
    let port: UInt16
    private let listener: Int32
    private let behavior: Behavior
    private let lock = NSLock()
    private var log = [String]()

    init(root: String, behavior: @escaping Behavior = { _, _ in nil }) throws {
        self.root = root
        self.behavior = behavior
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(text: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ServerError(text: "bind/listen")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    struct ServerError: Error { var text: String }

    /// `http://127.0.0.1:PORT`.
    var url: String { "http://127.0.0.1:\(port)" }

    /// The paths asked for so far, in order.
    var requests: [String] {
        lock.withLock { log }
    }

    /// Stops accepting connections.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while request.count < 65536, !request.ends(with: Array("\r\n\r\n".utf8)) {
            let count = read(connection, &chunk, chunk.count)
            if count <= 0 { break }
            request += chunk[0..<count]
        }
        let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else {
            close(connection)
            return
        }
        let path = String(parts[1]).removingPercentEncoding ?? String(parts[1])
        let count = lock.withLock {
            log.append(path)
            return log.filter { $0 == path }.count
        }
        let reply = behavior(path, count) ?? fileReply(path)
        switch reply {
        case .body(let data):
            send(connection, header(200, length: data.count) + data)
            close(connection)
        case .status(let code):
            send(connection, header(code, length: 0))
            close(connection)
        case .hang(let seconds):
            Thread.sleep(forTimeInterval: seconds)
            close(connection)
        case .truncated(let length, let sent):
            send(connection, header(200, length: length) + sent)
            shutdown(connection, Int32(SHUT_WR))
            close(connection)
        case .dropped(let length, let sent):
            send(connection, header(200, length: length) + sent)
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(connection)
        }
    }

    private func fileReply(_ path: String) -> Reply {
        guard !path.contains(".."), let data = FileManager.default.contents(atPath: root + path) else { return .status(404) }
        return .body(data)
    }

    private func header(_ code: Int, length: Int) -> Data {
        let reason = [200: "OK", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"][code] ?? "Status"
        return Data("HTTP/1.1 \(code) \(reason)\r\nContent-Length: \(length)\r\nConnection: close\r\n\r\n".utf8)
    }

    private func send(_ connection: Int32, _ data: Data) {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(connection, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
