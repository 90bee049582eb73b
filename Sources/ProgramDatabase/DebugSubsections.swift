import BinaryReading

/// C13 debug subsection kinds (`DEBUG_S_SUBSECTION_TYPE` in cvinfo.h).
public struct DebugSubsectionKind: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `DEBUG_S_IGNORE` (bit 31): the subsection is to be skipped.
    public static let ignoreBit: UInt32 = 0x8000_0000
    /// `DEBUG_S_SYMBOLS`.
    public static let symbols = DebugSubsectionKind(rawValue: 0xF1)
    /// `DEBUG_S_LINES`.
    public static let lines = DebugSubsectionKind(rawValue: 0xF2)
    /// `DEBUG_S_STRINGTABLE`.
    public static let stringTable = DebugSubsectionKind(rawValue: 0xF3)
    /// `DEBUG_S_FILECHKSMS`.
    public static let fileChecksums = DebugSubsectionKind(rawValue: 0xF4)
    /// `DEBUG_S_FRAMEDATA`.
    public static let frameData = DebugSubsectionKind(rawValue: 0xF5)
    /// `DEBUG_S_INLINEELINES`.
    public static let inlineeLines = DebugSubsectionKind(rawValue: 0xF6)
    /// `DEBUG_S_CROSSSCOPEIMPORTS`.
    public static let crossScopeImports = DebugSubsectionKind(rawValue: 0xF7)
    /// `DEBUG_S_CROSSSCOPEEXPORTS`.
    public static let crossScopeExports = DebugSubsectionKind(rawValue: 0xF8)
}

/// One C13 subsection: `type` (u32), `cbLen` (u32), data padded to 4 bytes.
public struct DebugSubsection: Sendable {
    /// The kind.
    public var kind: DebugSubsectionKind
    /// The data (`cbLen` bytes).
    public var data: ByteView

    /// Splits a module's C13 area into subsections.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [DebugSubsection] {
        var reader = bytes.reader()
        var list = [DebugSubsection]()
        while reader.remaining >= 8 {
            let kind = try reader.read(UInt32.self, "DEBUG_S subsection type")
            let length = try reader.read(UInt32.self, "DEBUG_S subsection cbLen")
            let data = try reader.readBytes(length, "DEBUG_S subsection 0x" + String(kind, radix: 16))
            let padding = (4 - Int(length % 4)) % 4
            try reader.skip(min(padding, reader.remaining), "DEBUG_S subsection padding")
            list.append(DebugSubsection(kind: DebugSubsectionKind(rawValue: kind), data: data))
        }
        return list
    }
}

/// `CV_DebugSLinesHeader_t` (12 bytes), then file blocks: one contribution's line table.
public struct LineFragment: Sendable, Equatable {
    /// One line entry: `CV_Line_t` (8 bytes) and, with columns, `CV_Column_t` (4 bytes).
    public struct Entry: Sendable, Equatable {
        /// `offset` from the fragment's start.
        public var offset: UInt32
        /// `linenumStart` (24 bits).
        public var line: UInt32
        /// `deltaLineEnd` (7 bits).
        public var deltaLineEnd: UInt8
        /// `fStatement`.
        public var isStatement: Bool
        /// `offColumnStart`, when the fragment has columns.
        public var columnStart: UInt16?
        /// `offColumnEnd`, when the fragment has columns.
        public var columnEnd: UInt16?

        /// The compiler's marker lines: 0xF00F00 "never step into" and 0xFEEFEE "always step
        /// into" (cvinfo.h). Lookups report them as written, as DIA (Breakpad's crash.sym has
        /// `2d56 5 15732480`) and llvm-symbolizer do.
        public static let neverStepIntoLine: UInt32 = 0xF0_0F00
        public static let alwaysStepIntoLine: UInt32 = 0xFE_EFEE
    }

