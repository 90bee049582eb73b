import BinaryReading

/// `TRIAGE_DUMP32` (0x68 bytes) or `TRIAGE_DUMP64` (0x80 bytes): the header of a small (mini)
/// kernel dump, right after the dump header. Offsets are file offsets.
public struct TriageDumpHeader: Sendable, Equatable {
    /// `ServicePackBuild`.
    public var servicePackBuild: UInt32
    /// `SizeOfDump`: bytes of the triage dump.
    public var sizeOfDump: UInt32
    /// `ValidOffset`: where `TRGD` (`TRIAGE_DUMP_VALID`) is written.
    public var validOffset: UInt32
    /// `ContextOffset`: the crashing thread's `CONTEXT`.
    public var contextOffset: UInt32
    /// `ExceptionOffset`: the `EXCEPTION_RECORD`.
    public var exceptionOffset: UInt32
    /// `MmOffset`: memory-manager triage information.
    public var mmOffset: UInt32
    /// `UnloadedDriversOffset`.
    public var unloadedDriversOffset: UInt32
    /// `PrcbOffset`: the crashing processor's `KPRCB`.
    public var prcbOffset: UInt32
    /// `ProcessOffset`: the current `EPROCESS`.
    public var processOffset: UInt32
    /// `ThreadOffset`: the current `ETHREAD`.
    public var threadOffset: UInt32
    /// `CallStackOffset`: the saved stack bytes.
    public var callStackOffset: UInt32
    /// `SizeOfCallStack`.
    public var sizeOfCallStack: UInt32
    /// `DriverListOffset`: `DUMP_DRIVER_ENTRY` array.
    public var driverListOffset: UInt32
    /// `DriverCount`.
    public var driverCount: UInt32
    /// `StringPoolOffset`: the `DUMP_STRING`s driver names point into.
    public var stringPoolOffset: UInt32
    /// `StringPoolSize`.
    public var stringPoolSize: UInt32
    /// `BrokenDriverOffset`.
    public var brokenDriverOffset: UInt32
    /// `TriageOptions`.
    public var triageOptions: UInt32
    /// `TopOfStack`: the virtual address the saved stack bytes start at (sign-extended on 32-bit).
    public var topOfStack: UInt64
    /// `ArchitectureSpecific` (64-bit only: the IA-64 backing store; 16 bytes).
    public var architectureSpecific: [UInt8]
    /// `DataPageAddress` (sign-extended on 32-bit).
    public var dataPageAddress: UInt64
    /// `DataPageOffset`.
    public var dataPageOffset: UInt32
    /// `DataPageSize`.
    public var dataPageSize: UInt32
    /// `DebuggerDataOffset`: the saved `KDDEBUGGER_DATA64`.
    public var debuggerDataOffset: UInt32
    /// `DebuggerDataSize`.
    public var debuggerDataSize: UInt32
    /// `DataBlocksOffset`: `TRIAGE_DATA_BLOCK` array.
    public var dataBlocksOffset: UInt32
    /// `DataBlocksCount`.
    public var dataBlocksCount: UInt32

    /// `'TRGD'` at `ValidOffset`.
    public static let validSignature: UInt32 = 0x4447_5254

