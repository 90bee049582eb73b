import BinaryReading

/// `RUNTIME_FUNCTION` / `IMAGE_RUNTIME_FUNCTION_ENTRY` for x64 (12 bytes): one `.pdata` entry.
public struct RuntimeFunction: Sendable, Equatable, Hashable {
    /// `BeginAddress` (RVA).
    public var beginAddress: UInt32
    /// `EndAddress` (RVA, exclusive).
    public var endAddress: UInt32
    /// `UnwindInfoAddress` / `UnwindData` (RVA of `UNWIND_INFO`).
    public var unwindInfoAddress: UInt32

    /// Size on disk.
    public static let size = 12

    public init(beginAddress: UInt32, endAddress: UInt32, unwindInfoAddress: UInt32) {
        self.beginAddress = beginAddress
        self.endAddress = endAddress
        self.unwindInfoAddress = unwindInfoAddress
    }

    /// Reads one entry.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        beginAddress = try reader.read(UInt32.self, "RUNTIME_FUNCTION.BeginAddress")
        endAddress = try reader.read(UInt32.self, "RUNTIME_FUNCTION.EndAddress")
        unwindInfoAddress = try reader.read(UInt32.self, "RUNTIME_FUNCTION.UnwindInfoAddress")
    }

    /// Whether `rva` lies in `[BeginAddress, EndAddress)`.
    public func contains(rva: UInt32) -> Bool { rva >= beginAddress && rva < endAddress }
}

/// The x64 exception directory (`.pdata`): the function table sorted by `BeginAddress`.
public struct X64FunctionTable: Sendable, Equatable {
    /// The entries in file order.
    public var functions: [RuntimeFunction]
    /// Absolute file offset of the first entry.
    public var fileOffset: Int64

    /// Reads the table from the bytes of `IMAGE_DIRECTORY_ENTRY_EXCEPTION`; a partial trailing entry is ignored.
    public init(parsing data: ByteView) throws(ParseError) {
        fileOffset = data.fileOffset
        let count = data.count / RuntimeFunction.size
        var reader = data.reader()
        var functions = [RuntimeFunction]()
        functions.reserveCapacity(count)
        for _ in 0..<count {
            functions.append(try RuntimeFunction(parsing: &reader))
        }
        self.functions = functions
    }

    /// The entry whose range holds `rva`, by binary search (the table is sorted, as the loader requires).
    public func function(containing rva: UInt32) -> RuntimeFunction? {
        var low = 0
        var high = functions.count
        while low < high {
            let middle = low + (high - low) / 2
            if functions[middle].beginAddress <= rva { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let candidate = functions[low - 1]
        return candidate.contains(rva: rva) ? candidate : nil
    }
}

extension PEImage {
    /// Chained unwind info is followed at most this deep; real chains are one or two links.
    public static let maximumUnwindChainDepth = 32

    /// The x64 function table, or nil when the image has no exception directory or is not x64.
    public func x64FunctionTable() throws(ParseError) -> X64FunctionTable? {
        guard machine == .amd64,
            let data = try directoryBytes(.exception, field: "IMAGE_DIRECTORY_ENTRY_EXCEPTION")
        else { return nil }
        return try X64FunctionTable(parsing: data)
    }

    /// The unwind info of `function` and of every parent it chains to, primary first.
    ///
    /// An `UnwindInfoAddress` with its low bit set points to another `RUNTIME_FUNCTION` rather
    /// than to `UNWIND_INFO` (MSVC writes these for split functions); it is followed too. A chain
    /// that revisits an entry or exceeds `maximumUnwindChainDepth` is an error.
    public func x64UnwindChain(for function: RuntimeFunction) throws(ParseError) -> [X64UnwindInfo] {
        try X64UnwindInfo.chain(
            for: function,
            readFunction: { (rva) throws(ParseError) in
                var reader = try bytes(atRVA: rva, size: UInt32(RuntimeFunction.size), field: "RUNTIME_FUNCTION (indirect)")
                    .reader()
                return try RuntimeFunction(parsing: &reader)
            },
            readInfo: { (rva) throws(ParseError) in try X64UnwindInfo(at: rva, in: self) },
            errorOffset: { Int64(fileOffset(ofRVA: $0) ?? 0) })
    }
}
