import Foundation
import TestSupport
import Testing

@testable import SymbolStore

@Suite(.ownThread) struct PublishTests {
    static let x64 = ["fixture.exe", "fixture.pdb", "fixturedll.dll", "fixturedll.pdb"].map {
        TestEnvironment.shared("generated/pe/x64/" + $0)
    }
    static let x86 = ["fixture.exe", "fixture.pdb"].map { TestEnvironment.shared("generated/pe/x86/" + $0) }

    /// Files only we write: `refs.ptr` (the symstore package does not write it) and our lock file.
    static func ours(_ path: String) -> Bool {
        path.hasSuffix("refs.ptr") || path.hasSuffix(".postmortem.lock")
    }

    static func withoutDates(_ text: String) -> String {
        text.replacingOccurrences(of: #"\d\d/\d\d/\d\d\d\d,\d\d:\d\d:\d\d"#, with: "<date>", options: .regularExpression)
    }

    /// Transaction file entries as (file, index, source file name), comparable across
    /// source folders and across the closing-quote difference.
    static func entries(_ path: String) throws -> [String] {
        try TransactionEntry.parseAll(readText(path)).map {
            "\($0.fileName)\\\($0.index) \($0.sourcePath.split(separator: "/").suffix(2).joined(separator: "/"))"
        }
    }

    @Test func sameStoreAsTheFixture() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("fixture")
        defer { removeFolder(root) }
        let publisher = StorePublisher(root: root)
        let first = try publisher.add(Self.x64, options: .init(product: "fixture", version: "1.0", comment: "x64 plain"))
        let second = try publisher.add(
            Self.x86, options: .init(product: "fixture", version: "1.0", comment: "x86 compressed", compress: true))
        #expect(first.transactionID == 1 && second.transactionID == 2)
        let fixture = FixtureStoreTests.storeRoot
        #expect(fileTree(root, excluding: Self.ours) == fileTree(fixture))
        for name in ["server.txt", "history.txt"] {
            #expect(
                Self.withoutDates(readText(root + "/000Admin/" + name))
                    == Self.withoutDates(readText(fixture + "/000Admin/" + name)), "\(name)")
        }
        #expect(readText(root + "/000Admin/lastid.txt") == readText(fixture + "/000Admin/lastid.txt"))
        for id in ["0000000001", "0000000002"] {
            #expect(try Self.entries(root + "/000Admin/" + id) == Self.entries(fixture + "/000Admin/" + id))
        }
        // Stored files: plain ones byte for byte, compressed ones by their contents.
        for file in fileTree(fixture) where !file.hasPrefix("000Admin") && file != "pingme.txt" {
            if file.hasSuffix("_") {
                let ours = try Cabinet(path: root + "/" + file).extractSingleFile(limit: 1 << 30)
                let theirs = try Cabinet(path: fixture + "/" + file).extractSingleFile(limit: 1 << 30)
                #expect(ours.name == theirs.name)
                #expect(ours.bytes == theirs.bytes)
                // And an independent reader expands our cabinet to the same bytes.
                #expect(try cabarchiveExpand(root + "/" + file)[ours.name] == theirs.bytes)
            } else {
                #expect(readBytes(root + "/" + file) == readBytes(fixture + "/" + file), "\(file)")
            }
        }
        #expect(readText(root + "/fixture.exe/08625E115000/refs.ptr") == "0000000001,file,\r\n")
    }

    /// Runs the symstore package's command line.
    static func pypiSymstore(_ arguments: [String]) throws {
        let code = """
            import sys
            from symstore import command_line
            sys.argv = ['symstore'] + sys.argv[1:]
            command_line.main()
            """
        _ = try runPython(code, arguments)
    }

    @Test func sameTreeAsTheSymstorePackage() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let theirs = try makeTemporaryFolder("pypi")
        defer { removeFolder(theirs) }
        let ours = try makeTemporaryFolder("ours")
        defer { removeFolder(ours) }
        // The package compresses only through GObject's GCab, absent from the venv: both publish plain files.
        try Self.pypiSymstore(["-p", "fixture", "-r", "1.0", "-c", "x64 plain", theirs] + Self.x64)
        try Self.pypiSymstore(["-p", "fixture", "-r", "1.0", "-c", "x86 plain", theirs] + Self.x86)
        try Self.pypiSymstore(["-d", "0000000001", theirs])
        let publisher = StorePublisher(root: ours)
        _ = try publisher.add(Self.x64, options: .init(product: "fixture", version: "1.0", comment: "x64 plain"))
        _ = try publisher.add(Self.x86, options: .init(product: "fixture", version: "1.0", comment: "x86 plain"))
        #expect(try publisher.delete(transactionID: 1) == 3)
        #expect(fileTree(ours, excluding: Self.ours) == fileTree(theirs))
        for file in fileTree(theirs) {
            let left = readText(ours + "/" + file)
            let right = readText(theirs + "/" + file)
            if file.hasPrefix("000Admin/00000") {
                #expect(try Self.entries(ours + "/" + file) == Self.entries(theirs + "/" + file), "\(file)")
            } else if file.hasPrefix("000Admin/") {
                #expect(Self.withoutDates(left) == Self.withoutDates(right), "\(file)")
            } else {
                #expect(readBytes(ours + "/" + file) == readBytes(theirs + "/" + file), "\(file)")
            }
        }
        #expect(readText(ours + "/000Admin/history.txt").hasSuffix("\n0000000003,del,0000000001"))
    }

    @Test func pointersAndQuery() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("ptr")
        defer { removeFolder(root) }
        let publisher = StorePublisher(root: root)
        let result = try publisher.add([Self.x64[0]], options: .init(pointer: true))
        #expect(result.entries.count == 1)
        let key = "fixture.exe/08625E115000"
        #expect(readText(root + "/\(key)/file.ptr") == Self.x64[0])
        #expect(readText(root + "/\(key)/refs.ptr") == "0000000001,ptr,\(Self.x64[0])\r\n")
        #expect(readText(root + "/000Admin/history.txt").contains("0000000001,add,ptr,"))
        let store = LocalSymbolStore(root: root)
        let storeKey = StoreKey(fileName: "fixture.exe", index: "08625E115000", storedName: "fixture.exe")
        #expect(try store.lookup(storeKey) == .pointer(.path(Self.x64[0]), path: root + "/\(key)/file.ptr"))
        #expect(try store.read(storeKey) == readBytes(Self.x64[0]))
        #expect(try store.references(storeKey) == [StoreReference(transactionID: 1, isPointer: true, path: Self.x64[0])])
        let query = publisher.query([Self.x64[0], Self.x86[0]])
        #expect(query[0].hit != nil)
        #expect(query[1].hit == nil)
        #expect(query[1].key?.path == "fixture.exe/D794C92A5000/fixture.exe")
    }

    @Test func foldersRecursiveAndSkipped() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("folders")
        defer { removeFolder(root) }
        let result = try StorePublisher(root: root).add([TestEnvironment.shared("generated/pe")], options: .init(recursive: true))
        // Three architectures × (exe, dll, two pdbs); the .map files are skipped.
        #expect(result.entries.count == 12)
        #expect(
            result.skipped.allSatisfy { !$0.path.hasSuffix(".exe") && !$0.path.hasSuffix(".dll") && !$0.path.hasSuffix(".pdb") })
        let flat = try makeTemporaryFolder("flat")
        defer { removeFolder(flat) }
        // Without recursion only the top folder's files count: the C sources are no store files.
        #expect(throws: StorePublisher.PublishError.self) {
            try StorePublisher(root: flat).add([TestEnvironment.shared("generated/pe")])
        }
    }

    @Test func twoTierStore() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("twotier")
        defer { removeFolder(root) }
        _ = FileManager.default.createFile(atPath: root + "/index2.txt", contents: Data())
        _ = try StorePublisher(root: root).add([Self.x64[0]])
        #expect(FileManager.default.fileExists(atPath: root + "/fi/fixture.exe/08625E115000/fixture.exe"))
        let key = StoreKey(try FileIdentity.read(path: Self.x64[0]))
        #expect(try LocalSymbolStore(root: root).read(key) == readBytes(Self.x64[0]))
    }

    @Test func interruptedTransactionIsReplaced() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("killed")
        defer { removeFolder(root) }
        let publisher = StorePublisher(root: root)
        _ = try publisher.add([Self.x64[0]])
        // A publisher killed after writing its transaction file but before the records.
        try "\"junk\\1\",\"/nowhere\"\n".write(toFile: root + "/000Admin/0000000002", atomically: true, encoding: .utf8)
        let next = try publisher.add([Self.x86[0]])
        #expect(next.transactionID == 2)
        #expect(try publisher.entries(of: 2).map(\.index) == ["D794C92A5000"])
        #expect(try publisher.transactions().map(\.id) == [1, 2])
    }

    @Test func crlfAdminFilesKeepTheirLineBreaks() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("crlf")
        defer { removeFolder(root) }
        try FileManager.default.createDirectory(atPath: root + "/000Admin", withIntermediateDirectories: true)
        let first = "0000000001,add,file,02/03/2015,13:13:44,\"Product\",\"Version\",\"Comment\","
        try (first + "\r\n").write(toFile: root + "/000Admin/server.txt", atomically: true, encoding: .utf8)
        try (first + "\r\n").write(toFile: root + "/000Admin/history.txt", atomically: true, encoding: .utf8)
        try "0000000001".write(toFile: root + "/000Admin/lastid.txt", atomically: true, encoding: .utf8)
        try "\"x.dll\\1\",\"/x.dll\"\r\n".write(toFile: root + "/000Admin/0000000001", atomically: true, encoding: .utf8)
        let result = try StorePublisher(root: root).add([Self.x64[0]], options: .init(time: 1_423_000_000))
        #expect(result.transactionID == 2)
        let server = readText(root + "/000Admin/server.txt")
        #expect(server.hasPrefix(first + "\r\n0000000002,add,file,"))
        #expect(server.hasSuffix(",\"\",\"\",\"\",\r\n"))
        #expect(readText(root + "/000Admin/history.txt").hasPrefix(first + "\r\n0000000002,add,file,"))
    }

    /// Another process holding the store's lock makes a publisher wait until it lets go.
    @Test func publisherWaitsForTheLockOfAnotherProcess() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("lock")
        defer { removeFolder(root) }
        try FileManager.default.createDirectory(atPath: root + "/000Admin", withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: TestEnvironment.python)
        holder.arguments = [
            "-c",
            """
            import fcntl, sys, time
            f = open(sys.argv[1], 'a')
            fcntl.flock(f, fcntl.LOCK_EX)
            print('locked', flush=True)
            time.sleep(1.5)
            """,
            root + "/000Admin/.postmortem.lock",
        ]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        // Wait until the other process holds the lock.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("locked"))
        let start = Date()
        _ = try StorePublisher(root: root).add([Self.x64[0]])
        let waited = Date().timeIntervalSince(start)
        holder.waitUntilExit()
        #expect(waited > 0.8, "the publisher did not wait for the lock (\(waited) s)")
        #expect(try StorePublisher(root: root).transactions().map(\.id) == [1])
    }

    @Test func concurrentPublishersSerialize() throws {
        try #require(TestEnvironment.hasSharedFixtures)
        let root = try makeTemporaryFolder("concurrent")
        defer { removeFolder(root) }
        let inputs = [Self.x64, Self.x86, [Self.x64[1]], [Self.x86[1]], Self.x64, Self.x86]
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: inputs.count) { index in
            do {
                _ = try StorePublisher(root: root).add(inputs[index], options: .init(comment: "publisher \(index)"))
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let publisher = StorePublisher(root: root)
        let live = try publisher.transactions()
        #expect(live.map(\.id).sorted() == Array(1...inputs.count))
        #expect(try publisher.history().count == inputs.count)
        #expect(readText(root + "/000Admin/lastid.txt") == TransactionID.format(inputs.count))
        var comments = Set<String>()
        for record in live {
            if case .add(_, _, _, _, _, let comment) = record.action { comments.insert(comment) }
            let entries = try publisher.entries(of: record.id)
            #expect(!entries.isEmpty)
            for entry in entries {
                let key = StoreKey(fileName: entry.fileName, index: entry.index, storedName: entry.fileName)
                #expect(try LocalSymbolStore(root: root).lookup(key) != nil)
                let references = try LocalSymbolStore(root: root).references(key)
                #expect(references.contains { $0.transactionID == record.id })
            }
        }
        #expect(comments.count == inputs.count)
        // No temporary files are left behind.
        #expect(fileTree(root).filter { $0.contains(".tmp-") }.isEmpty)
    }
}

/// A lock-protected value for the concurrency test.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
