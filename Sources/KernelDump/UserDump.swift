import BinaryReading

/// `USERMODE_CRASHDUMP_HEADER` (64 bytes, `USERDUMP`) or `USERMODE_CRASHDUMP_HEADER64` (96 bytes,
/// `USERDU64`): the header of a legacy full user-mode dump (older WinDbg's `.dump /f`).
public struct UserDumpHeader: Sendable, Equatable {
    /// Whether this is the 64-bit layout (`USERDU64`).
    public var is64Bit: Bool
    /// `MajorVersion`.
    public var majorVersion: UInt32
    /// `MinorVersion`.
    public var minorVersion: UInt32
    /// `MachineImageType`.
    public var machineImageType: MachineType
    /// `ThreadCount`.
    public var threadCount: UInt32
    /// `ModuleCount`.
    public var moduleCount: UInt32
    /// `MemoryRegionCount`.
    public var memoryRegionCount: UInt32
    /// `ThreadOffset`: the threads' CONTEXT records, back to back.
    public var threadOffset: UInt64
    /// `ModuleOffset`: `CRASH_MODULE` records.
    public var moduleOffset: UInt64
    /// `DataOffset`: the memory regions' bytes, back to back in region order.
    public var dataOffset: UInt64
    /// `MemoryRegionOffset`: `MEMORY_BASIC_INFORMATION` records.
    public var memoryRegionOffset: UInt64
    /// `DebugEventOffset`: the `DEBUG_EVENT` that stopped the process.
    public var debugEventOffset: UInt64
    /// `ThreadStateOffset`: `CRASH_THREAD` records.
    public var threadStateOffset: UInt64
    /// `VersionInfoOffset`.
    public var versionInfoOffset: UInt64
    /// `Spare1`.
    public var spare1: UInt64

    /// `'USER'`.
    public static let signature: UInt32 = 0x5245_5355
    /// `'DUMP'`.
    public static let validDump32: UInt32 = 0x504D_5544
    /// `'DU64'`.
    public static let validDump64: UInt32 = 0x3436_5544

    /// Whether `bytes` start like a legacy user-mode dump.
    public static func matches(_ bytes: ByteView) -> Bool {
        guard let signature = try? bytes.load(UInt32.self, at: 0, field: ""),
            let valid = try? bytes.load(UInt32.self, at: 4, field: "")
        else { return false }
        return signature == Self.signature && (valid == validDump32 || valid == validDump64)
    }

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        let start = reader.fileOffset
        let signature = try reader.read(UInt32.self, "USERMODE_CRASHDUMP_HEADER.Signature")
        guard signature == Self.signature else {
            throw ParseError(
                offset: start, field: "USERMODE_CRASHDUMP_HEADER.Signature",
                kind: .badSignature(expected: "USER", found: KernelDumpFormat.fourCC(signature)))
        }
        let valid = try reader.read(UInt32.self, "USERMODE_CRASHDUMP_HEADER.ValidDump")
        switch valid {
        case Self.validDump64: is64Bit = true
        case Self.validDump32: is64Bit = false
        default:
            throw ParseError(
                offset: start + 4, field: "USERMODE_CRASHDUMP_HEADER.ValidDump",
                kind: .badSignature(expected: "DUMP or DU64", found: KernelDumpFormat.fourCC(valid)))
        }
        let f = is64Bit ? "USERMODE_CRASHDUMP_HEADER64." : "USERMODE_CRASHDUMP_HEADER."
        majorVersion = try reader.read(UInt32.self, f + "MajorVersion")
        minorVersion = try reader.read(UInt32.self, f + "MinorVersion")
        machineImageType = MachineType(rawValue: try reader.read(UInt32.self, f + "MachineImageType"))
        threadCount = try reader.read(UInt32.self, f + "ThreadCount")
        moduleCount = try reader.read(UInt32.self, f + "ModuleCount")
        memoryRegionCount = try reader.read(UInt32.self, f + "MemoryRegionCount")
        let wide = is64Bit
        func offset(_ name: String) throws(ParseError) -> UInt64 {
            wide ? try reader.read(UInt64.self, f + name) : UInt64(try reader.read(UInt32.self, f + name))
        }
        threadOffset = try offset("ThreadOffset")
        moduleOffset = try offset("ModuleOffset")
        dataOffset = try offset("DataOffset")
        memoryRegionOffset = try offset("MemoryRegionOffset")
        debugEventOffset = try offset("DebugEventOffset")
        threadStateOffset = try offset("ThreadStateOffset")
        versionInfoOffset = try offset("VersionInfoOffset")
        spare1 = try offset("Spare1")
    }
}