    /// `CV_DebugSLinesFileBlockHeader_t` (12 bytes) and its lines.
    public struct Block: Sendable, Equatable {
        /// `offFile`: the file's offset in the module's `DEBUG_S_FILECHKSMS` subsection.
        public var fileChecksumOffset: UInt32
        /// The lines, in file order.
        public var entries: [Entry]
    }

    /// `offCon`: offset of the contribution in its section.
    public var offset: UInt32
    /// `segCon`: the section.
    public var segment: UInt16
    /// `flags`: `CV_LINES_HAVE_COLUMNS` (1).
    public var flags: UInt16
    /// `cbCon`: the contribution's code size.
    public var codeSize: UInt32
    /// The file blocks.
    public var blocks: [Block]

    /// Whether the entries carry columns.
    public var hasColumns: Bool { flags & 1 != 0 }

    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        offset = try reader.read(UInt32.self, "CV_DebugSLinesHeader_t.offCon")
        segment = try reader.read(UInt16.self, "CV_DebugSLinesHeader_t.segCon")
        flags = try reader.read(UInt16.self, "CV_DebugSLinesHeader_t.flags")
        codeSize = try reader.read(UInt32.self, "CV_DebugSLinesHeader_t.cbCon")
        var blocks = [Block]()
        let columns = flags & 1 != 0
        while reader.remaining >= 12 {
            let blockStart = reader.position
            let file = try reader.read(UInt32.self, "CV_DebugSLinesFileBlockHeader_t.offFile")
            let count = Int(try reader.read(UInt32.self, "CV_DebugSLinesFileBlockHeader_t.nLines"))
            let size = try reader.read(UInt32.self, "CV_DebugSLinesFileBlockHeader_t.cbBlock")
            let entrySize = columns ? 12 : 8
            try reader.checkCount(count, elementSize: entrySize, "CV_DebugSLinesFileBlockHeader_t.nLines")
            guard Int(size) == 12 + count * entrySize else {
                throw ParseError(
                    offset: bytes.fileOffset + Int64(blockStart) + 8, field: "CV_DebugSLinesFileBlockHeader_t.cbBlock",
                    kind: .invalidValue("\(size) bytes for \(count) lines"))
            }
            var entries = [Entry]()
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let lineOffset = try reader.read(UInt32.self, "CV_Line_t.offset")
                let bits = try reader.read(UInt32.self, "CV_Line_t.flags")
                entries.append(
                    Entry(
                        offset: lineOffset, line: bits & 0xFF_FFFF, deltaLineEnd: UInt8((bits >> 24) & 0x7F),
                        isStatement: bits & 0x8000_0000 != 0, columnStart: nil, columnEnd: nil))
            }
            if columns {
                for position in 0..<count {
                    entries[position].columnStart = try reader.read(UInt16.self, "CV_Column_t.offColumnStart")
                    entries[position].columnEnd = try reader.read(UInt16.self, "CV_Column_t.offColumnEnd")
                }
            }
            blocks.append(Block(fileChecksumOffset: file, entries: entries))
        }
        self.blocks = blocks
    }
}

/// One entry of `DEBUG_S_FILECHKSMS`: `offstFileName` (u32), `cbChecksum` (u8), `ChecksumType` (u8), bytes, padded to 4.
public struct FileChecksum: Sendable {
    /// The entry's offset in the subsection (what line blocks and inlinee lines refer to).
    public var position: UInt32
    /// `offstFileName`: the name's offset in `/names`.
    public var nameOffset: UInt32
    /// `ChecksumType`: 0 none, 1 MD5, 2 SHA1, 3 SHA256.
    public var kind: UInt8
    /// Where the checksum bytes are: copied only on request, since symbolization never reads them
    /// and an array per source file of every module was a fifth of converting a PDB.
    public var checksumBytes: ByteView

    /// The checksum bytes.
    public var checksum: [UInt8] { checksumBytes.array }

