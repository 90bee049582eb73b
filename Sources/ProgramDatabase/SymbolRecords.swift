import BinaryReading

/// CodeView symbol record kinds (`SYM_ENUM_e` in cvinfo.h).
public struct SymbolKind: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `S_END`: closes a procedure, block or thunk scope.
    public static let end = SymbolKind(rawValue: 0x0006)
    /// `S_FRAMEPROC`.
    public static let frameProc = SymbolKind(rawValue: 0x1012)
    /// `S_THUNK32`.
    public static let thunk32 = SymbolKind(rawValue: 0x1102)
    /// `S_BLOCK32`.
    public static let block32 = SymbolKind(rawValue: 0x1103)
    /// `S_LABEL32`.
    public static let label32 = SymbolKind(rawValue: 0x1105)
    /// `S_CONSTANT`.
    public static let constant = SymbolKind(rawValue: 0x1107)
    /// `S_UDT`.
    public static let udt = SymbolKind(rawValue: 0x1108)
    /// `S_LDATA32`.
    public static let ldata32 = SymbolKind(rawValue: 0x110C)
    /// `S_GDATA32`.
    public static let gdata32 = SymbolKind(rawValue: 0x110D)
    /// `S_PUB32`.
    public static let pub32 = SymbolKind(rawValue: 0x110E)
    /// `S_LPROC32`.
    public static let lproc32 = SymbolKind(rawValue: 0x110F)
    /// `S_GPROC32`.
    public static let gproc32 = SymbolKind(rawValue: 0x1110)
    /// `S_LTHREAD32`.
    public static let lthread32 = SymbolKind(rawValue: 0x1112)
    /// `S_GTHREAD32`.
    public static let gthread32 = SymbolKind(rawValue: 0x1113)
    /// `S_PROCREF`.
    public static let procRef = SymbolKind(rawValue: 0x1125)
    /// `S_LPROCREF`.
    public static let lprocRef = SymbolKind(rawValue: 0x1127)
    /// `S_LPROC32_ID`.
    public static let lproc32ID = SymbolKind(rawValue: 0x1146)
    /// `S_GPROC32_ID`.
    public static let gproc32ID = SymbolKind(rawValue: 0x1147)
    /// `S_INLINESITE`.
    public static let inlineSite = SymbolKind(rawValue: 0x114D)
    /// `S_INLINESITE_END`.
    public static let inlineSiteEnd = SymbolKind(rawValue: 0x114E)
    /// `S_PROC_ID_END`.
    public static let procIDEnd = SymbolKind(rawValue: 0x114F)
    /// `S_INLINESITE2`: an inline site with an invocation count.
    public static let inlineSite2 = SymbolKind(rawValue: 0x115D)

    /// Whether the record is a procedure (`S_GPROC32`, `S_LPROC32` and their `_ID` forms).
    public var isProcedure: Bool { self == .gproc32 || self == .lproc32 || self == .gproc32ID || self == .lproc32ID }
    /// Whether the record opens a scope closed by `S_END` or `S_INLINESITE_END`.
    public var opensScope: Bool {
        isProcedure || self == .block32 || self == .thunk32 || self == .inlineSite || self == .inlineSite2
    }
    /// Whether the record closes a scope.
    public var closesScope: Bool { self == .end || self == .inlineSiteEnd || self == .procIDEnd }
}

/// One CodeView symbol record: `RecordLen` (u16), `RecordKind` (u16), data.
public struct SymbolRecord: Sendable {
    /// The record kind.
    public var kind: SymbolKind
    /// Offset of the record in its symbol stream (what `pParent`, `pEnd` and references name).
    public var offset: UInt32
    /// The bytes after the kind.
    public var data: ByteView
}

/// Walks a run of symbol records; each step consumes at least 4 bytes, so the walk ends.
public struct SymbolRecordIterator: Sendable {
    var reader: ByteReader
    let base: Int

    /// Iterates over `bytes`, whose first byte is at `base` in its symbol stream.
    public init(_ bytes: ByteView, base: Int = 0) {
        reader = bytes.reader()
        self.base = base
    }

    /// The next record, nil at the end; throws on a record that overruns the bytes.
    public mutating func next() throws(ParseError) -> SymbolRecord? {
        // Records are 4-byte aligned; trailing bytes shorter than a header are padding.
        guard reader.remaining >= 4 else { return nil }
        let offset = UInt32(base + reader.position)
        let length = try reader.read(UInt16.self, "symbol RecordLen")
        guard length >= 2 else {
            throw ParseError(offset: reader.fileOffset - 2, field: "symbol RecordLen", kind: .invalidValue("\(length)"))
        }
        let kind = SymbolKind(rawValue: try reader.read(UInt16.self, "symbol RecordKind"))
        let data = try reader.readBytes(Int(length) - 2, "symbol record 0x" + String(kind.rawValue, radix: 16))
        return SymbolRecord(kind: kind, offset: offset, data: data)
    }
}

