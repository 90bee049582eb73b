import BinaryReading
import ProgramDatabase

/// Opens the bytes as a PDB and reads every stream the reader knows, then builds the address
/// index and looks a few addresses up.
@Sendable public func fuzzProgramDatabase(_ bytes: ByteView) {
    guard let pdb = try? PDBFile(bytes: bytes) else { return }
    _ = pdb.debugIdentifier
    _ = try? pdb.dbi.moduleFiles()
    _ = try? pdb.namedStream("/names")
    _ = try? pdb.stringTable()
    _ = try? pdb.typeStream()
    if let ids = try? pdb.idStream() {
        for offset in 0..<min(ids.offsets.count, 64) {
            _ = ids.inlineeName(ids.header.typeIndexBegin + UInt32(offset), types: nil)
        }
    }
    _ = try? pdb.sectionHeaders()
    _ = try? pdb.originalSectionHeaders()
    _ = try? pdb.fpoRecords()
    _ = try? pdb.frameData()
    _ = try? pdb.omapToSource()
    _ = try? pdb.omapFromSource()
    _ = try? pdb.publicSymbols()
    _ = try? pdb.globalSymbols()
    for module in pdb.modules.prefix(32) {
        guard let stream = try? pdb.moduleStream(module) else { continue }
        var records = stream.records()
        var count = 0
        while count < 4096, let record = try? records.next() {
            count += 1
            switch record.kind {
            case .gproc32, .lproc32, .gproc32ID, .lproc32ID: _ = try? ProcedureSymbol(parsing: record.data)
            case .block32: _ = try? BlockSymbol(parsing: record.data)
            case .thunk32: _ = try? ThunkSymbol(parsing: record.data)
            case .label32: _ = try? LabelSymbol(parsing: record.data)
            case .frameProc: _ = try? FrameProcSymbol(parsing: record.data)
            case .inlineSite, .inlineSite2:
                if let site = try? InlineSiteSymbol(parsing: record.data, kind: record.kind) {
                    _ = try? BinaryAnnotations.ranges(site.annotations)
                }
            default: break
            }
        }
        _ = try? stream.lineFragments()
        _ = try? stream.fileChecksums()
        _ = try? stream.inlineeLines()
        _ = try? stream.crossScopeImports()
        _ = try? stream.crossScopeExports()
    }
    guard let index = try? PDBAddressIndex(pdb) else { return }
    for function in index.functions.prefix(32) {
        _ = index.lookup(rva: function.start)
        _ = index.lookup(rva: function.end &- 1)
    }
    for rva in [0, 0x1000, 0x1234, UInt32.max] as [UInt32] { _ = index.lookup(rva: rva) }
}
