import BinaryReading
import BreakpadSymbols
import ProgramDatabase

/// One frame at a symbolized address; inlined frames come first, the enclosing function last.
public struct SymbolizedFrame: Sendable, Equatable, Codable {
    /// The function's name.
    public var function: String
    /// Bytes from the enclosing function's start to the address.
    public var functionOffset: UInt64
    /// Source file, when known.
    public var file: String?
    /// Source line, when known.
    public var line: UInt64?
    /// Whether this frame is an inlined call.
    public var inlined: Bool

    enum CodingKeys: String, CodingKey {
        case function, functionOffset = "function_offset", file, line, inlined
    }

    public init(function: String, functionOffset: UInt64, file: String?, line: UInt64?, inlined: Bool) {
        self.function = function
        self.functionOffset = functionOffset
        self.file = file
        self.line = line
        self.inlined = inlined
    }
}

/// Looks addresses up in one module's symbols, whatever format they came in.
public protocol SymbolProvider: Sendable {
    /// The debug id (GUID + age) the symbols carry, if any.
    var debugID: String? { get }
    /// Frames at `rva` (relative to the module's load address), innermost first; empty when nothing covers it.
    func frames(at rva: UInt64) -> [SymbolizedFrame]
}

/// Symbols from a PDB, through its address index.
public struct PDBSymbolProvider: SymbolProvider {
    public let index: PDBAddressIndex
    public let debugID: String?

    /// Opens the PDB at `path` and builds its address index.
    public init(path: String) throws(ParseError) {
        let pdb = try PDBFile(path: path)
        index = try PDBAddressIndex(pdb)
        debugID = pdb.debugIdentifier
    }

    /// A provider over an opened PDB and its index (built once when unwinding reads it too).
    public init(pdb: PDBFile, index: PDBAddressIndex) {
        self.index = index
        debugID = pdb.debugIdentifier
    }

    public func frames(at rva: UInt64) -> [SymbolizedFrame] {
        guard let rva32 = UInt32(exactly: rva), let location = index.lookup(rva: rva32) else { return [] }
        var frames = location.inlineFrames.map {
            SymbolizedFrame(
                function: $0.function, functionOffset: UInt64(location.functionOffset), file: $0.file,
                line: $0.line.map(UInt64.init), inlined: true)
        }
        frames.append(
            SymbolizedFrame(
                function: location.function, functionOffset: UInt64(location.functionOffset), file: location.file,
                line: location.line.map(UInt64.init), inlined: false))
        return frames
    }
}

/// Symbols from a Breakpad .sym file.
public struct BreakpadSymbolProvider: SymbolProvider {
    public let file: SymbolFile

    /// Parses the .sym file at `path`.
    public init(path: String) throws(ParseError) {
        file = try SymbolFile(path: path)
    }

    public init(file: SymbolFile) {
        self.file = file
    }

    public var debugID: String? { file.module?.id }

    public func frames(at rva: UInt64) -> [SymbolizedFrame] {
        guard let lookup = file.lookup(rva) else { return [] }
        return lookup.frames.enumerated().map { index, frame in
            SymbolizedFrame(
                function: frame.function, functionOffset: frame.functionOffset, file: frame.file,
                line: frame.line.flatMap { $0 > 0 ? UInt64($0) : nil }, inlined: index < lookup.frames.count - 1)
        }
    }
}

/// Opens the symbols at `path` by their content: an MSF file is a PDB, anything else is read as .sym.
public func openSymbols(path: String) throws(ParseError) -> any SymbolProvider {
    let bytes = try MappedFile(path: path).bytes
    let magic = "Microsoft C/C++ "
    if bytes.count >= magic.utf8.count, bytes.prefix(magic.utf8.count).elementsEqual(magic.utf8) {
        return try PDBSymbolProvider(path: path)
    }
    return BreakpadSymbolProvider(file: try SymbolFile(parsing: bytes))
}