    /// Reads every entry of the subsection.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [FileChecksum] {
        var reader = bytes.reader()
        var list = [FileChecksum]()
        while reader.remaining >= 6 {
            let position = UInt32(reader.position)
            let name = try reader.read(UInt32.self, "FileChecksum.offstFileName")
            let size = try reader.read(UInt8.self, "FileChecksum.cbChecksum")
            let kind = try reader.read(UInt8.self, "FileChecksum.ChecksumType")
            let bytes = try reader.readBytes(Int(size), "FileChecksum.Checksum")
            let padding = (4 - (reader.position % 4)) % 4
            try reader.skip(min(padding, reader.remaining), "FileChecksum padding")
            list.append(FileChecksum(position: position, nameOffset: name, kind: kind, checksumBytes: bytes))
        }
        return list
    }

    /// Each entry's position and name offset only, checked as `list(parsing:)` checks them.
    ///
    /// What symbolization needs: without a view per entry (which retains the file) this is a
    /// fraction of the cost, and converting a PDB reads every module's list.
    public static func names(parsing bytes: ByteView) throws(ParseError) -> [(position: UInt32, nameOffset: UInt32)] {
        var reader = bytes.reader()
        var list = [(position: UInt32, nameOffset: UInt32)]()
        // An entry takes at least 8 bytes with its padding.
        list.reserveCapacity(bytes.count / 8)
        while reader.remaining >= 6 {
            let position = UInt32(reader.position)
            let name = try reader.read(UInt32.self, "FileChecksum.offstFileName")
            let size = try reader.read(UInt8.self, "FileChecksum.cbChecksum")
            try reader.skip(1, "FileChecksum.ChecksumType")
            try reader.skip(Int(size), "FileChecksum.Checksum")
            let padding = (4 - (reader.position % 4)) % 4
            try reader.skip(min(padding, reader.remaining), "FileChecksum padding")
            list.append((position, name))
        }
        return list
    }
}

/// One entry of `DEBUG_S_INLINEELINES`: where an inlined function's source starts.
public struct InlineeSourceLine: Sendable, Equatable {
    /// `inlinee`: the id (IPI) of the inlined function.
    public var inlinee: UInt32
    /// `fileId`: the file's offset in `DEBUG_S_FILECHKSMS`.
    public var fileChecksumOffset: UInt32
    /// `sourceLineNum`: the line the inlinee's line offsets are relative to.
    public var sourceLine: UInt32
    /// Extra files (`CV_INLINEE_SOURCE_LINE_SIGNATURE_EX` only).
    public var extraFiles: [UInt32]

    /// `CV_INLINEE_SOURCE_LINE_SIGNATURE` (0) and the `_EX` form with extra files (1).
    public static let signature: UInt32 = 0
    public static let signatureEx: UInt32 = 1

    /// Reads every entry of the subsection.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [InlineeSourceLine] {
        var reader = bytes.reader()
        let signature = try reader.read(UInt32.self, "DEBUG_S_INLINEELINES signature")
        guard signature == Self.signature || signature == Self.signatureEx else {
            throw ParseError(
                offset: bytes.fileOffset, field: "DEBUG_S_INLINEELINES signature",
                kind: .unsupportedVersion("\(signature)"))
        }
        var list = [InlineeSourceLine]()
        while reader.remaining >= 12 {
            let inlinee = try reader.read(UInt32.self, "InlineeSourceLine.inlinee")
            let file = try reader.read(UInt32.self, "InlineeSourceLine.fileId")
            let line = try reader.read(UInt32.self, "InlineeSourceLine.sourceLineNum")
            var extra = [UInt32]()
            if signature == Self.signatureEx {
                let count = Int(try reader.read(UInt32.self, "InlineeSourceLineEx.countOfExtraFiles"))
                extra = try reader.readArray(UInt32.self, count: count, "InlineeSourceLineEx.extraFileId")
            }
            list.append(InlineeSourceLine(inlinee: inlinee, fileChecksumOffset: file, sourceLine: line, extraFiles: extra))
        }
        return list
    }
}

