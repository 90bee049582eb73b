import Foundation
import SymbolStore
import TestSupport
import Testing

/// Distinct publishable files made from the fixture PEs and PDBs: each copy gets its own key
/// by a changed TimeDateStamp (PE) or GUID (PDB), written by offset rather than through the
/// readers under test.
enum DistinctInputs {
    static let sources = TestEnvironment.shared("generated/pe/x64")

    /// Writes `count` files into `folder`, PEs and PDBs alternating; returns their paths.
    static func make(count: Int, in folder: String) throws -> [String] {
        let exe = readBytes(sources + "/fixture.exe")
        let pdb = readBytes(sources + "/fixture.pdb")
        // `IMAGE_NT_HEADERS`: e_lfanew at 0x3C, then "PE\0\0", Machine (2), NumberOfSections (2), TimeDateStamp.
        let lfanew = (0..<4).reduce(0) { $0 | Int(exe[0x3C + $1]) << (8 * $1) }
        let stampOffset = lfanew + 8
        // The GUID of fixture.pdb's key (DE72AEE0-C823-4F21-4C4C-44205044422E) as stored: Data1-3 little-endian.
        let guid: [UInt8] = [
            0xE0, 0xAE, 0x72, 0xDE, 0x23, 0xC8, 0x21, 0x4F, 0x4C, 0x4C, 0x44, 0x20, 0x50, 0x44, 0x42, 0x2E,
        ]
        let guidOffsets = (0...(pdb.count - 16)).filter { pdb[$0] == guid[0] && Array(pdb[$0..<$0 + 16]) == guid }
        guard !guidOffsets.isEmpty else { throw OracleFailure(description: "fixture.pdb has no GUID to patch") }
        var paths = [String]()
        for index in 0..<count {
            let number = UInt32(0x1000_0000 + index)
            let littleEndian = (0..<4).map { UInt8(truncatingIfNeeded: number >> (8 * $0)) }
            var bytes: [UInt8]
            let path: String
            if index % 2 == 0 {
                bytes = exe
                bytes.replaceSubrange(stampOffset..<stampOffset + 4, with: littleEndian)
                path = folder + "/\(index)/fixture.exe"
            } else {
                bytes = pdb
                for offset in guidOffsets { bytes.replaceSubrange(offset..<offset + 4, with: littleEndian) }
                path = folder + "/\(index)/fixture.pdb"
            }
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        return paths
    }
}

@Suite("symstore add killed mid-publish", .serialized, .ownThread)
struct KillDuringPublishTests {
    static let fileCount = 160
    static let batchSize = 40

    /// A store's admin records and the files they name, read the way a reader sees them.
    struct StoreState {
        var lastID: Int?
        var liveIDs = [Int]()
        var problems = [String]()
        var temporaries = [String]()
    }

