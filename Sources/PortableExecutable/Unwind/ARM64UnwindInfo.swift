import BinaryReading

/// An ARM64 (and ARM Thumb-2) `.pdata` entry, `IMAGE_ARM64_RUNTIME_FUNCTION_ENTRY` (8 bytes).
public struct ARM64RuntimeFunction: Sendable, Equatable, Hashable {
    /// `BeginAddress` (RVA).
    public var beginAddress: UInt32
    /// `UnwindData`: an `.xdata` RVA when `Flag` is 0, otherwise packed unwind data.
    public var unwindData: UInt32

    /// Size on disk.
    public static let size = 8

    public init(beginAddress: UInt32, unwindData: UInt32) {
        self.beginAddress = beginAddress
        self.unwindData = unwindData
    }

    /// Reads one entry.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        beginAddress = try reader.read(UInt32.self, "IMAGE_ARM64_RUNTIME_FUNCTION_ENTRY.BeginAddress")
        unwindData = try reader.read(UInt32.self, "IMAGE_ARM64_RUNTIME_FUNCTION_ENTRY.UnwindData")
    }

    /// `Flag` (bits 0-1): 0 `.xdata` record, 1 packed, 2 packed fragment (no prolog), 3 reserved.
    public var flag: UInt8 { UInt8(unwindData & 3) }
    /// Whether the unwind data is packed into the entry.
    public var isPacked: Bool { flag == 1 || flag == 2 }
}

/// `.xdata` epilog scope (4 bytes, ARM64 layout).
public struct ARM64EpilogScope: Sendable, Equatable {
    /// `Epilog Start Offset` (bits 0-17), in bytes from the function start (stored divided by 4).
    public var startOffset: UInt32
    /// `Reserved` (bits 18-21).
    public var reserved: UInt8
    /// `Epilog Start Index` (bits 22-31): byte index of the epilog's first unwind code.
    public var startIndex: UInt16

    /// Decodes the word.
    public init(word: UInt32) {
        startOffset = (word & 0x3FFFF) * 4
        reserved = UInt8((word >> 18) & 0xF)
        startIndex = UInt16(word >> 22)
    }
}

/// An ARM64 `.xdata` record: header, epilog scopes, unwind code bytes and optional handler.
public struct ARM64UnwindInfo: Sendable, Equatable {
    /// `Function Length` (bits 0-17), in bytes (stored divided by 4).
    public var functionLength: UInt32
    /// `Vers` (bits 18-19): 0.
    public var version: UInt8
    /// `X` (bit 20): exception data follows.
    public var hasExceptionData: Bool
    /// `E` (bit 21): a single epilog, packed into the header, no scopes.
    public var singleEpilogPacked: Bool
    /// `Epilog Count` (bits 22-26, or the extension word): number of scopes, or with `E` the epilog's first code index.
    public var epilogCount: UInt32
    /// `Code Words` (bits 27-31, or the extension word): 32-bit words of unwind codes.
    public var codeWords: UInt32
    /// The epilog scopes (empty when `E` is set).
    public var epilogScopes: [ARM64EpilogScope]
    /// The unwind code bytes, including padding.
    public var codeBytes: [UInt8]
    /// The prolog's codes, decoded from index 0 up to `end`.
    public var prologCodes: [ARM64UnwindCode]
    /// `Exception Handler` RVA when `X` is set.
    public var exceptionHandler: UInt32?
    /// RVA of the record.
    public var rva: UInt32

    /// Reads the record at `rva`.
    public init(at rva: UInt32, in image: PEImage, referencedAt: Int64? = nil) throws(ParseError) {
        // The record's size is known only after the header; take what the section holds and check as we go.
        let data = try image.bytes(fromRVA: rva, limit: 4 * (2 + 0xFFFF + 0xFF + 2), field: ".xdata", referencedAt: referencedAt)
        try self.init(parsing: data, rva: rva)
    }

    /// Reads the record at the start of `data`, which holds at least the whole record.
    public init(parsing data: ByteView, rva: UInt32) throws(ParseError) {
        self.rva = rva
        var reader = data.reader()
        let header = try reader.read(UInt32.self, ".xdata header")
        functionLength = (header & 0x3FFFF) * 4
        version = UInt8((header >> 18) & 3)
        hasExceptionData = (header >> 20) & 1 != 0
        singleEpilogPacked = (header >> 21) & 1 != 0
        epilogCount = (header >> 22) & 0x1F
        codeWords = header >> 27
        if epilogCount == 0 && codeWords == 0 {
            let extended = try reader.read(UInt32.self, ".xdata extension word")
            epilogCount = extended & 0xFFFF
            codeWords = (extended >> 16) & 0xFF
        }
        var scopes = [ARM64EpilogScope]()
        if !singleEpilogPacked {
            try reader.checkCount(Int(epilogCount), elementSize: 4, ".xdata Epilog Count")
            scopes.reserveCapacity(Int(epilogCount))
            for _ in 0..<epilogCount {
                scopes.append(ARM64EpilogScope(word: try reader.read(UInt32.self, ".xdata epilog scope")))
            }
        }
        epilogScopes = scopes
        let codeStart = reader.fileOffset
        codeBytes = try reader.readBytes(Int(codeWords) * 4, ".xdata unwind codes").array
        prologCodes = try ARM64UnwindCode.decode(codeBytes, fileOffset: codeStart)
        exceptionHandler = hasExceptionData ? try reader.read(UInt32.self, ".xdata Exception Handler") : nil
    }