/// A thread of a user dump: its `CRASH_THREAD`/`CRASH_THREAD64` state and its CONTEXT bytes.
public struct UserDumpThread: Sendable {
    /// `ThreadId`.
    public var threadId: UInt32
    /// `SuspendCount`.
    public var suspendCount: UInt32
    /// `PriorityClass`.
    public var priorityClass: UInt32
    /// `Priority`.
    public var priority: UInt32
    /// `Teb`: address of the thread environment block.
    public var teb: UInt64
    /// The thread's CONTEXT record (decoded by the CONTEXT readers of the Minidump target).
    public var context: ByteView
}

/// `CRASH_MODULE` / `CRASH_MODULE64`: a module loaded in the dumped process.
public struct UserDumpModule: Sendable, Equatable {
    /// `BaseOfImage`.
    public var baseOfImage: UInt64
    /// `SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `ImageName` (`ImageNameLength` bytes, text up to the first NUL).
    public var imageName: String
}

/// `MEMORY_BASIC_INFORMATION32` (28 bytes) or `MEMORY_BASIC_INFORMATION64` (48 bytes) with the
/// region's bytes.
public struct UserDumpMemoryRegion: Sendable {
    /// `BaseAddress`.
    public var baseAddress: UInt64
    /// `AllocationBase`.
    public var allocationBase: UInt64
    /// `AllocationProtect`.
    public var allocationProtect: UInt32
    /// `RegionSize`.
    public var regionSize: UInt64
    /// `State` (`MEM_COMMIT` 0x1000, ...).
    public var state: UInt32
    /// `Protect` (`PAGE_READWRITE` 4, ...).
    public var protect: UInt32
    /// `Type` (`MEM_IMAGE` 0x1000000, `MEM_MAPPED` 0x40000, `MEM_PRIVATE` 0x20000).
    public var type: UInt32
    /// The region's bytes in the file (shorter than `regionSize` when the file is truncated).
    public var bytes: ByteView
    /// One past the last address (saturating).
    public var endAddress: UInt64 { baseAddress.addingReportingOverflow(regionSize).overflow ? .max : baseAddress + regionSize }
}

/// The `DEBUG_EVENT` that stopped the process: its code, ids and, for exceptions, the record.
public struct UserDumpDebugEvent: Sendable, Equatable {
    /// `dwDebugEventCode` (1: `EXCEPTION_DEBUG_EVENT`).
    public var debugEventCode: UInt32
    /// `dwProcessId`.
    public var processId: UInt32
    /// `dwThreadId`.
    public var threadId: UInt32
    /// The exception record, for `EXCEPTION_DEBUG_EVENT`.
    public var exception: KernelExceptionRecord?
    /// `dwFirstChance`, for `EXCEPTION_DEBUG_EVENT`.
    public var firstChance: UInt32?
}