/// `PUBSYM32` (`S_PUB32`): a public symbol.
public struct PublicSymbol: Sendable, Equatable {
    /// `pubsymflags`: bit 0 code, bit 1 function, bit 2 managed code, bit 3 MSIL.
    public var flags: UInt32
    /// `off`.
    public var offset: UInt32
    /// `seg` (1-based section).
    public var segment: UInt16
    /// `name`: the decorated (linkage) name.
    public var name: String

    /// Whether the symbol is a function.
    public var isFunction: Bool { flags & 0x2 != 0 }
    /// Whether the symbol is code.
    public var isCode: Bool { flags & 0x1 != 0 }

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        flags = try reader.read(UInt32.self, "PUBSYM32.pubsymflags")
        offset = try reader.read(UInt32.self, "PUBSYM32.off")
        segment = try reader.read(UInt16.self, "PUBSYM32.seg")
        name = try reader.readCString("PUBSYM32.name")
    }
}

/// `PROCSYM32` (`S_GPROC32`, `S_LPROC32`, `S_GPROC32_ID`, `S_LPROC32_ID`): a procedure.
public struct ProcedureSymbol: Sendable, Equatable {
    /// `pParent`.
    public var parent: UInt32
    /// `pEnd`: offset of the matching `S_END`.
    public var end: UInt32
    /// `pNext`.
    public var next: UInt32
    /// `len`: code size.
    public var length: UInt32
    /// `DbgStart`: offset of the end of the prologue.
    public var debugStart: UInt32
    /// `DbgEnd`: offset of the start of the epilogue.
    public var debugEnd: UInt32
    /// `typind`: a type index (TPI) or, in the `_ID` forms, an id (IPI).
    public var typeIndex: UInt32
    /// `off`.
    public var offset: UInt32
    /// `seg`.
    public var segment: UInt16
    /// `flags` (`CV_PROCFLAGS`).
    public var flags: UInt8
    /// `name`.
    public var name: String

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        parent = try reader.read(UInt32.self, "PROCSYM32.pParent")
        end = try reader.read(UInt32.self, "PROCSYM32.pEnd")
        next = try reader.read(UInt32.self, "PROCSYM32.pNext")
        length = try reader.read(UInt32.self, "PROCSYM32.len")
        debugStart = try reader.read(UInt32.self, "PROCSYM32.DbgStart")
        debugEnd = try reader.read(UInt32.self, "PROCSYM32.DbgEnd")
        typeIndex = try reader.read(UInt32.self, "PROCSYM32.typind")
        offset = try reader.read(UInt32.self, "PROCSYM32.off")
        segment = try reader.read(UInt16.self, "PROCSYM32.seg")
        flags = try reader.read(UInt8.self, "PROCSYM32.flags")
        name = try reader.readCString("PROCSYM32.name")
    }
}

/// `BLOCKSYM32` (`S_BLOCK32`): a lexical block.
public struct BlockSymbol: Sendable, Equatable {
    /// `pParent`.
    public var parent: UInt32
    /// `pEnd`.
    public var end: UInt32
    /// `len`.
    public var length: UInt32
    /// `off`.
    public var offset: UInt32
    /// `seg`.
    public var segment: UInt16
    /// `name`.
    public var name: String

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        parent = try reader.read(UInt32.self, "BLOCKSYM32.pParent")
        end = try reader.read(UInt32.self, "BLOCKSYM32.pEnd")
        length = try reader.read(UInt32.self, "BLOCKSYM32.len")
        offset = try reader.read(UInt32.self, "BLOCKSYM32.off")
        segment = try reader.read(UInt16.self, "BLOCKSYM32.seg")
        name = try reader.readCString("BLOCKSYM32.name")
    }
}

/// `THUNKSYM32` (`S_THUNK32`): an incremental-link or adjustor thunk.
public struct ThunkSymbol: Sendable, Equatable {
    /// `pParent`.
    public var parent: UInt32
    /// `pEnd`.
    public var end: UInt32
    /// `pNext`.
    public var next: UInt32
    /// `off`.
    public var offset: UInt32
    /// `seg`.
    public var segment: UInt16
    /// `len`.
    public var length: UInt16
    /// `ord`: `THUNK_ORDINAL`.
    public var ordinal: UInt8
    /// `name`.
    public var name: String

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        parent = try reader.read(UInt32.self, "THUNKSYM32.pParent")
        end = try reader.read(UInt32.self, "THUNKSYM32.pEnd")
        next = try reader.read(UInt32.self, "THUNKSYM32.pNext")
        offset = try reader.read(UInt32.self, "THUNKSYM32.off")
        segment = try reader.read(UInt16.self, "THUNKSYM32.seg")
        length = try reader.read(UInt16.self, "THUNKSYM32.len")
        ordinal = try reader.read(UInt8.self, "THUNKSYM32.ord")
        name = try reader.readCString("THUNKSYM32.name")
    }
}

