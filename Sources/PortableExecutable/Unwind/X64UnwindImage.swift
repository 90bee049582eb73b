import BinaryReading

/// x64 unwind data read from an image as the loader laid it out, addressed by RVA: a module's pages
/// captured in a dump, or a PE file mapped section by section.
///
/// Everything is located through the image's own headers (DOS header → NT headers → data directory
/// 3, `IMAGE_DIRECTORY_ENTRY_EXCEPTION`). There is no file here, so the offsets in the errors this
/// type throws are RVAs.
public struct X64UnwindImage: Sendable {
    /// Returns `count` bytes at an RVA, or nil when they are not available.
    public typealias Read = @Sendable (_ rva: UInt64, _ count: Int) -> [UInt8]?

    /// The largest exception directory read in one piece (about 2.8 million functions); a larger
    /// size in a header is read entry by entry instead of allocated.
    public static let maximumDirectorySize = 32 << 20
    /// `e_lfanew` beyond this is not a header anyone writes.
    static let maximumNTHeadersOffset: UInt32 = 0x1000_0000

    private let read: Read

    public init(read: @escaping Read) { self.read = read }

    private func bytes(_ rva: UInt64, _ count: Int, _ field: String) throws(ParseError) -> [UInt8] {
        guard let bytes = read(rva, count), bytes.count == count else {
            throw ParseError(
                offset: Int64(truncatingIfNeeded: rva), field: field,
                kind: .invalidValue("\(count) bytes at RVA 0x\(hex(rva)) are not available"))
        }
        return bytes
    }

    private func view(_ rva: UInt64, _ count: Int, _ field: String) throws(ParseError) -> ByteView {
        MappedFile(bytes: try bytes(rva, count, field), name: "RVA 0x\(hex(rva))").bytes
    }

    /// The exception directory of a PE32+ amd64 image, nil when the image has none; throws when the
    /// headers are unreadable or are not those of an amd64 PE32+ image.
    public func exceptionDirectory() throws(ParseError) -> DataDirectory? {
        var dos = try view(0, 64, "IMAGE_DOS_HEADER").reader()
        let magic = try dos.read(UInt16.self, "IMAGE_DOS_HEADER.e_magic")
        guard magic == 0x5A4D else {
            throw ParseError(offset: 0, field: "IMAGE_DOS_HEADER.e_magic", kind: .badSignature(expected: "MZ", found: hex(magic)))
        }
        dos.position = 0x3C
        let ntOffset = try dos.read(UInt32.self, "IMAGE_DOS_HEADER.e_lfanew")
        guard ntOffset < Self.maximumNTHeadersOffset else {
            throw ParseError(offset: 0x3C, field: "IMAGE_DOS_HEADER.e_lfanew", kind: .invalidValue("0x\(hex(ntOffset))"))
        }
        // Signature, IMAGE_FILE_HEADER (20 bytes) and the PE32+ optional header up to and including
        // data directory 3.
        let needed = 4 + 20 + 112 + 4 * DataDirectory.byteSize
        var nt = try view(UInt64(ntOffset), needed, "IMAGE_NT_HEADERS64").reader()
        let signature = try nt.read(UInt32.self, "IMAGE_NT_HEADERS64.Signature")
        guard signature == 0x4550 else {
            throw ParseError(
                offset: Int64(ntOffset), field: "IMAGE_NT_HEADERS64.Signature",
                kind: .badSignature(expected: "PE\\0\\0", found: hex(signature)))
        }
        let machine = try nt.read(UInt16.self, "IMAGE_FILE_HEADER.Machine")
        guard machine == 0x8664 else {
            throw ParseError(
                offset: Int64(ntOffset) + 4, field: "IMAGE_FILE_HEADER.Machine",
                kind: .invalidValue("not amd64: 0x\(hex(machine))"))
        }
        nt.position = 4 + 16
        let optionalSize = try nt.read(UInt16.self, "IMAGE_FILE_HEADER.SizeOfOptionalHeader")
        nt.position = 24
        let optionalMagic = try nt.read(UInt16.self, "IMAGE_OPTIONAL_HEADER64.Magic")
        guard optionalMagic == 0x20B else {
            throw ParseError(
                offset: Int64(ntOffset) + 24, field: "IMAGE_OPTIONAL_HEADER64.Magic",
                kind: .invalidValue("not PE32+: 0x\(hex(optionalMagic))"))
        }
        nt.position = 24 + 108
        let directoryCount = try nt.read(UInt32.self, "IMAGE_OPTIONAL_HEADER64.NumberOfRvaAndSizes")
        guard directoryCount > 3, Int(optionalSize) >= 112 + 4 * DataDirectory.byteSize else { return nil }
        nt.position = 24 + 112 + 3 * DataDirectory.byteSize
        let directory = DataDirectory(
            virtualAddress: try nt.read(UInt32.self, "IMAGE_DATA_DIRECTORY.VirtualAddress"),
            size: try nt.read(UInt32.self, "IMAGE_DATA_DIRECTORY.Size"))
        return directory.isEmpty ? nil : directory
    }