/// A legacy full user-mode dump (`USERDUMP` / `USERDU64`).
///
/// Opening reads the header; threads, modules and memory are decoded on request.
public struct UserDumpFile: Sendable {
    /// The whole file.
    public let bytes: ByteView
    /// The header.
    public let header: UserDumpHeader

    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        var reader = bytes.reader()
        header = try UserDumpHeader(parsing: &reader)
    }

    public init(path: String) throws(ParseError) {
        try self.init(bytes: MappedFile(path: path).bytes)
    }

    private func reader(at offset: UInt64, _ field: String) throws(ParseError) -> ByteReader {
        guard let position = Int(exactly: offset), position <= bytes.count else {
            throw ParseError(
                offset: Int64(clamping: offset), field: field,
                kind: .outOfBounds(offset: Int64(clamping: offset), size: 0, fileSize: Int64(bytes.count)))
        }
        return bytes.reader(at: position)
    }

    /// Bytes of one CONTEXT record: the machine's CONTEXT size, else what the file layout implies.
    public var contextSize: Int? {
        if let size = TriageDump.contextSize(header.machineImageType) { return size }
        guard header.threadCount > 0, header.threadStateOffset > header.threadOffset else { return nil }
        return Int(exactly: (header.threadStateOffset - header.threadOffset) / UInt64(header.threadCount))
    }

    /// The threads, with their state and CONTEXT bytes.
    public func threads() throws(ParseError) -> [UserDumpThread] {
        let count = Int(header.threadCount)
        guard count > 0 else { return [] }
        guard let contextSize else {
            throw ParseError(
                offset: 0x10, field: "USERMODE_CRASHDUMP_HEADER.MachineImageType", kind: .invalidValue("unknown CONTEXT size"))
        }
        var contexts = try reader(at: header.threadOffset, "USERMODE_CRASHDUMP_HEADER.ThreadOffset")
        try contexts.checkCount(count, elementSize: contextSize, "USERMODE_CRASHDUMP_HEADER.ThreadCount")
        var states = try reader(at: header.threadStateOffset, "USERMODE_CRASHDUMP_HEADER.ThreadStateOffset")
        let stateSize = header.is64Bit ? 0x50 : 0x30
        try states.checkCount(count, elementSize: stateSize, "USERMODE_CRASHDUMP_HEADER.ThreadCount")
        let f = header.is64Bit ? "CRASH_THREAD64." : "CRASH_THREAD."
        var threads: [UserDumpThread] = []
        threads.reserveCapacity(count)
        for _ in 0..<count {
            var state = try states.readBytes(stateSize, f).reader()
            let id = try state.read(UInt32.self, f + "ThreadId")
            let suspend = try state.read(UInt32.self, f + "SuspendCount")
            let priorityClass = try state.read(UInt32.self, f + "PriorityClass")
            let priority = try state.read(UInt32.self, f + "Priority")
            let teb = header.is64Bit ? try state.read(UInt64.self, f + "Teb") : UInt64(try state.read(UInt32.self, f + "Teb"))
            let context = try contexts.readBytes(contextSize, "CONTEXT")
            threads.append(
                UserDumpThread(
                    threadId: id, suspendCount: suspend, priorityClass: priorityClass, priority: priority, teb: teb,
                    context: context))
        }
        return threads
    }

    /// The loaded modules.
    public func modules() throws(ParseError) -> [UserDumpModule] {
        let count = Int(header.moduleCount)
        guard count > 0 else { return [] }
        var reader = try reader(at: header.moduleOffset, "USERMODE_CRASHDUMP_HEADER.ModuleOffset")
        let fixed = header.is64Bit ? 16 : 12
        // Each record holds at least its fixed part: bounds the count before allocating.
        try reader.checkCount(count, elementSize: fixed, "USERMODE_CRASHDUMP_HEADER.ModuleCount")
        let f = header.is64Bit ? "CRASH_MODULE64." : "CRASH_MODULE."
        var modules: [UserDumpModule] = []
        modules.reserveCapacity(count)
        for _ in 0..<count {
            let base =
                header.is64Bit
                ? try reader.read(UInt64.self, f + "BaseOfImage") : UInt64(try reader.read(UInt32.self, f + "BaseOfImage"))
            let size = try reader.read(UInt32.self, f + "SizeOfImage")
            let nameLength = try reader.read(UInt32.self, f + "ImageNameLength")
            let name = try reader.readBytes(Int(nameLength), f + "ImageName").cString
            modules.append(UserDumpModule(baseOfImage: base, sizeOfImage: size, imageName: name))
        }
        return modules
    }

    /// The memory regions with their bytes, in file order.
    public func memoryRegions() throws(ParseError) -> [UserDumpMemoryRegion] {
        let count = Int(header.memoryRegionCount)
        guard count > 0 else { return [] }
        var reader = try reader(at: header.memoryRegionOffset, "USERMODE_CRASHDUMP_HEADER.MemoryRegionOffset")
        let size = header.is64Bit ? 48 : 28
        try reader.checkCount(count, elementSize: size, "USERMODE_CRASHDUMP_HEADER.MemoryRegionCount")
        let f = header.is64Bit ? "MEMORY_BASIC_INFORMATION64." : "MEMORY_BASIC_INFORMATION32."
        var dataOffset = header.dataOffset
        var regions: [UserDumpMemoryRegion] = []
        regions.reserveCapacity(count)
        for _ in 0..<count {
            let base: UInt64, allocationBase: UInt64, allocationProtect: UInt32, regionSize: UInt64
            if header.is64Bit {
                base = try reader.read(UInt64.self, f + "BaseAddress")
                allocationBase = try reader.read(UInt64.self, f + "AllocationBase")
                allocationProtect = try reader.read(UInt32.self, f + "AllocationProtect")
                try reader.skip(4, f + "__alignment1")
                regionSize = try reader.read(UInt64.self, f + "RegionSize")
            } else {
                base = UInt64(try reader.read(UInt32.self, f + "BaseAddress"))
                allocationBase = UInt64(try reader.read(UInt32.self, f + "AllocationBase"))
                allocationProtect = try reader.read(UInt32.self, f + "AllocationProtect")
                regionSize = UInt64(try reader.read(UInt32.self, f + "RegionSize"))
            }
            let state = try reader.read(UInt32.self, f + "State")
            let protect = try reader.read(UInt32.self, f + "Protect")
            let type = try reader.read(UInt32.self, f + "Type")
            if header.is64Bit { try reader.skip(4, f + "__alignment2") }
            // Partial result: a region whose bytes run past the end of the file keeps what is there.
            let start = min(dataOffset, UInt64(bytes.count))
            let available = min(regionSize, UInt64(bytes.count) - start)
            let data = try bytes.slice(offset: Int(start), size: Int(available), field: f + "data")
            regions.append(
                UserDumpMemoryRegion(
                    baseAddress: base, allocationBase: allocationBase, allocationProtect: allocationProtect,
                    regionSize: regionSize, state: state, protect: protect, type: type, bytes: data))
            let (next, overflow) = dataOffset.addingReportingOverflow(regionSize)
            dataOffset = overflow ? .max : next
        }
        return regions
    }

    /// The memory regions indexed by address, for reads.
    public func memory() throws(ParseError) -> UserDumpMemory {
        UserDumpMemory(regions: try memoryRegions())
    }

    /// The `DEBUG_EVENT` at `DebugEventOffset`, when there is one.
    public func debugEvent() throws(ParseError) -> UserDumpDebugEvent? {
        guard header.debugEventOffset != 0 else { return nil }
        var reader = try reader(at: header.debugEventOffset, "USERMODE_CRASHDUMP_HEADER.DebugEventOffset")
        let f = header.is64Bit ? "DEBUG_EVENT64." : "DEBUG_EVENT32."
        let code = try reader.read(UInt32.self, f + "dwDebugEventCode")
        let process = try reader.read(UInt32.self, f + "dwProcessId")
        let thread = try reader.read(UInt32.self, f + "dwThreadId")
        var event = UserDumpDebugEvent(
            debugEventCode: code, processId: process, threadId: thread, exception: nil, firstChance: nil)
        if code == 1 {
            if header.is64Bit { try reader.skip(4, f + "__alignment") }
            event.exception = try KernelExceptionRecord(parsing: &reader, is64Bit: header.is64Bit)
            event.firstChance = try reader.read(UInt32.self, f + "u.Exception.dwFirstChance")
        }
        return event
    }
}