/// One entry of `DEBUG_S_CROSSSCOPEIMPORTS`: ids this module uses from another module.
public struct CrossScopeImport: Sendable, Equatable {
    /// `externalModule`: the exporting module's name, an offset in `/names`.
    public var moduleNameOffset: UInt32
    /// The ids, local to the exporting module (`CrossScopeExport.local`).
    public var ids: [UInt32]

    /// Reads every entry of the subsection.
    public static func list(parsing bytes: ByteView) throws(ParseError) -> [CrossScopeImport] {
        var reader = bytes.reader()
        var list = [CrossScopeImport]()
        while reader.remaining >= 8 {
            let name = try reader.read(UInt32.self, "CrossScopeImport.externalModule")
            let count = Int(try reader.read(UInt32.self, "CrossScopeImport.count"))
            let ids = try reader.readArray(UInt32.self, count: count, "CrossScopeImport.ids")
            list.append(CrossScopeImport(moduleNameOffset: name, ids: ids))
        }
        return list
    }

    /// Whether an id in a module's symbols refers through the imports (bit 31 set): bits 20-30
    /// pick the import entry, bits 0-19 the id in it (`CV_CrossScopeId` in microsoft-pdb's cvinfo.h).
    public static func isCrossScope(_ id: UInt32) -> Bool { id & 0x8000_0000 != 0 }

    /// The import entry an id names.
    public static func importIndex(_ id: UInt32) -> Int { Int((id >> 20) & 0x7FF) }

    /// The position in the entry's ids an id names.
    public static func idIndex(_ id: UInt32) -> Int { Int(id & 0xF_FFFF) }
}

/// `DEBUG_S_CROSSSCOPEEXPORTS`: pairs of (id local to this module, id in the IPI stream).
public enum CrossScopeExports {
    /// Reads the pairs in file order.
    public static func pairs(parsing bytes: ByteView) throws(ParseError) -> [(local: UInt32, global: UInt32)] {
        var reader = bytes.reader()
        try reader.checkCount(bytes.count / 8, elementSize: 8, "CrossScopeExport")
        var pairs = [(local: UInt32, global: UInt32)]()
        pairs.reserveCapacity(bytes.count / 8)
        while reader.remaining >= 8 {
            let local = try reader.read(UInt32.self, "CrossScopeExport.local")
            pairs.append((local, try reader.read(UInt32.self, "CrossScopeExport.global")))
        }
        return pairs
    }
}

/// A module's exported ids, local id to global id, searched by bisection.
///
/// A sorted table rather than a dictionary: a module of a /GL build exports thousands of ids,
/// and hashing them all was a fifth of converting such a PDB, for the few that are looked up.
public struct CrossScopeExportTable: Sendable {
    private var locals: [UInt32]
    private var globals: [UInt32]

    /// An empty table.
    public static let empty = CrossScopeExportTable(pairs: [])

    /// A table of `pairs`; when a local id repeats, its first pair counts.
    public init(pairs: [(local: UInt32, global: UInt32)]) {
        let order = pairs.indices.sorted { pairs[$0].local < pairs[$1].local || (pairs[$0].local == pairs[$1].local && $0 < $1) }
        locals = []
        globals = []
        locals.reserveCapacity(order.count)
        globals.reserveCapacity(order.count)
        for index in order where locals.last != pairs[index].local {
            locals.append(pairs[index].local)
            globals.append(pairs[index].global)
        }
    }

    /// The number of exported ids.
    public var count: Int { locals.count }

    /// The global id of `local`, if the module exports it.
    public subscript(local: UInt32) -> UInt32? {
        var low = 0
        var high = locals.count
        while low < high {
            let middle = (low + high) / 2
            if locals[middle] < local { low = middle + 1 } else { high = middle }
        }
        return low < locals.count && locals[low] == local ? globals[low] : nil
    }
}
