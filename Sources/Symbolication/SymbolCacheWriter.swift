import BinaryReading
import BreakpadSymbols
import Foundation

extension SymbolCache {
    /// Serializes `file` into the cache format (see `SymbolCache`).
    public static func build(from file: SymbolFile) -> [UInt8] {
        var writer = CacheWriter()
        writer.reserve(names: file.functions.count + file.publics.count + file.files.count + file.inlineOrigins.count)
        // Files are re-indexed densely; .sym indexes may be sparse.
        var fileIndex = [UInt32: UInt32]()
        var fileNames = [(UInt32, UInt32)]()
        for (index, name) in file.files.sorted(by: { $0.key < $1.key }) {
            fileIndex[index] = UInt32(fileNames.count)
            fileNames.append(writer.intern(name))
        }
        // A converted PDB numbers its files 0..<n already: then a file's index is its key, and the
        // per-line dictionary lookups (a tenth of building a PDB's cache) are not needed.
        let dense = fileIndex.allSatisfy { $0.key == $0.value }
        let fileCount = UInt32(fileNames.count)
        func slot(_ key: UInt32) -> UInt32 {
            if dense { return key < fileCount ? key : noFile }
            return fileIndex[key] ?? noFile
        }
        // Tables are built as 32-bit words and turned into bytes once at the end: appending
        // byte by byte was most of the time spent writing.
        var functions = [UInt32]()
        var lines = [UInt32]()
        var inlines = [UInt32]()
        var lineCount: UInt32 = 0
        var inlineCount: UInt32 = 0
        functions.reserveCapacity(file.functions.count * functionSize / 4)
        lines.reserveCapacity(file.functions.reduce(0) { $0 + $1.lines.count } * lineSize / 4)
        for function in file.functions {
            let name = writer.intern(function.name)
            let firstLine = lineCount
            let firstInline = inlineCount
            for line in function.lines {
                lines.append(u64: line.address)
                lines.append(UInt32(truncatingIfNeeded: line.size))
                lines.append(UInt32(truncatingIfNeeded: max(0, line.line)))
                lines.append(slot(line.file))
                lines.append(0)
                lineCount += 1
            }
            for record in function.inlines {
                let origin = writer.intern(file.inlineOrigins[record.origin] ?? "<inline origin \(record.origin)>")
                for range in record.ranges {
                    inlines.append(u64: range.address)
                    inlines.append(UInt32(truncatingIfNeeded: range.size))
                    inlines.append(UInt32(truncatingIfNeeded: min(record.depth, 0xFFFF)))
                    inlines.append(origin.0)
                    inlines.append(origin.1)
                    inlines.append(record.callFile.map(slot) ?? noFile)
                    inlines.append(record.callLine)
                    inlineCount += 1
                }
            }
            functions.append(u64: function.address)
            functions.append(u64: function.size)
            functions.append(name.0)
            functions.append(name.1)
            functions.append(firstLine)
            functions.append(lineCount - firstLine)
            functions.append(firstInline)
            functions.append(inlineCount - firstInline)
        }
        var files = [UInt32]()
        files.reserveCapacity(fileNames.count * fileSize / 4)
        for name in fileNames {
            files.append(name.0)
            files.append(name.1)
        }
        var publics = [UInt32]()
        publics.reserveCapacity(file.publics.count * publicSize / 4)
        for symbol in file.publics {
            let name = writer.intern(symbol.name)
            publics.append(u64: symbol.address)
            publics.append(name.0)
            publics.append(name.1)
        }
        // CFI INIT rows with their deltas after them, and STACK WIN rows, in address order.
        var ruleRows = [(address: UInt64, order: Int, words: [UInt32])]()
        func row(_ address: UInt64, _ size: UInt64, _ kind: UInt32, _ text: String, _ order: Int) {
            var words = [UInt32]()
            words.reserveCapacity(ruleSize / 4)
            let text = writer.intern(text)
            words.append(u64: address)
            words.append(u64: size)
            words.append(kind)
            words.append(0)
            words.append(text.0)
            words.append(text.1)
            ruleRows.append((address, order, words))
        }
        for (index, record) in file.cfi.enumerated() {
            // Of several INIT records at one address, the last in file order wins, as in SymbolFile.cfi(at:).
            if index + 1 < file.cfi.count, file.cfi[index + 1].address == record.address { continue }
            row(record.address, record.size, 0, record.rules, 0)
            for delta in record.deltas {
                row(delta.address, 0, 1, delta.rules, 1)
            }
        }
        for record in file.stackWin {
            let fields = [
                UInt64(record.type), record.rva, record.codeSize, record.prologSize, record.epilogSize, record.parameterSize,
                record.savedRegisterSize, record.localSize, record.maxStackSize,
            ].map { String($0, radix: 16) }.joined(separator: " ")
            let tail = record.programString.map { "1 " + $0 } ?? "0 \(record.allocatesBasePointer ? 1 : 0)"
            row(record.rva, record.codeSize, 2, fields + " " + tail, 2)
        }
        ruleRows.sort { $0.address != $1.address ? $0.address < $1.address : $0.order < $1.order }
        let rules = ruleRows.flatMap(\.words)
        let debugID = writer.intern(file.module?.id ?? "")

        var header = [UInt32]()
        let tables: [(bytes: Int, records: Int)] = [
            (functions.count * 4, functionSize), (lines.count * 4, lineSize), (inlines.count * 4, inlineSize),
            (files.count * 4, fileSize), (publics.count * 4, publicSize), (rules.count * 4, ruleSize), (writer.strings.count, 1),
        ]
        var offset = UInt32(headerSize)
        for table in tables {
            header.append(offset)
            header.append(UInt32(table.bytes / table.records))
            offset += UInt32(table.bytes)
        }
        header.append(debugID.0)
        header.append(debugID.1)

        var out = [UInt8]()
        out.reserveCapacity(Int(offset))
        out += magic
        out += [version, 0].littleEndianBytes
        out += header.littleEndianBytes
        while out.count < headerSize { out.append(0) }
        for words in [functions, lines, inlines, files, publics, rules] { out += words.littleEndianBytes }
        out += writer.strings
        return out
    }