    public init(parsing reader: inout ByteReader, is64Bit: Bool) throws(ParseError) {
        let f = is64Bit ? "TRIAGE_DUMP64." : "TRIAGE_DUMP32."
        servicePackBuild = try reader.read(UInt32.self, f + "ServicePackBuild")
        sizeOfDump = try reader.read(UInt32.self, f + "SizeOfDump")
        validOffset = try reader.read(UInt32.self, f + "ValidOffset")
        contextOffset = try reader.read(UInt32.self, f + "ContextOffset")
        exceptionOffset = try reader.read(UInt32.self, f + "ExceptionOffset")
        mmOffset = try reader.read(UInt32.self, f + "MmOffset")
        unloadedDriversOffset = try reader.read(UInt32.self, f + "UnloadedDriversOffset")
        prcbOffset = try reader.read(UInt32.self, f + "PrcbOffset")
        processOffset = try reader.read(UInt32.self, f + "ProcessOffset")
        threadOffset = try reader.read(UInt32.self, f + "ThreadOffset")
        callStackOffset = try reader.read(UInt32.self, f + "CallStackOffset")
        sizeOfCallStack = try reader.read(UInt32.self, f + "SizeOfCallStack")
        driverListOffset = try reader.read(UInt32.self, f + "DriverListOffset")
        driverCount = try reader.read(UInt32.self, f + "DriverCount")
        stringPoolOffset = try reader.read(UInt32.self, f + "StringPoolOffset")
        stringPoolSize = try reader.read(UInt32.self, f + "StringPoolSize")
        brokenDriverOffset = try reader.read(UInt32.self, f + "BrokenDriverOffset")
        triageOptions = try reader.read(UInt32.self, f + "TriageOptions")
        if is64Bit {
            topOfStack = try reader.read(UInt64.self, f + "TopOfStack")
            architectureSpecific = try reader.readBytes(16, f + "ArchitectureSpecific").array
            dataPageAddress = try reader.read(UInt64.self, f + "DataPageAddress")
        } else {
            topOfStack = Self.signExtend(try reader.read(UInt32.self, f + "TopOfStack"))
            architectureSpecific = []
            dataPageAddress = Self.signExtend(try reader.read(UInt32.self, f + "DataPageAddress"))
        }
        dataPageOffset = try reader.read(UInt32.self, f + "DataPageOffset")
        dataPageSize = try reader.read(UInt32.self, f + "DataPageSize")
        debuggerDataOffset = try reader.read(UInt32.self, f + "DebuggerDataOffset")
        debuggerDataSize = try reader.read(UInt32.self, f + "DebuggerDataSize")
        dataBlocksOffset = try reader.read(UInt32.self, f + "DataBlocksOffset")
        dataBlocksCount = try reader.read(UInt32.self, f + "DataBlocksCount")
    }

    /// 32-bit kernel addresses as debuggers and the dump's own data blocks write them
    /// (0x80000000 becomes 0xFFFFFFFF80000000; seen in the Windows 10 IoT ARM32 small dump).
    static func signExtend(_ value: UInt32) -> UInt64 { UInt64(bitPattern: Int64(Int32(bitPattern: value))) }
}

/// A driver of a small dump's list: `DUMP_DRIVER_ENTRY32` (0x4C bytes) or `DUMP_DRIVER_ENTRY64`
/// (0x90 bytes), a name offset followed by the kernel's `KLDR_DATA_TABLE_ENTRY`.
public struct TriageDriver: Sendable, Equatable {
    /// The `DUMP_STRING` at `DriverNameOffset` (e.g. `\SystemRoot\system32\ntoskrnl.exe`).
    public var name: String
    /// `LdrEntry.DllBase` (sign-extended on 32-bit).
    public var baseAddress: UInt64
    /// `LdrEntry.EntryPoint` (sign-extended on 32-bit).
    public var entryPoint: UInt64
    /// `LdrEntry.SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `LdrEntry.Flags`.
    public var flags: UInt32
    /// `LdrEntry.CheckSum`: the image's PE checksum.
    public var checkSum: UInt32
    /// `LdrEntry.TimeDateStamp`: the image's PE timestamp.
    public var timeDateStamp: UInt32

    /// The file name after the last backslash.
    public var fileName: String {
        name.split(separator: "\\", omittingEmptySubsequences: false).last.map(String.init) ?? name
    }

    /// Size of one entry.
    static func entrySize(is64Bit: Bool) -> Int { is64Bit ? 0x90 : 0x4C }
}

/// A driver unloaded before the crash: `DUMP_UNLOADED_DRIVERS32` (0x28 bytes) or
/// `DUMP_UNLOADED_DRIVERS64` (0x38 bytes) — a `UNICODE_STRING` (its buffer pointer unused), the
/// name inline in 12 UTF-16 units, then the start and end addresses. The list at
/// `UnloadedDriversOffset` starts with a 32-bit count (padded to 8 bytes on 64-bit).
public struct TriageUnloadedDriver: Sendable, Equatable {
    /// The name, cut to 12 characters by the writer (`dump_storpor` for `dump_storport.sys`).
    public var name: String
    /// `StartAddress` (sign-extended on 32-bit).
    public var startAddress: UInt64
    /// `EndAddress` (sign-extended on 32-bit).
    public var endAddress: UInt64