    /// The whole function table of `directory`, or nil when it is larger than `maximumDirectorySize`
    /// or not available in one piece (a dump may hold only some of its pages).
    public func functionTable(_ directory: DataDirectory) -> X64FunctionTable? {
        let size = Int(directory.size) / RuntimeFunction.size * RuntimeFunction.size
        guard size <= Self.maximumDirectorySize, let bytes = read(UInt64(directory.virtualAddress), size), bytes.count == size
        else { return nil }
        return try? X64FunctionTable(parsing: MappedFile(bytes: bytes, name: "IMAGE_DIRECTORY_ENTRY_EXCEPTION").bytes)
    }

    /// The entry of `directory` covering `rva`, by a binary search that reads one entry per probe, for
    /// tables that could not be read whole. Nil when no entry covers `rva`; throws when a probed
    /// entry is unavailable, since then nothing can be said.
    public func function(containing rva: UInt32, in directory: DataDirectory) throws(ParseError) -> RuntimeFunction? {
        var low = 0
        var high = Int(directory.size) / RuntimeFunction.size
        var found: RuntimeFunction?
        while low < high {
            let middle = low + (high - low) / 2
            let entry = try runtimeFunction(at: UInt64(directory.virtualAddress) + UInt64(middle * RuntimeFunction.size))
            if entry.beginAddress <= rva {
                found = entry
                low = middle + 1
            } else {
                high = middle
            }
        }
        guard let found, found.contains(rva: rva) else { return nil }
        return found
    }

    /// The `RUNTIME_FUNCTION` at `rva`.
    public func runtimeFunction(at rva: UInt64) throws(ParseError) -> RuntimeFunction {
        var reader = try view(rva, RuntimeFunction.size, "RUNTIME_FUNCTION").reader()
        do {
            return try RuntimeFunction(parsing: &reader)
        } catch {
            throw Self.atRVA(error, rva)
        }
    }

    /// The `UNWIND_INFO` at `rva`.
    public func unwindInfo(at rva: UInt32) throws(ParseError) -> X64UnwindInfo {
        do {
            return try X64UnwindInfo(at: rva) { (rva, size, field) throws(ParseError) in
                try view(UInt64(rva), Int(size), field)
            }
        } catch {
            throw Self.atRVA(error, UInt64(rva))
        }
    }

    /// The unwind info of `function` and of every parent it chains to, primary first (see
    /// `PEImage.x64UnwindChain(for:)`).
    public func unwindChain(for function: RuntimeFunction) throws(ParseError) -> [X64UnwindInfo] {
        try X64UnwindInfo.chain(
            for: function, readFunction: { (rva) throws(ParseError) in try runtimeFunction(at: UInt64(rva)) },
            readInfo: { (rva) throws(ParseError) in try unwindInfo(at: rva) }, errorOffset: { Int64($0) })
    }

    /// Errors from views made of copied bytes carry offsets relative to the copy; make them RVAs.
    private static func atRVA(_ error: ParseError, _ rva: UInt64) -> ParseError {
        var moved = error
        moved.offset = Int64(truncatingIfNeeded: rva) &+ error.offset
        return moved
    }
}

extension X64UnwindInfo {
    /// Follows `function`'s unwind info through chained and indirect entries, primary first.
    ///
    /// An `UnwindInfoAddress` with its low bit set points to another `RUNTIME_FUNCTION` rather
    /// than to `UNWIND_INFO` (MSVC writes these for split functions); it is followed too. A chain
    /// that revisits an entry or exceeds `PEImage.maximumUnwindChainDepth` is an error.
    static func chain(
        for function: RuntimeFunction, readFunction: (UInt32) throws(ParseError) -> RuntimeFunction,
        readInfo: (UInt32) throws(ParseError) -> X64UnwindInfo, errorOffset: (UInt32) -> Int64
    ) throws(ParseError) -> [X64UnwindInfo] {
        var chain = [X64UnwindInfo]()
        var seen = Set<UInt32>()
        var address = function.unwindInfoAddress
        var steps = 0
        while true {
            steps += 1
            guard steps <= PEImage.maximumUnwindChainDepth, seen.insert(address).inserted else {
                throw ParseError(
                    offset: errorOffset(address & ~1), field: "UNWIND_INFO.ChainedFunction",
                    kind: .invalidValue(
                        steps > PEImage.maximumUnwindChainDepth
                            ? "chain longer than \(PEImage.maximumUnwindChainDepth)" : "chain loops back to RVA 0x\(hex(address))"
                    ))
            }
            if address & 1 != 0 {
                address = try readFunction(address & ~1).unwindInfoAddress
                continue
            }
            let info = try readInfo(address)
            chain.append(info)
            guard let parent = info.chainedFunction else { return chain }
            address = parent.unwindInfoAddress
        }
    }
}