    /// Checks what a reader relies on: the last complete transaction's files are all there and
    /// match their sources, every live transaction's files are there, ids are not repeated.
    static func inspect(_ store: String) -> StoreState {
        var state = StoreState()
        let admin = store + "/000Admin"
        if let text = FileManager.default.contents(atPath: admin + "/lastid.txt") {
            state.lastID = Int(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            if state.lastID == nil { state.problems.append("lastid.txt is not a number") }
        }
        let server = readText(admin + "/server.txt")
        state.liveIDs = server.split(whereSeparator: \.isNewline).compactMap { Int($0.prefix { $0 != "," }) }
        if Set(state.liveIDs).count != state.liveIDs.count { state.problems.append("server.txt repeats ids: \(state.liveIDs)") }
        let local = LocalSymbolStore(root: store)
        var checked = Set<Int>(state.liveIDs)
        if let last = state.lastID { checked.insert(last) }
        for id in checked.sorted() {
            let transaction = admin + "/" + String(format: "%010d", id)
            guard let text = FileManager.default.contents(atPath: transaction) else {
                state.problems.append("transaction \(id) has no file")
                continue
            }
            for line in String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline) {
                // `"<file>\<key>","<source>"`
                let fields = line.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: ["\""]) }
                let keyParts = fields.first?.split(separator: "\\").map(String.init) ?? []
                guard fields.count == 2, keyParts.count == 2 else {
                    state.problems.append("transaction \(id): malformed line \(line)")
                    continue
                }
                let key = StoreKey(fileName: keyParts[0], index: keyParts[1], storedName: keyParts[0])
                do {
                    if try local.read(key) != readBytes(fields[1]) { state.problems.append("\(key) differs from \(fields[1])") }
                } catch {
                    state.problems.append("transaction \(id): \(key): \(error)")
                }
            }
        }
        state.temporaries = fileTree(store).filter { $0.contains(".tmp-") }
        return state
    }

    /// The `symstore` package's reading of the store: every live transaction's entries exist.
    static let pythonReader = """
        import sys, symstore
        store = symstore.Store(sys.argv[1])
        entries = 0
        for id, transaction in store.transactions.items():
            for entry in transaction.entries:
                entries += 1
                if not entry.exists():
                    sys.exit("missing %s/%s (transaction %s)" % (entry.file_name, entry.file_hash, id))
        print(len(store.history), entries)
        """

    static func add(_ inputs: [String], to store: String, compress: Bool) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.postmortemExecutable)
        process.arguments = ["symstore", "add", "-f"] + inputs + ["-s", store, "-t", "kill"] + (compress ? ["--compress"] : [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Files below the store's key folders (the admin folder aside) written at `start` or later.
    static func filesWritten(in store: String, since start: Date) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: store) else { return 0 }
        var count = 0
        while let next = walker.nextObject() as? String {
            guard !next.hasPrefix("000Admin"), let attributes = walker.fileAttributes,
                (attributes[.type] as? FileAttributeType) == .typeRegular,
                let modified = attributes[.modificationDate] as? Date
            else { continue }
            if modified >= start { count += 1 }
        }
        return count
    }

    @Test("after each SIGKILL the store reads consistently; a later add completes it", arguments: [false, true])
    func killedAdds(compress: Bool) throws {
        let work = try makeTemporaryFolder("kill")
        defer { removeFolder(work) }
        let inputs = try DistinctInputs.make(count: Self.fileCount, in: work + "/inputs")

        // Each step adds one batch, so some adds complete between the killed ones and the
        // "last complete transaction" moves. A kill waits until the add has stored a given share
        // of its batch, so it lands mid-publish however fast or loaded the machine is.
        let batches = stride(from: 0, to: inputs.count, by: Self.batchSize).map {
            Array(inputs[$0..<min($0 + Self.batchSize, inputs.count)])
        }
        let store = work + "/store"
        var kills = 0
        var completed = 0
        var leftovers = Set<String>()
        let fractions = [0.3, 0.6, 0.9, 1.5, 0.45, 0.75, 0.95, 2.0, 0.2, 0.5, 0.8, 1.5]
        for (step, fraction) in fractions.enumerated() {
            // The file system stamps files with a coarse clock, a tick behind `Date()`.
            let start = Date().addingTimeInterval(-0.05)
            let process = try Self.add(batches[step % batches.count], to: store, compress: compress)
            // A fraction over 1 is an undisturbed add, so the last complete transaction moves between kills.
            if fraction < 1 {
                // Each entry writes its file and the refs.ptr beside it, stored files or not. The add
                // runs in short slices between SIGSTOPs and is counted while stopped, so the kill
                // lands at the share it was meant for however fast the add is.
                let target = Int(Double(Self.batchSize) * fraction) * 2
                let pid = process.processIdentifier
                kill(pid, SIGSTOP)
                while process.isRunning {
                    if Self.filesWritten(in: store, since: start) >= target {
                        kill(pid, SIGKILL)
                        break
                    }
                    kill(pid, SIGCONT)
                    usleep(300)
                    kill(pid, SIGSTOP)
                }
            }
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL { kills += 1 }
            if process.terminationReason == .exit && process.terminationStatus == 0 { completed += 1 }
            let state = Self.inspect(store)
            #expect(state.problems.isEmpty, "after step \(step): \(state.problems.prefix(5))")
            leftovers.formUnion(state.temporaries)
            if FileManager.default.fileExists(atPath: store + "/000Admin/server.txt") {
                let oracle = try runProcess(TestEnvironment.python, ["-c", Self.pythonReader, store])
                #expect(oracle.status == 0, "after step \(step): symstore (PyPI): \(oracle.stderrText)")
            }
        }
        #expect(kills >= 4, "only \(kills) adds were still running when killed")
        #expect(completed >= 2, "only \(completed) adds completed")

        let final = try Self.add(inputs, to: store, compress: compress)
        final.waitUntilExit()
        #expect(final.terminationStatus == 0)
        let state = Self.inspect(store)
        #expect(state.problems.isEmpty, "\(state.problems.prefix(5))")
        let query = try runProcess(TestEnvironment.postmortemExecutable, ["symstore", "query", "-f"] + inputs + ["-s", store])
        #expect(query.status == 0, "\(query.stdoutText.split(separator: "\n").filter { $0.contains("not in") }.prefix(3))")
        let oracle = try runProcess(TestEnvironment.python, ["-c", Self.pythonReader, store])
        #expect(oracle.status == 0, "symstore (PyPI): \(oracle.stderrText)")
        // Temporary files a kill left behind are named `<stored name>.tmp-<pid>-<n>`: no key
        // names them, so no SymSrv client asks for them (the server refuses them outright).
        for path in leftovers {
            #expect(path.split(separator: "/").last.map { $0.contains(".tmp-") } == true)
        }
    }

    @Test("an add killed after server.txt but before lastid.txt: the next add reuses the id once")
    func recordsOfAnUncommittedTransactionAreDropped() throws {
        let work = try makeTemporaryFolder("uncommitted")
        defer { removeFolder(work) }
        let inputs = try DistinctInputs.make(count: 2, in: work + "/inputs")
        let store = work + "/store"
        let publisher = StorePublisher(root: store)
        _ = try publisher.add([inputs[0]], options: .init(product: "first", time: 1_500_000_000))
        // What a kill between the writes of history.txt and lastid.txt leaves.
        let admin = store + "/000Admin"
        let server = readText(admin + "/server.txt")
        let history = readText(admin + "/history.txt")
        let orphan = "0000000002,add,file,07/14/2017,04:40:00,\"killed\",\"\",\"\","
        try Data((server + orphan + "\n").utf8).write(to: URL(fileURLWithPath: admin + "/server.txt"))
        try Data((history + "\n" + orphan).utf8).write(to: URL(fileURLWithPath: admin + "/history.txt"))

        let second = try publisher.add([inputs[1]], options: .init(product: "second", time: 1_500_000_100))
        #expect(second.transactionID == 2)
        let state = Self.inspect(store)
        #expect(state.problems.isEmpty, "\(state.problems)")
        #expect(state.liveIDs == [1, 2])
        let lines = readText(admin + "/history.txt").split(whereSeparator: \.isNewline)
        #expect(lines.count == 2)
        #expect(!readText(admin + "/server.txt").contains("killed"))
    }
}