    static func entrySize(is64Bit: Bool) -> Int { is64Bit ? 0x38 : 0x28 }
}

/// Bytes a small dump saved for a range of virtual addresses (`TRIAGE_DATA_BLOCK`, 16 bytes, or the stack).
public struct TriageMemoryBlock: Sendable {
    /// Virtual address of the first byte.
    public var address: UInt64
    /// The saved bytes.
    public var bytes: ByteView
    /// One past the last address (saturating).
    public var endAddress: UInt64 {
        address.addingReportingOverflow(UInt64(bytes.count)).overflow ? .max : address + UInt64(bytes.count)
    }
}

/// The contents of a small (triage) kernel dump.
public struct TriageDump: Sendable {
    /// The `TRIAGE_DUMP` header.
    public var header: TriageDumpHeader
    /// Whether `TRGD` was found at `ValidOffset`.
    public var isValid: Bool
    /// The crashing thread's `CONTEXT` bytes (size of the machine's CONTEXT), when present.
    public var context: ByteView?
    /// The saved stack of the crashing thread, based at `TopOfStack`.
    public var stack: TriageMemoryBlock?
    /// The loaded drivers.
    public var drivers: [TriageDriver]
    /// Drivers unloaded before the crash.
    public var unloadedDrivers: [TriageUnloadedDriver]
    /// The data blocks (`TRIAGE_DATA_BLOCK`), in file order.
    public var dataBlocks: [TriageMemoryBlock]
    /// The saved `KPRCB`, `EPROCESS` and `ETHREAD` bytes; their sizes are not stored, so each
    /// runs to the next part the header locates.
    public var prcb: ByteView?
    public var process: ByteView?
    public var thread: ByteView?
    /// The saved `KDDEBUGGER_DATA64`.
    public var debuggerData: ByteView?
    /// The optional data page (`DataPageAddress`, `DataPageOffset`, `DataPageSize`).
    public var dataPage: TriageMemoryBlock?
    /// Parts that could not be decoded; the rest is still available.
    public var warnings: [ParseError]
    /// Stack and data blocks sorted by address, for `read`.
    private var index: [TriageMemoryBlock]

    /// CONTEXT sizes by machine: x64 0x4D0, ARM64 0x390, x86 0x2CC, ARM 0x1A0.
    static func contextSize(_ machine: MachineType?) -> Int? {
        switch machine {
        case .amd64?: 0x4D0
        case .arm64?: 0x390
        case .x86?: 0x2CC
        case .armNT?, .arm?: 0x1A0
        default: nil
        }
    }

