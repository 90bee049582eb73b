import BinaryReading

/// The DBI stream (stream 3): header, then module info, section contributions, section map,
/// file info, type server map, EC info and the optional debug header, in that order
/// (LLVM's `DbiStream.html`). The substream sizes must add up to the stream.
public struct DBIStream: Sendable {
    /// The header.
    public var header: DBIStreamHeader
    /// Every module in link order.
    public var modules: [ModuleInfo]
    /// Section contributions, sorted by the writer by section and offset.
    public var sectionContributions: [SectionContribution]
    /// The section map.
    public var sectionMap: [SectionMapEntry]
    /// The file info substream, decoded on request by `moduleFiles()`: symbolization takes file
    /// names from each module's C13 checksums, and decoding every name of a large PDB here was a
    /// sixth of opening one.
    public var fileInfo: ByteView
    /// Indexes of the optional debug streams.
    public var debugStreams: DebugStreamIndexes

    /// `DbiStreamVersion::V70`.
    public static let v70: UInt32 = 19_990_903
    /// Section contribution substream versions: `Ver60` and `V2` (0xeffe0000 + date).
    public static let sectionContributionVer60: UInt32 = 0xEFFE_0000 &+ 19_970_605
    public static let sectionContributionV2: UInt32 = 0xEFFE_0000 &+ 20_140_516
    /// Upper bound on modules: ModuleIndex fields are 16 bits.
    public static let maxModules = 0x10000

    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        header = try DBIStreamHeader(parsing: &reader)
        guard header.versionSignature == -1 else {
            throw ParseError(
                offset: bytes.fileOffset, field: "DbiStreamHeader.VersionSignature",
                kind: .unsupportedVersion("\(header.versionSignature) (expected -1, the new DBI format)"))
        }
        let sizes: [(Int32, String)] = [
            (header.modInfoSize, "ModInfoSize"), (header.sectionContributionSize, "SectionContributionSize"),
            (header.sectionMapSize, "SectionMapSize"), (header.sourceInfoSize, "SourceInfoSize"),
            (header.typeServerMapSize, "TypeServerMapSize"), (header.ecSubstreamSize, "ECSubstreamSize"),
            (header.optionalDbgHeaderSize, "OptionalDbgHeaderSize"),
        ]
        var total: Int64 = 0
        for (size, name) in sizes {
            guard size >= 0 else {
                throw ParseError(
                    offset: bytes.fileOffset, field: "DbiStreamHeader.\(name)", kind: .invalidValue("negative size \(size)"))
            }
            total += Int64(size)
        }
        guard total <= Int64(reader.remaining) else {
            throw ParseError(
                offset: reader.fileOffset, field: "DbiStreamHeader substream sizes",
                kind: .truncated(needed: total, available: Int64(reader.remaining)))
        }
        let modInfo = try reader.readBytes(Int(header.modInfoSize), "DBI ModInfo substream")
        let contributions = try reader.readBytes(Int(header.sectionContributionSize), "DBI SectionContribution substream")
        let sectionMap = try reader.readBytes(Int(header.sectionMapSize), "DBI SectionMap substream")
        let fileInfo = try reader.readBytes(Int(header.sourceInfoSize), "DBI FileInfo substream")
        try reader.skip(Int(header.typeServerMapSize), "DBI TypeServerMap substream")
        try reader.skip(Int(header.ecSubstreamSize), "DBI EC substream")
        let debugHeader = try reader.readBytes(Int(header.optionalDbgHeaderSize), "DBI OptionalDbgHeader substream")