    /// Opens the cache of the symbols at `symbolsPath`, building and storing it first when it is
    /// missing, older than the symbols, unreadable or of another format version.
    ///
    /// The cache is kept beside the symbols (`<file>.pmcache`), or, when that folder cannot be written
    /// (a read-only symbol tree), under `cacheFolder` keyed by the symbols' path, size and time.
    public static func cached(for symbolsPath: String, cacheFolder: String? = defaultCacheFolder, build: () throws -> SymbolFile)
        throws -> SymbolCache
    {
        // stat(2) directly: FileManager's attributes also look the owner up in /etc/passwd.
        let (modified, size) = fileTimeAndSize(symbolsPath) ?? (0, 0)
        var candidates = [symbolsPath + ".pmcache"]
        if let cacheFolder {
            let key = fnv1a(symbolsPath + "|\(size)|\(modified)")
            candidates.append(
                cacheFolder + "/" + String(key, radix: 16) + "-" + (symbolsPath as NSString).lastPathComponent + ".pmcache")
        }
        for candidate in candidates {
            if let (cacheModified, _) = fileTimeAndSize(candidate), cacheModified >= modified,
                let cache = try? SymbolCache(path: candidate)
            {
                return cache
            }
        }
        let bytes = Self.build(from: try build())
        for candidate in candidates {
            if let cache = store(bytes, at: candidate) { return cache }
        }
        // Nowhere to keep it: answer from memory this time.
        return try SymbolCache(bytes: MappedFile(bytes: bytes).bytes)
    }

    /// `$XDG_CACHE_HOME/postmortem/symbol-cache`, else `~/.cache/postmortem/symbol-cache`.
    public static var defaultCacheFolder: String? {
        let environment = ProcessInfo.processInfo.environment
        if let base = environment["XDG_CACHE_HOME"], !base.isEmpty { return base + "/postmortem/symbol-cache" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/postmortem/symbol-cache" }
        return nil
    }

    /// Writes `bytes` to `path` through a temporary name and a rename, so a reader never sees half a
    /// cache, and maps the result; nil when the folder cannot be written.
    static func store(_ bytes: [UInt8], at path: String) -> SymbolCache? {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = path + ".\(ProcessInfo.processInfo.processIdentifier).tmp"
        guard (try? Data(bytes).write(to: URL(fileURLWithPath: temporary))) != nil else { return nil }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            return nil
        }
        return try? SymbolCache(path: path)
    }

    /// A file's modification time (nanoseconds since 1970) and size, or nil when it cannot be stat'ed.
    static func fileTimeAndSize(_ path: String) -> (modified: Int64, size: Int64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
            let time = info.st_mtimespec
        #else
            let time = info.st_mtim
        #endif
        return (Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec), Int64(info.st_size))
    }

    /// 64-bit FNV-1a, for cache file names (not security).
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        return hash
    }
}

/// Collects strings into one blob, each stored once.
struct CacheWriter {
    var strings = [UInt8]()
    var seen = [String: (UInt32, UInt32)]()

    /// Room for about `names` strings, so the table is not rehashed as it grows.
    mutating func reserve(names: Int) {
        seen.reserveCapacity(names)
    }

    mutating func intern(_ text: String) -> (UInt32, UInt32) {
        if let known = seen[text] { return known }
        let reference = (UInt32(strings.count), UInt32(text.utf8.count))
        strings += text.utf8
        seen[text] = reference
        return reference
    }
}

extension Array where Element == UInt32 {
    @inline(__always)
    mutating func append(u64 value: UInt64) {
        append(UInt32(truncatingIfNeeded: value))
        append(UInt32(truncatingIfNeeded: value >> 32))
    }
}