    init(parsing bytes: ByteView, header dumpHeader: DumpHeader) throws(ParseError) {
        let is64Bit = dumpHeader.is64Bit
        var reader = bytes.reader(at: dumpHeader.size)
        header = try TriageDumpHeader(parsing: &reader, is64Bit: is64Bit)
        warnings = []
        let header = header
        isValid = (try? bytes.load(UInt32.self, at: Int(header.validOffset), field: "")) == TriageDumpHeader.validSignature

        func optionalSlice(_ offset: UInt32, _ size: Int, _ field: String, warnings: inout [ParseError]) -> ByteView? {
            guard offset != 0 else { return nil }
            do {
                return try bytes.slice(offset: Int(offset), size: size, field: field)
            } catch {
                warnings.append(error)
                return nil
            }
        }

        if let size = Self.contextSize(dumpHeader.machineImageType) {
            context = optionalSlice(header.contextOffset, size, "TRIAGE_DUMP.ContextOffset", warnings: &warnings)
        } else {
            context = nil
        }
        if let stackBytes = optionalSlice(
            header.callStackOffset, Int(header.sizeOfCallStack), "TRIAGE_DUMP.CallStackOffset", warnings: &warnings)
        {
            stack = TriageMemoryBlock(address: header.topOfStack, bytes: stackBytes)
        } else {
            stack = nil
        }
        debuggerData = optionalSlice(
            header.debuggerDataOffset, Int(header.debuggerDataSize), "TRIAGE_DUMP.DebuggerDataOffset", warnings: &warnings)
        if header.dataPageSize != 0,
            let page = optionalSlice(
                header.dataPageOffset, Int(header.dataPageSize), "TRIAGE_DUMP.DataPageOffset", warnings: &warnings)
        {
            dataPage = TriageMemoryBlock(address: header.dataPageAddress, bytes: page)
        } else {
            dataPage = nil
        }

        // KPRCB, EPROCESS and ETHREAD sizes depend on the kernel build; each part ends where the
        // next part the header locates begins.
        let boundaries = [
            header.contextOffset, header.exceptionOffset, header.mmOffset, header.unloadedDriversOffset,
            header.prcbOffset, header.processOffset, header.threadOffset, header.callStackOffset,
            header.driverListOffset, header.stringPoolOffset, header.debuggerDataOffset, header.dataBlocksOffset,
            header.dataPageOffset, header.validOffset,
        ].filter { $0 != 0 }.sorted()
        func part(_ offset: UInt32, _ field: String, warnings: inout [ParseError]) -> ByteView? {
            guard offset != 0 else { return nil }
            let end = boundaries.first(where: { $0 > offset }).map(Int.init) ?? bytes.count
            return optionalSlice(offset, max(0, min(end, bytes.count) - Int(offset)), field, warnings: &warnings)
        }
        prcb = part(header.prcbOffset, "TRIAGE_DUMP.PrcbOffset", warnings: &warnings)
        process = part(header.processOffset, "TRIAGE_DUMP.ProcessOffset", warnings: &warnings)
        thread = part(header.threadOffset, "TRIAGE_DUMP.ThreadOffset", warnings: &warnings)

        do {
            drivers = try Self.parseDrivers(bytes, header, is64Bit: is64Bit, warnings: &warnings)
        } catch {
            warnings.append(error)
            drivers = []
        }
        do {
            unloadedDrivers = try Self.parseUnloadedDrivers(bytes, header, is64Bit: is64Bit)
        } catch {
            warnings.append(error)
            unloadedDrivers = []
        }
        do {
            dataBlocks = try Self.parseDataBlocks(bytes, header, warnings: &warnings)
        } catch {
            warnings.append(error)
            dataBlocks = []
        }
        index = (dataBlocks + [stack, dataPage].compactMap { $0 }).filter { $0.bytes.count > 0 }.sorted {
            $0.address < $1.address
        }
    }