    /// The first code byte index of each epilog: the scopes' `startIndex`, or with `E` set the
    /// index packed into the header (that single epilog ends the function).
    public var epilogStartIndices: [Int] {
        singleEpilogPacked ? [Int(epilogCount)] : epilogScopes.map { Int($0.startIndex) }
    }

    /// The codes of the epilog starting at code byte `index` (a scope's `startIndex`), up to `end`.
    public func epilogCodes(startingAt index: Int) throws(ParseError) -> [ARM64UnwindCode] {
        guard index >= 0, index < codeBytes.count else { return [] }
        return try ARM64UnwindCode.decode(codeBytes, from: index, fileOffset: 0)
    }
}

/// The decoded unwind data of one ARM64 function.
public enum ARM64Unwind: Sendable, Equatable {
    /// Packed into the `.pdata` entry.
    case packed(ARM64PackedUnwind)
    /// A full `.xdata` record.
    case unpacked(ARM64UnwindInfo)
}

/// The ARM64 or ARM Thumb-2 exception directory: `.pdata` entries sorted by `BeginAddress`.
public struct ARM64FunctionTable: Sendable, Equatable {
    /// The entries in file order.
    public var functions: [ARM64RuntimeFunction]

    /// Reads the table; a partial trailing entry is ignored.
    public init(parsing data: ByteView) throws(ParseError) {
        let count = data.count / ARM64RuntimeFunction.size
        var reader = data.reader()
        var functions = [ARM64RuntimeFunction]()
        functions.reserveCapacity(count)
        for _ in 0..<count {
            functions.append(try ARM64RuntimeFunction(parsing: &reader))
        }
        self.functions = functions
    }

    /// The last entry starting at or before `rva`, by binary search. ARM64 entries carry no end
    /// address outside their unwind data, so the caller checks the function length.
    public func function(containing rva: UInt32) -> ARM64RuntimeFunction? {
        var low = 0
        var high = functions.count
        while low < high {
            let middle = low + (high - low) / 2
            if functions[middle].beginAddress <= rva { low = middle + 1 } else { high = middle }
        }
        return low > 0 ? functions[low - 1] : nil
    }
}

extension PEImage {
    /// The ARM64 function table, or nil when the image has none or is another machine.
    public func arm64FunctionTable() throws(ParseError) -> ARM64FunctionTable? {
        guard machine == .arm64 || machine == .arm64EC || machine == .arm64X,
            let data = try directoryBytes(.exception, field: "IMAGE_DIRECTORY_ENTRY_EXCEPTION")
        else { return nil }
        return try ARM64FunctionTable(parsing: data)
    }

    /// The ARM Thumb-2 (`IMAGE_FILE_MACHINE_ARMNT`) function table: the same 8-byte entries as
    /// ARM64, but its packed and `.xdata` formats differ and are not decoded here, so
    /// `arm64Unwind(for:)` must not be used on these entries.
    public func armThumbFunctionTable() throws(ParseError) -> ARM64FunctionTable? {
        guard machine == .armNT,
            let data = try directoryBytes(.exception, field: "IMAGE_DIRECTORY_ENTRY_EXCEPTION")
        else { return nil }
        return try ARM64FunctionTable(parsing: data)
    }

    /// The unwind data of an ARM64 function, packed or from `.xdata`.
    public func arm64Unwind(for function: ARM64RuntimeFunction) throws(ParseError) -> ARM64Unwind {
        guard machine != .armNT else {
            throw ParseError(
                offset: ntHeadersOffset + 4, field: "IMAGE_FILE_HEADER.Machine",
                kind: .invalidValue("ARM Thumb-2 unwind data is not decoded"))
        }
        switch function.flag {
        case 0:
            return .unpacked(try ARM64UnwindInfo(at: function.unwindData, in: self))
        case 1, 2:
            return .packed(ARM64PackedUnwind(unwindData: function.unwindData))
        default:
            throw ParseError(
                offset: ntHeadersOffset, field: "IMAGE_ARM64_RUNTIME_FUNCTION_ENTRY.Flag",
                kind: .invalidValue("reserved flag 3 for function at RVA 0x\(hex(function.beginAddress))"))
        }
    }
}
