import BinaryReading
import BreakpadSymbols
import ProgramDatabase
import StackWalk
import Symbolication

/// The unwind rules of an x86 module read straight from its PDB: STACK WIN records from the FPO and
/// FrameData streams (converted as dump_syms converts them), and the PDB's procedures and public
/// symbols to tell whether an address is inside known code.
public struct PDBUnwindRules: ModuleUnwindRules, X86ParameterSizes {
    /// The STACK WIN records, kept in a symbol file for its sorted lookup.
    private let records: SymbolFile
    /// Procedures and publics by address.
    public let index: PDBAddressIndex

    /// Rules from an opened PDB and its address index (build the index once for symbols and unwinding).
    public init(pdb: PDBFile, index: PDBAddressIndex) throws(ParseError) {
        records = SymbolFile(module: nil, stackWin: try StackWinConversion.records(pdb: pdb))
        self.index = index
    }

    /// Rules from an opened PDB.
    public init(pdb: PDBFile) throws(ParseError) {
        try self.init(pdb: pdb, index: try PDBAddressIndex(pdb))
    }

    /// Rules from the PDB at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(pdb: try PDBFile(path: path))
    }

    /// The STACK WIN records, sorted by RVA.
    public var stackWinRecords: [StackWinRecord] { records.stackWin }

    /// PDBs carry no Breakpad CFI; x64 unwind data lives in the image.
    public func cfi(at rva: UInt64) -> CFIRecord? { nil }

    /// The FrameData or FPO record covering `rva` (FrameData preferred, as Breakpad does).
    public func stackWin(at rva: UInt64) -> StackWinRecord? { records.stackWin(at: rva) }

    /// Whether a procedure, or a public symbol in the same section, covers `rva`.
    public func hasFunction(at rva: UInt64) -> Bool? {
        if index.functions.isEmpty && index.publics.isEmpty { return nil }
        guard let rva32 = UInt32(exactly: rva) else { return false }
        return index.lookup(rva: rva32) != nil
    }

    /// The parameter bytes of the frame data covering `rva`.
    public func parameterSize(at rva: UInt64) -> UInt64? { stackWin(at: rva)?.parameterSize }
}