    private static func parseDrivers(
        _ bytes: ByteView, _ header: TriageDumpHeader, is64Bit: Bool, warnings: inout [ParseError]
    ) throws(ParseError) -> [TriageDriver] {
        guard header.driverListOffset != 0, header.driverCount != 0 else { return [] }
        let f = is64Bit ? "DUMP_DRIVER_ENTRY64." : "DUMP_DRIVER_ENTRY32."
        let stride = TriageDriver.entrySize(is64Bit: is64Bit)
        var reader = bytes.reader(at: Int(header.driverListOffset))
        guard Int(header.driverListOffset) <= bytes.count else {
            throw ParseError(
                offset: Int64(header.driverListOffset), field: "TRIAGE_DUMP.DriverListOffset",
                kind: .outOfBounds(offset: Int64(header.driverListOffset), size: 0, fileSize: Int64(bytes.count)))
        }
        try reader.checkCount(Int(header.driverCount), elementSize: stride, "TRIAGE_DUMP.DriverCount")
        var drivers: [TriageDriver] = []
        drivers.reserveCapacity(Int(header.driverCount))
        for _ in 0..<Int(header.driverCount) {
            var entry = try reader.readBytes(stride, f).reader()
            let nameOffset = try entry.read(UInt32.self, f + "DriverNameOffset")
            let base: UInt64, entryPoint: UInt64, size: UInt32, flags: UInt32, checkSum: UInt32, timeDateStamp: UInt32
            if is64Bit {
                // KLDR_DATA_TABLE_ENTRY64 at +8: DllBase +0x30, EntryPoint +0x38, SizeOfImage +0x40,
                // Flags +0x68, CheckSum +0x78, TimeDateStamp +0x80.
                entry.position = 8 + 0x30
                base = try entry.read(UInt64.self, f + "LdrEntry.DllBase")
                entryPoint = try entry.read(UInt64.self, f + "LdrEntry.EntryPoint")
                size = try entry.read(UInt32.self, f + "LdrEntry.SizeOfImage")
                entry.position = 8 + 0x68
                flags = try entry.read(UInt32.self, f + "LdrEntry.Flags")
                entry.position = 8 + 0x78
                checkSum = try entry.read(UInt32.self, f + "LdrEntry.CheckSum")
                entry.position = 8 + 0x80
                timeDateStamp = try entry.read(UInt32.self, f + "LdrEntry.TimeDateStamp")
            } else {
                // KLDR_DATA_TABLE_ENTRY32 at +4: DllBase +0x18, EntryPoint +0x1C, SizeOfImage +0x20,
                // Flags +0x34, CheckSum +0x40, TimeDateStamp +0x44.
                entry.position = 4 + 0x18
                base = TriageDumpHeader.signExtend(try entry.read(UInt32.self, f + "LdrEntry.DllBase"))
                entryPoint = TriageDumpHeader.signExtend(try entry.read(UInt32.self, f + "LdrEntry.EntryPoint"))
                size = try entry.read(UInt32.self, f + "LdrEntry.SizeOfImage")
                entry.position = 4 + 0x34
                flags = try entry.read(UInt32.self, f + "LdrEntry.Flags")
                entry.position = 4 + 0x40
                checkSum = try entry.read(UInt32.self, f + "LdrEntry.CheckSum")
                timeDateStamp = try entry.read(UInt32.self, f + "LdrEntry.TimeDateStamp")
            }
            var name = ""
            do {
                name = try dumpString(bytes, at: nameOffset)
            } catch {
                warnings.append(error)
            }
            drivers.append(
                TriageDriver(
                    name: name, baseAddress: base, entryPoint: entryPoint, sizeOfImage: size, flags: flags,
                    checkSum: checkSum, timeDateStamp: timeDateStamp))
        }
        return drivers
    }

    private static func parseUnloadedDrivers(
        _ bytes: ByteView, _ header: TriageDumpHeader, is64Bit: Bool
    ) throws(ParseError) -> [TriageUnloadedDriver] {
        guard header.unloadedDriversOffset != 0 else { return [] }
        let f = is64Bit ? "DUMP_UNLOADED_DRIVERS64." : "DUMP_UNLOADED_DRIVERS32."
        guard Int(header.unloadedDriversOffset) <= bytes.count else {
            throw ParseError(
                offset: Int64(header.unloadedDriversOffset), field: "TRIAGE_DUMP.UnloadedDriversOffset",
                kind: .outOfBounds(offset: Int64(header.unloadedDriversOffset), size: 4, fileSize: Int64(bytes.count)))
        }
        var reader = bytes.reader(at: Int(header.unloadedDriversOffset))
        let count = Int(try reader.read(UInt32.self, f + "Count"))
        if is64Bit { try reader.skip(4, f + "__alignment") }
        let stride = TriageUnloadedDriver.entrySize(is64Bit: is64Bit)
        try reader.checkCount(count, elementSize: stride, f + "Count")
        var drivers: [TriageUnloadedDriver] = []
        drivers.reserveCapacity(count)
        for _ in 0..<count {
            var entry = try reader.readBytes(stride, f).reader()
            let length = try entry.read(UInt16.self, f + "Name.Length")
            try entry.skip(is64Bit ? 14 : 6, f + "Name")
            let characters = min(Int(length) / 2, 12)
            let name = try entry.readBytes(24, f + "DriverName").prefix(characters * 2).utf16String()
            let start: UInt64, end: UInt64
            if is64Bit {
                start = try entry.read(UInt64.self, f + "StartAddress")
                end = try entry.read(UInt64.self, f + "EndAddress")
            } else {
                start = TriageDumpHeader.signExtend(try entry.read(UInt32.self, f + "StartAddress"))
                end = TriageDumpHeader.signExtend(try entry.read(UInt32.self, f + "EndAddress"))
            }
            // Trailing NULs of names shorter than the buffer.
            let trimmed = String(name.prefix { $0 != "\0" })
            drivers.append(TriageUnloadedDriver(name: trimmed, startAddress: start, endAddress: end))
        }
        return drivers
    }