/// A user dump's memory regions sorted by address (binary search for reads).
public struct UserDumpMemory: Sendable {
    /// Regions sorted by base address.
    public let regions: [UserDumpMemoryRegion]

    public init(regions: [UserDumpMemoryRegion]) {
        self.regions = regions.filter { $0.bytes.count > 0 }.sorted { $0.baseAddress < $1.baseAddress }
    }

    /// The region holding `address`, if any.
    public func region(containing address: UInt64) -> UserDumpMemoryRegion? {
        var low = 0
        var high = regions.count
        while low < high {
            let middle = (low + high) / 2
            if regions[middle].baseAddress <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let region = regions[low - 1]
        return address - region.baseAddress < UInt64(region.bytes.count) ? region : nil
    }

    /// `count` bytes at `address`, crossing regions; nil when any byte is missing.
    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        var result = [UInt8]()
        var cursor = address
        var left = count
        while left > 0 {
            guard let region = region(containing: cursor) else { return nil }
            let start = Int(cursor - region.baseAddress)
            let take = min(left, region.bytes.count - start)
            guard let part = try? region.bytes.slice(offset: start, size: take, field: "region") else { return nil }
            result.append(contentsOf: part.array)
            left -= take
            let (next, overflow) = cursor.addingReportingOverflow(UInt64(take))
            if overflow && left > 0 { return nil }
            cursor = next
        }
        return result
    }
}
