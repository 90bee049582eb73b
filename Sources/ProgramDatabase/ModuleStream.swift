import BinaryReading

/// A module's symbol stream: `CV_SIGNATURE_C13` (4), symbols, C11 lines, C13 subsections,
/// then global references, with the sizes the module's `ModInfo` gives (LLVM's `ModiStream.html`).
public struct ModuleSymbolStream: Sendable {
    /// The signature: 4 (`CV_SIGNATURE_C13`) in every current file.
    public var signature: UInt32
    /// The symbol records (after the signature); record offsets count from the stream start.
    public let symbols: ByteView
    /// The C13 debug subsections.
    public let subsections: [DebugSubsection]

    /// `CV_SIGNATURE_C13`.
    public static let c13Signature: UInt32 = 4

    public init(parsing bytes: ByteView, module: ModuleInfo) throws(ParseError) {
        var reader = bytes.reader()
        guard module.symByteSize >= 4 || module.symByteSize == 0 else {
            throw ParseError(offset: bytes.fileOffset, field: "ModInfo.SymByteSize", kind: .invalidValue("\(module.symByteSize)"))
        }
        if module.symByteSize == 0 {
            signature = Self.c13Signature
            symbols = .empty
        } else {
            signature = try reader.read(UInt32.self, "module stream signature")
            guard signature == Self.c13Signature else {
                throw ParseError(
                    offset: bytes.fileOffset, field: "module stream signature",
                    kind: .unsupportedVersion("\(signature) (only C13, 4, is read)"))
            }
            symbols = try reader.readBytes(Int(module.symByteSize) - 4, "module symbols (SymByteSize)")
        }
        try reader.skip(Int(module.c11ByteSize), "module C11 lines (C11ByteSize)")
        let c13 = try reader.readBytes(Int(module.c13ByteSize), "module C13 lines (C13ByteSize)")
        subsections = try DebugSubsection.list(parsing: c13)
    }

    /// An iterator over the symbol records; their offsets count from the stream start (after the signature's 4 bytes).
    public func records() -> SymbolRecordIterator {
        SymbolRecordIterator(symbols, base: 4)
    }

    /// Every `DEBUG_S_LINES` fragment.
    public func lineFragments() throws(ParseError) -> [LineFragment] {
        var list = [LineFragment]()
        for subsection in subsections where subsection.kind == .lines {
            list.append(try LineFragment(parsing: subsection.data))
        }
        return list
    }

    /// The `DEBUG_S_FILECHKSMS` entries.
    public func fileChecksums() throws(ParseError) -> [FileChecksum] {
        var list = [FileChecksum]()
        for subsection in subsections where subsection.kind == .fileChecksums {
            list += try FileChecksum.list(parsing: subsection.data)
        }
        return list
    }

    /// The `DEBUG_S_FILECHKSMS` entries' positions and name offsets (`FileChecksum.names(parsing:)`).
    public func fileChecksumNames() throws(ParseError) -> [(position: UInt32, nameOffset: UInt32)] {
        var list = [(position: UInt32, nameOffset: UInt32)]()
        for subsection in subsections where subsection.kind == .fileChecksums {
            list += try FileChecksum.names(parsing: subsection.data)
        }
        return list
    }

    /// The `DEBUG_S_INLINEELINES` entries.
    public func inlineeLines() throws(ParseError) -> [InlineeSourceLine] {
        var list = [InlineeSourceLine]()
        for subsection in subsections where subsection.kind == .inlineeLines {
            list += try InlineeSourceLine.list(parsing: subsection.data)
        }
        return list
    }
}

extension ModuleSymbolStream {
    /// The `DEBUG_S_CROSSSCOPEIMPORTS` entries.
    public func crossScopeImports() throws(ParseError) -> [CrossScopeImport] {
        var list = [CrossScopeImport]()
        for subsection in subsections where subsection.kind == .crossScopeImports {
            list += try CrossScopeImport.list(parsing: subsection.data)
        }
        return list
    }

    /// The `DEBUG_S_CROSSSCOPEEXPORTS` map from local ids to IPI ids.
    public func crossScopeExports() throws(ParseError) -> CrossScopeExportTable {
        var pairs = [(local: UInt32, global: UInt32)]()
        for subsection in subsections where subsection.kind == .crossScopeExports {
            pairs += try CrossScopeExports.pairs(parsing: subsection.data)
        }
        return CrossScopeExportTable(pairs: pairs)
    }
}