    /// A `DUMP_STRING`: a 32-bit length then UTF-16 text. The length counts characters, not bytes
    /// as the structure's comment in public headers says (both kdlibcpp small dumps: 33 for
    /// `\SystemRoot\system32\ntoskrnl.exe`).
    static func dumpString(_ bytes: ByteView, at offset: UInt32) throws(ParseError) -> String {
        var reader = bytes.reader(at: Int(offset))
        guard Int(offset) <= bytes.count else {
            throw ParseError(
                offset: Int64(offset), field: "DUMP_STRING",
                kind: .outOfBounds(offset: Int64(offset), size: 4, fileSize: Int64(bytes.count)))
        }
        let length = try reader.read(UInt32.self, "DUMP_STRING.Length")
        try reader.checkCount(Int(length), elementSize: 2, "DUMP_STRING.Buffer")
        return try reader.readBytes(Int(length) * 2, "DUMP_STRING.Buffer").utf16String()
    }

    private static func parseDataBlocks(
        _ bytes: ByteView, _ header: TriageDumpHeader, warnings: inout [ParseError]
    ) throws(ParseError) -> [TriageMemoryBlock] {
        guard header.dataBlocksOffset != 0, header.dataBlocksCount != 0 else { return [] }
        guard Int(header.dataBlocksOffset) <= bytes.count else {
            throw ParseError(
                offset: Int64(header.dataBlocksOffset), field: "TRIAGE_DUMP.DataBlocksOffset",
                kind: .outOfBounds(offset: Int64(header.dataBlocksOffset), size: 0, fileSize: Int64(bytes.count)))
        }
        var reader = bytes.reader(at: Int(header.dataBlocksOffset))
        try reader.checkCount(Int(header.dataBlocksCount), elementSize: 16, "TRIAGE_DUMP.DataBlocksCount")
        var blocks: [TriageMemoryBlock] = []
        blocks.reserveCapacity(Int(header.dataBlocksCount))
        for _ in 0..<Int(header.dataBlocksCount) {
            let address = try reader.read(UInt64.self, "TRIAGE_DATA_BLOCK.Address")
            let offset = try reader.read(UInt32.self, "TRIAGE_DATA_BLOCK.Offset")
            let size = try reader.read(UInt32.self, "TRIAGE_DATA_BLOCK.Size")
            do {
                blocks.append(
                    TriageMemoryBlock(
                        address: address,
                        bytes: try bytes.slice(offset: Int(offset), size: Int(size), field: "TRIAGE_DATA_BLOCK.Offset")))
            } catch {
                warnings.append(error)
            }
        }
        return blocks
    }

    /// The saved block holding `address`, if any (binary search over the address-sorted blocks).
    public func block(containing address: UInt64) -> TriageMemoryBlock? {
        var low = 0
        var high = index.count
        while low < high {
            let middle = (low + high) / 2
            if index[middle].address <= address { low = middle + 1 } else { high = middle }
        }
        // Blocks may overlap: look back over the few that start at or before the address.
        var candidate = low - 1
        while candidate >= 0, candidate >= low - 8 {
            let block = index[candidate]
            if address < block.endAddress { return block }
            candidate -= 1
        }
        return nil
    }

    /// `count` bytes at virtual `address` from the stack, data page and data blocks; nil when not all saved.
    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        var result = [UInt8]()
        var cursor = address
        var left = count
        while left > 0 {
            guard let block = block(containing: cursor) else { return nil }
            let start = Int(cursor - block.address)
            let take = min(left, block.bytes.count - start)
            guard take > 0, let part = try? block.bytes.slice(offset: start, size: take, field: "block") else { return nil }
            result.append(contentsOf: part.array)
            left -= take
            let (next, overflow) = cursor.addingReportingOverflow(UInt64(take))
            if overflow && left > 0 { return nil }
            cursor = next
        }
        return result
    }
}