        var modules = [ModuleInfo]()
        var moduleReader = modInfo.reader()
        while !moduleReader.isAtEnd {
            guard modules.count < Self.maxModules else {
                throw ParseError(
                    offset: moduleReader.fileOffset, field: "DBI ModInfo substream",
                    kind: .countTooLarge(count: Int64(modules.count + 1), limit: Int64(Self.maxModules)))
            }
            modules.append(try ModuleInfo(parsing: &moduleReader, index: modules.count))
        }
        self.modules = modules
        sectionContributions = try Self.readContributions(contributions)
        self.sectionMap = try Self.readSectionMap(sectionMap)
        self.fileInfo = fileInfo
        var indexes = [UInt16]()
        var debugReader = debugHeader.reader()
        while debugReader.remaining >= 2, indexes.count < 64 {
            indexes.append(try debugReader.read(UInt16.self, "DbgHeader stream index"))
        }
        debugStreams = DebugStreamIndexes(raw: indexes)
    }

    static func readContributions(_ bytes: ByteView) throws(ParseError) -> [SectionContribution] {
        guard bytes.count > 0 else { return [] }
        var reader = bytes.reader()
        let version = try reader.read(UInt32.self, "SectionContribution substream version")
        let v2: Bool
        switch version {
        case sectionContributionVer60: v2 = false
        case sectionContributionV2: v2 = true
        default:
            throw ParseError(
                offset: bytes.fileOffset, field: "SectionContribution substream version",
                kind: .unsupportedVersion("0x" + String(version, radix: 16)))
        }
        let entrySize = v2 ? 32 : 28
        guard reader.remaining % entrySize == 0 else {
            throw ParseError(
                offset: reader.fileOffset, field: "SectionContribution substream",
                kind: .invalidValue("\(reader.remaining) bytes is not a whole number of \(entrySize)-byte entries"))
        }
        let count = reader.remaining / entrySize
        var entries = [SectionContribution]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            entries.append(try SectionContribution(parsing: &reader, v2: v2))
        }
        return entries
    }

    static func readSectionMap(_ bytes: ByteView) throws(ParseError) -> [SectionMapEntry] {
        guard bytes.count > 0 else { return [] }
        var reader = bytes.reader()
        let count = Int(try reader.read(UInt16.self, "SecMapHeader.Count"))
        _ = try reader.read(UInt16.self, "SecMapHeader.LogCount")
        try reader.checkCount(count, elementSize: 20, "SecMapHeader.Count")
        var entries = [SectionMapEntry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            entries.append(try SectionMapEntry(parsing: &reader))
        }
        return entries
    }

    /// Source file names per module (the file info substream), in module order.
    public func moduleFiles() throws(ParseError) -> [[String]] { try Self.readFileInfo(fileInfo) }

    /// The file info substream: `NumModules`, `NumSourceFiles` (16 bits, so it wraps in large
    /// programs and is not used), `ModIndices[NumModules]`, `ModFileCounts[NumModules]`,
    /// `FileNameOffsets[sum of counts]`, then the names buffer.
    static func readFileInfo(_ bytes: ByteView) throws(ParseError) -> [[String]] {
        guard bytes.count > 0 else { return [] }
        var reader = bytes.reader()
        let moduleCount = Int(try reader.read(UInt16.self, "FileInfo.NumModules"))
        _ = try reader.read(UInt16.self, "FileInfo.NumSourceFiles")
        try reader.skip(try PDBInfoStream.times4(moduleCount, reader) / 2, "FileInfo.ModIndices")
        let counts = try reader.readArray(UInt16.self, count: moduleCount, "FileInfo.ModFileCounts")
        let total = counts.reduce(0) { $0 + Int($1) }
        let offsets = try reader.readArray(UInt32.self, count: total, "FileInfo.FileNameOffsets")
        let names = bytes.suffix(from: reader.position)
        var files = [[String]]()
        files.reserveCapacity(moduleCount)
        var next = 0
        for count in counts {
            var list = [String]()
            list.reserveCapacity(Int(count))
            for offset in offsets[next..<next + Int(count)] {
                guard offset < names.count else {
                    throw ParseError(
                        offset: names.fileOffset, field: "FileInfo.FileNameOffsets",
                        kind: .outOfBounds(offset: Int64(offset), size: 1, fileSize: Int64(names.count)))
                }
                list.append(names.suffix(from: Int(offset)).cString)
            }
            next += Int(count)
            files.append(list)
        }
        return files
    }
}
