import BinaryReading

/// A program database (MSF 7.00 PDB): the container, the info stream and the DBI stream are
/// read when opened; every other stream is decoded on request.
public struct PDBFile: Sendable {
    /// The container.
    public let msf: MSFFile
    /// The PDB information stream.
    public let info: PDBInfoStream
    /// The DBI stream.
    public let dbi: DBIStream

    /// Maps and opens the PDB at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(bytes: MappedFile(path: path).bytes)
    }

    /// Opens a PDB held in `bytes`.
    public init(bytes: ByteView) throws(ParseError) {
        let msf = try MSFFile(bytes: bytes)
        self.msf = msf
        guard let infoStream = try msf.stream(PDBStreamIndex.info) else {
            throw ParseError(offset: 0, field: "PDB info stream (1)", kind: .invalidValue("missing"))
        }
        info = try infoStream.parse { view throws(ParseError) in try PDBInfoStream(parsing: view) }
        guard let dbiStream = try msf.stream(PDBStreamIndex.dbi) else {
            throw ParseError(offset: 0, field: "DBI stream (3)", kind: .invalidValue("missing"))
        }
        dbi = try dbiStream.parse { view throws(ParseError) in try DBIStream(parsing: view) }
    }

    /// The GUID that the image's CodeView record repeats.
    public var guid: GUID { info.guid }
    /// The age debuggers match: the DBI stream's. The info stream's age can be larger when a
    /// tool rewrote the PDB (seen in symbolic's `crash_with_srcsrv.pdb`: info age 4 after
    /// `pdbstr` added a source server stream, DBI age 1, and the image says 1).
    public var age: UInt32 { dbi.header.age }
    /// The info stream's age.
    public var infoAge: UInt32 { info.age }
    /// The symbol store key: GUID as 32 hex digits, then the DBI age in hex.
    public var debugIdentifier: String { info.guid.compactHex + hex(age) }
    /// The modules.
    public var modules: [ModuleInfo] { dbi.modules }

    /// The bytes of stream `index`, nil when absent.
    public func stream(_ index: Int) throws(ParseError) -> MSFStream? {
        try msf.stream(index)
    }

    /// Decodes stream `index` with `body`, mapping error offsets to the file; nil when absent.
    public func decode<T>(_ index: Int?, _ body: (ByteView) throws(ParseError) -> T) throws(ParseError) -> T? {
        guard let index, let stream = try msf.stream(index) else { return nil }
        return try stream.parse(body)
    }

    /// The named stream `name` (`/names`, `/LinkInfo`, `srcsrv`, ...), nil when absent.
    public func namedStream(_ name: String) throws(ParseError) -> MSFStream? {
        guard let index = info.namedStreams[name] else { return nil }
        return try msf.stream(index)
    }

    /// The `/names` string table.
    public func stringTable() throws(ParseError) -> PDBStringTable? {
        try decode(info.namedStreams["/names"]) { view throws(ParseError) in try PDBStringTable(parsing: view) }
    }

    /// The TPI stream (types).
    public func typeStream() throws(ParseError) -> TypeStream? {
        try decode(PDBStreamIndex.tpi) { view throws(ParseError) in
            view.count == 0 ? nil : try TypeStream(parsing: view)
        } ?? nil
    }

    /// The IPI stream (ids), present when the file has the `VC140` feature.
    public func idStream() throws(ParseError) -> TypeStream? {
        try decode(PDBStreamIndex.ipi) { view throws(ParseError) in
            view.count == 0 ? nil : try TypeStream(parsing: view)
        } ?? nil
    }

    /// The image's section headers (DBI debug header `SectionHdr`).
    public func sectionHeaders() throws(ParseError) -> [PDBSectionHeader] {
        try decode(dbi.debugStreams.sectionHeaders) { view throws(ParseError) in try PDBSectionHeader.list(parsing: view) } ?? []
    }

    /// The section headers before OMAP reordering (`SectionHdrOrig`), empty when the image was not reordered.
    public func originalSectionHeaders() throws(ParseError) -> [PDBSectionHeader] {
        try decode(dbi.debugStreams.originalSectionHeaders) { view throws(ParseError) in try PDBSectionHeader.list(parsing: view)
        } ?? []
    }

    /// `FPO_DATA` records.
    public func fpoRecords() throws(ParseError) -> [FPOData] {
        try decode(dbi.debugStreams.fpo) { view throws(ParseError) in try FPOData.list(parsing: view) } ?? []
    }

    /// `FRAMEDATA` (new FPO) records.
    public func frameData() throws(ParseError) -> [FrameData] {
        try decode(dbi.debugStreams.newFPO) { view throws(ParseError) in try FrameData.list(parsing: view) } ?? []
    }

    /// The OMAP from image addresses to original addresses, nil when the image was not reordered.
    public func omapToSource() throws(ParseError) -> OMAPTable? {
        try decode(dbi.debugStreams.omapToSource) { view throws(ParseError) in OMAPTable(try OMAPEntry.list(parsing: view)) }
    }

    /// The OMAP from original addresses to image addresses.
    public func omapFromSource() throws(ParseError) -> OMAPTable? {
        try decode(dbi.debugStreams.omapFromSource) { view throws(ParseError) in OMAPTable(try OMAPEntry.list(parsing: view)) }
    }

    /// The publics stream's header, hash and address map.
    public func publicsStream() throws(ParseError) -> PublicsStream? {
        let index = dbi.header.publicStreamIndex
        guard index != DBIStreamHeader.noStream else { return nil }
        return try decode(Int(index)) { view throws(ParseError) in try PublicsStream(parsing: view) }
    }

    /// The public symbols (`S_PUB32`) in address order, as the publics address map lists them.
    public func publicSymbols() throws(ParseError) -> [PublicSymbol] {
        guard let publics = try publicsStream(), let records = try symbolRecordStream() else { return [] }
        return try records.stream.parse { view throws(ParseError) in
            let table = SymbolRecordStream(bytes: view)
            var list = [PublicSymbol]()
            list.reserveCapacity(publics.addressMap.count)
            for offset in publics.addressMap {
                let record = try table.record(at: offset)
                guard record.kind == .pub32 else {
                    throw ParseError(
                        offset: record.data.fileOffset - 4, field: "publics address map entry",
                        kind: .invalidValue("record kind 0x" + String(record.kind.rawValue, radix: 16) + " is not S_PUB32"))
                }
                list.append(try PublicSymbol(parsing: record.data))
            }
            return list
        }
    }

    /// The globals hash (`GlobalStreamIndex`).
    public func globalsHash() throws(ParseError) -> GSIHashTable? {
        let index = dbi.header.globalStreamIndex
        guard index != DBIStreamHeader.noStream else { return nil }
        return try decode(Int(index)) { view throws(ParseError) in
            var reader = view.reader()
            return try GSIHashTable(parsing: &reader)
        }
    }

    /// The global symbols the globals hash names (procedure references, data, constants, UDTs), in hash order.
    public func globalSymbols() throws(ParseError) -> [GlobalSymbol] {
        guard let hash = try globalsHash(), let records = try symbolRecordStream() else { return [] }
        return try records.stream.parse { view throws(ParseError) in
            let table = SymbolRecordStream(bytes: view)
            var list = [GlobalSymbol]()
            list.reserveCapacity(hash.symbolOffsets.count)
            for offset in hash.symbolOffsets {
                list.append(try GlobalSymbol(table.record(at: offset)))
            }
            return list
        }
    }

    /// The symbol record stream and its bytes.
    public func symbolRecordStream() throws(ParseError) -> (stream: MSFStream, records: SymbolRecordStream)? {
        let index = dbi.header.symRecordStream
        guard index != DBIStreamHeader.noStream, let stream = try msf.stream(Int(index)) else { return nil }
        return (stream, SymbolRecordStream(bytes: stream.bytes))
    }

    /// The symbol stream of `module`, nil when the module has none.
    public func moduleStream(_ module: ModuleInfo) throws(ParseError) -> ModuleSymbolStream? {
        guard module.hasSymbolStream else { return nil }
        return try decode(Int(module.moduleSymStream)) { view throws(ParseError) in
            try ModuleSymbolStream(parsing: view, module: module)
        }
    }
}