/// `LABELSYM32` (`S_LABEL32`): a code label.
public struct LabelSymbol: Sendable, Equatable {
    /// `off`.
    public var offset: UInt32
    /// `seg`.
    public var segment: UInt16
    /// `flags` (`CV_PROCFLAGS`).
    public var flags: UInt8
    /// `name`.
    public var name: String

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        offset = try reader.read(UInt32.self, "LABELSYM32.off")
        segment = try reader.read(UInt16.self, "LABELSYM32.seg")
        flags = try reader.read(UInt8.self, "LABELSYM32.flags")
        name = try reader.readCString("LABELSYM32.name")
    }
}

/// `INLINESITESYM` (`S_INLINESITE`) and `INLINESITESYM2` (`S_INLINESITE2`): code inlined into a procedure.
public struct InlineSiteSymbol: Sendable {
    /// `pParent`.
    public var parent: UInt32
    /// `pEnd`.
    public var end: UInt32
    /// `inlinee`: an `LF_FUNC_ID` or `LF_MFUNC_ID` in the IPI stream.
    public var inlinee: UInt32
    /// `invocations` (`S_INLINESITE2` only).
    public var invocations: UInt32?
    /// `binaryAnnotation`: the compressed line and code-range program.
    public var annotations: ByteView

    public init(parsing data: ByteView, kind: SymbolKind) throws(ParseError) {
        var reader = data.reader()
        parent = try reader.read(UInt32.self, "INLINESITESYM.pParent")
        end = try reader.read(UInt32.self, "INLINESITESYM.pEnd")
        inlinee = try reader.read(UInt32.self, "INLINESITESYM.inlinee")
        invocations = kind == .inlineSite2 ? try reader.read(UInt32.self, "INLINESITESYM2.invocations") : nil
        annotations = data.suffix(from: reader.position)
    }
}

/// `FRAMEPROCSYM` (`S_FRAMEPROC`): a procedure's frame layout.
public struct FrameProcSymbol: Sendable, Equatable {
    /// `cbFrame`.
    public var frameSize: UInt32
    /// `cbPad`.
    public var paddingSize: UInt32
    /// `offPad`.
    public var paddingOffset: UInt32
    /// `cbSaveRegs`.
    public var savedRegistersSize: UInt32
    /// `offExHdlr`.
    public var exceptionHandlerOffset: UInt32
    /// `sectExHdlr`.
    public var exceptionHandlerSection: UInt16
    /// `flags`: `FRAMEPROCSYM` bit fields (local and parameter base pointers in bits 14-17).
    public var flags: UInt32

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        frameSize = try reader.read(UInt32.self, "FRAMEPROCSYM.cbFrame")
        paddingSize = try reader.read(UInt32.self, "FRAMEPROCSYM.cbPad")
        paddingOffset = try reader.read(UInt32.self, "FRAMEPROCSYM.offPad")
        savedRegistersSize = try reader.read(UInt32.self, "FRAMEPROCSYM.cbSaveRegs")
        exceptionHandlerOffset = try reader.read(UInt32.self, "FRAMEPROCSYM.offExHdlr")
        exceptionHandlerSection = try reader.read(UInt16.self, "FRAMEPROCSYM.sectExHdlr")
        flags = try reader.read(UInt32.self, "FRAMEPROCSYM.flags")
    }
}

/// `DATASYM32` (`S_GDATA32`, `S_LDATA32`, and the thread-local forms): a variable.
public struct DataSymbol: Sendable, Equatable {
    /// `typind`.
    public var typeIndex: UInt32
    /// `off`.
    public var offset: UInt32
    /// `seg`.
    public var segment: UInt16
    /// `name`.
    public var name: String

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        typeIndex = try reader.read(UInt32.self, "DATASYM32.typind")
        offset = try reader.read(UInt32.self, "DATASYM32.off")
        segment = try reader.read(UInt16.self, "DATASYM32.seg")
        name = try reader.readCString("DATASYM32.name")
    }
}

/// `REFSYM2` (`S_PROCREF`, `S_LPROCREF`): a global's reference to a procedure in a module stream.
public struct ProcedureReference: Sendable, Equatable {
    /// `sumName`.
    public var sumName: UInt32
    /// `ibSym`: offset of the procedure in the module's symbol stream.
    public var symbolOffset: UInt32
    /// `imod`: 1-based module index.
    public var module: UInt16
    /// `name`.
    public var name: String

    public init(parsing data: ByteView) throws(ParseError) {
        var reader = data.reader()
        sumName = try reader.read(UInt32.self, "REFSYM2.sumName")
        symbolOffset = try reader.read(UInt32.self, "REFSYM2.ibSym")
        module = try reader.read(UInt16.self, "REFSYM2.imod")
        name = try reader.readCString("REFSYM2.name")
    }
}
