import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A throwaway PostgreSQL server for tests: a new cluster in a temporary folder, listening on
/// 127.0.0.1 only (its Unix socket in the same folder), stopped and deleted by `stop()`.
///
/// PostgreSQL missing is a failure that names the package, never a skip.
public final class PostgresTestServer: Sendable {
    /// The folder holding the cluster, its socket and its log.
    public let directory: String
    public let port: Int
    /// The database URL `postmortem serve --database` takes.
    public var url: String {
        let password = Self.password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return "postgres://\(Self.user):\(password)@127.0.0.1:\(port)/postgres?sslmode=disable"
    }

    static let user = "postmortem"
    // Percent-encoding in the URL is exercised by the characters of this password.
    static let password = "pm p@ss:word/1"
    private let binaries: String
    private let asPostgresUser: Bool

    /// Starts a new cluster; throws when PostgreSQL is not installed or does not start.
    public static func start() throws -> PostgresTestServer {
        let binaries = try installedBinaries()
        var lastError: (any Error)?
        // A free port can be taken between asking for it and the server binding it: try a few.
        for _ in 0..<3 {
            do {
                return try PostgresTestServer(binaries: binaries)
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    /// The newest `/usr/lib/postgresql/<version>/bin` with initdb and pg_ctl.
    static func installedBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let found = versions.compactMap { version -> (Int, String)? in
            let bin = "\(root)/\(version)/bin"
            guard let number = Int(version), FileManager.default.isExecutableFile(atPath: bin + "/initdb") else { return nil }
            return (number, bin)
        }.max { $0.0 < $1.0 }
        guard let found else {
            let message =
                "*** PostgreSQL is NOT INSTALLED (no \(root)/*/bin/initdb): install the Debian package 'postgresql' "
                + "(apt-get install -y postgresql; .ci/run does) ***"
            FileHandle.standardError.write(Data((message + "\n").utf8))
            throw ProcessFailure(description: message)
        }
        return found.1
    }

    private init(binaries: String) throws {
        self.binaries = binaries
        asPostgresUser = getuid() == 0
        port = try Self.freePort()
        directory = NSTemporaryDirectory() + "postmortem-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            try Data(Self.password.utf8).write(to: URL(fileURLWithPath: directory + "/password"))
            if asPostgresUser {
                // initdb refuses to run as root; the Debian package creates the `postgres` system user.
                for path in [directory, directory + "/password"] {
                    try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: path)
                }
            }
            try run(
                "initdb",
                [
                    "-D", directory + "/data", "-U", Self.user, "--pwfile=\(directory)/password", "--auth=scram-sha-256",
                    "-E", "UTF8", "--locale=C", "--no-sync",
                ])
            let settings = """

                listen_addresses = '127.0.0.1'
                port = \(port)
                unix_socket_directories = '\(directory)'
                max_connections = 200

                """
            let conf = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/data/postgresql.conf"))
            try conf.seekToEnd()
            try conf.write(contentsOf: Data(settings.utf8))
            try conf.close()
            try run("pg_ctl", ["-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "60", "start"], daemon: true)
        } catch {
            let log = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: directory)
            throw ProcessFailure(description: "PostgreSQL did not start: \(error)\n\(log)")
        }
    }

    /// Runs `sql` with psql as the test user and returns its unaligned output: what the service under
    /// test cannot do for a test, such as building a database as an older version left it.
    public func psql(_ sql: String) throws -> String {
        let result = try runProcess(
            binaries + "/psql",
            ["-h", "127.0.0.1", "-p", String(port), "-U", Self.user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"],
            input: Data(sql.utf8), environment: ["PGPASSWORD": Self.password])
        guard result.status == 0 else {
            throw ProcessFailure(description: "psql exited with \(result.status): \(result.stderrText)")
        }
        return result.stdoutText
    }

    /// Stops the server at once and deletes the cluster.
    public func stop() {
        _ = try? run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a PostgreSQL program, as the `postgres` user when the tests run as root.
    ///
    /// A `daemon` (pg_ctl start) writes to a file, not a pipe: the server it leaves running inherits the
    /// child's descriptors, and a pipe it held open would never reach end-of-file.
    private func run(_ program: String, _ arguments: [String], daemon: Bool = false) throws {
        var command = [binaries + "/" + program] + arguments
        if asPostgresUser {
            // Started in the cluster's folder: the postgres user may not be allowed into the tests' own.
            command = ["/usr/sbin/runuser", "-u", "postgres", "--", "/usr/bin/env", "-C", directory] + command
        }
        let status: Int32
        let output: String
        if daemon {
            let outputPath = directory + "/\(program).out"
            status = try Self.spawnAndWait(command, output: outputPath)
            output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        } else {
            let result = try runProcess(command[0], Array(command.dropFirst()))
            status = result.status
            output = result.stderrText + result.stdoutText
        }
        guard status == 0 else { throw ProcessFailure(description: "\(program) exited with \(status): \(output)") }
    }

    /// Runs `command` with its output in the file `output` and returns its exit status.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: Process did not notice the exit of a
    /// `runuser … pg_ctl start` whose server kept running (the child stayed a zombie, waitUntilExit never returned).
    private static func spawnAndWait(_ command: [String], output: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = command.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, command[0], &actions, nil, arguments, environ)
        guard spawned == 0 else { throw ProcessFailure(description: "cannot start \(command[0]): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw ProcessFailure(description: "waitpid failed: errno \(errno)") }
        }
        // WIFEXITED and WEXITSTATUS, which Swift does not import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }

    /// A port nothing listens on now, chosen by the kernel.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProcessFailure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw ProcessFailure(description: "cannot bind a port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs `body` with a new PostgreSQL server, stopped and deleted afterwards whatever happens.
public func withPostgresServer<T>(_ body: (PostgresTestServer) async throws -> T) async throws -> T {
    let server = try PostgresTestServer.start()
    do {
        let result = try await body(server)
        server.stop()
        return result
    } catch {
        server.stop()
        throw error
    }
}
