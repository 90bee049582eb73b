import BinaryReading

/// `DUMP_HEADER32` (4096 bytes, `PAGEDUMP`) or `DUMP_HEADER64` (8192 bytes, `PAGEDU64`): the
/// header every Windows kernel dump starts with.
///
/// Fields are in file order. A field that still reads `PAGE` (the filler the writer starts
/// from) was never filled in and is nil. Pointers of 32-bit dumps are zero-extended as stored.
public struct DumpHeader: Sendable {
    /// Whether this is a `DUMP_HEADER64`.
    public var is64Bit: Bool
    /// `MajorVersion`: 0xF for a free build, 0xC for a checked build.
    public var majorVersion: UInt32
    /// `MinorVersion`: the Windows build number.
    public var minorVersion: UInt32
    /// `DirectoryTableBase`: the page-table root (CR3 on x86/x64) of the crashing context.
    public var directoryTableBase: UInt64?
    /// `PfnDataBase`: address of the PFN database.
    public var pfnDataBase: UInt64?
    /// `PsLoadedModuleList`: address of the kernel's loaded-module list head.
    public var psLoadedModuleList: UInt64?
    /// `PsActiveProcessHead`: address of the kernel's process list head.
    public var psActiveProcessHead: UInt64?
    /// `MachineImageType`.
    public var machineImageType: MachineType?
    /// `NumberProcessors`.
    public var numberProcessors: UInt32?
    /// `BugCheckCode`.
    public var bugCheckCode: BugCheckCode?
    /// `BugCheckParameter1`..`4` (nil entries were never filled in).
    public var bugCheckParameters: [UInt64?]
    /// `VersionUser[32]` (text up to the first NUL), when filled in.
    public var versionUser: String?
    /// `PaeEnabled` (32-bit dumps only).
    public var paeEnabled: Bool?
    /// `KdSecondaryVersion`.
    public var kdSecondaryVersion: UInt8?
    /// `KdDebuggerDataBlock`: address of `KDDEBUGGER_DATA64`.
    public var kdDebuggerDataBlock: UInt64?
    /// `PhysicalMemoryBlockBuffer`: the raw `PHYSICAL_MEMORY_DESCRIPTOR` area; see `physicalMemoryDescriptor()`.
    public var physicalMemoryBlock: ByteView
    /// `ContextRecord`: the raw bytes of the crashing processor's `CONTEXT` (1200 or 3000 bytes).
    public var contextRecord: ByteView
    /// `Exception`: the `EXCEPTION_RECORD32`/`EXCEPTION_RECORD64`, when filled in.
    public var exception: KernelExceptionRecord?
    /// `Comment[128]`, when filled in.
    public var comment: String?
    /// `Attributes`.
    public var attributes: UInt32?
    /// `DumpType`.
    public var dumpType: DumpType?
    /// `MiniDumpFields`: which `TRIAGE_DUMP_*` parts a small dump holds.
    public var miniDumpFields: UInt32?
    /// `SecondaryDataState`.
    public var secondaryDataState: UInt32?
    /// `ProductType`.
    public var productType: UInt32?
    /// `SuiteMask`.
    public var suiteMask: UInt32?
    /// `WriterStatus`.
    public var writerStatus: UInt32?
    /// `RequiredDumpSpace`: the size the writer needed, in bytes.
    public var requiredDumpSpace: UInt64?
    /// `SystemUpTime` (100 ns units).
    public var systemUpTime: UInt64?
    /// `SystemTime` (FILETIME: 100 ns units since 1601-01-01 UTC).
    public var systemTime: UInt64?

    /// `'PAGE'` at offset 0.
    public static let signature: UInt32 = 0x4547_4150
    /// `'DUMP'` at offset 4 of a 32-bit dump.
    public static let validDump32: UInt32 = 0x504D_5544
    /// `'DU64'` at offset 4 of a 64-bit dump.
    public static let validDump64: UInt32 = 0x3436_5544

    /// Size of the header: where the type-specific data starts.
    public var size: Int { is64Bit ? 0x2000 : 0x1000 }
    /// Bytes of a pointer in the dumped system.
    public var pointerSize: Int { is64Bit ? 8 : 4 }

    /// Whether `bytes` start like a kernel dump.
    public static func matches(_ bytes: ByteView) -> Bool {
        guard let signature = try? bytes.load(UInt32.self, at: 0, field: ""),
            let valid = try? bytes.load(UInt32.self, at: 4, field: "")
        else { return false }
        return signature == Self.signature && (valid == validDump32 || valid == validDump64)
    }

    /// Parses the header at the start of `bytes`.
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        let signature = try reader.read(UInt32.self, "DUMP_HEADER.Signature")
        guard signature == Self.signature else {
            throw ParseError(
                offset: bytes.fileOffset, field: "DUMP_HEADER.Signature",
                kind: .badSignature(expected: "PAGE", found: KernelDumpFormat.fourCC(signature)))
        }
        let valid = try reader.read(UInt32.self, "DUMP_HEADER.ValidDump")
        switch valid {
        case Self.validDump64: is64Bit = true
        case Self.validDump32: is64Bit = false
        default:
            throw ParseError(
                offset: bytes.fileOffset + 4, field: "DUMP_HEADER.ValidDump",
                kind: .badSignature(expected: "DUMP or DU64", found: KernelDumpFormat.fourCC(valid)))
        }
        // The whole header must be present before anything is decoded from it.
        let whole = try bytes.slice(
            offset: 0, size: is64Bit ? 0x2000 : 0x1000, field: is64Bit ? "DUMP_HEADER64" : "DUMP_HEADER32")
        reader = whole.reader(at: 8)
        majorVersion = try reader.read(UInt32.self, "DUMP_HEADER.MajorVersion")
        minorVersion = try reader.read(UInt32.self, "DUMP_HEADER.MinorVersion")
        // Placeholders, overwritten by the layout-specific parser below.
        directoryTableBase = nil
        pfnDataBase = nil
        psLoadedModuleList = nil
        psActiveProcessHead = nil
        machineImageType = nil
        numberProcessors = nil
        bugCheckCode = nil
        bugCheckParameters = []
        versionUser = nil
        paeEnabled = nil
        kdSecondaryVersion = nil
        kdDebuggerDataBlock = nil
        physicalMemoryBlock = .empty
        contextRecord = .empty
        exception = nil
        comment = nil
        attributes = nil
        dumpType = nil
        miniDumpFields = nil
        secondaryDataState = nil
        productType = nil
        suiteMask = nil
        writerStatus = nil
        requiredDumpSpace = nil
        systemUpTime = nil
        systemTime = nil
        if is64Bit {
            try parse64(&reader)
        } else {
            try parse32(&reader)
        }
    }

    private mutating func parse64(_ reader: inout ByteReader) throws(ParseError) {
        let f = "DUMP_HEADER64."
        directoryTableBase = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "DirectoryTableBase"))
        pfnDataBase = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "PfnDataBase"))
        psLoadedModuleList = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "PsLoadedModuleList"))
        psActiveProcessHead = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "PsActiveProcessHead"))
        machineImageType = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "MachineImageType")).map(MachineType.init)
        numberProcessors = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "NumberProcessors"))
        bugCheckCode = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "BugCheckCode")).map(BugCheckCode.init)
        try reader.skip(4, f + "__alignment")
        bugCheckParameters = []
        for index in 1...4 {
            bugCheckParameters.append(KernelDumpFormat.filled(try reader.read(UInt64.self, f + "BugCheckParameter\(index)")))
        }
        versionUser = Self.text(try reader.readBytes(32, f + "VersionUser"))
        kdDebuggerDataBlock = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "KdDebuggerDataBlock"))
        physicalMemoryBlock = try reader.readBytes(0x348 - 0x88, f + "PhysicalMemoryBlockBuffer")
        contextRecord = try reader.readBytes(3000, f + "ContextRecord")
        exception = try KernelExceptionRecord(parsing: &reader, is64Bit: true)
        dumpType = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "DumpType")).map(DumpType.init)
        try reader.skip(4, f + "__alignment")
        requiredDumpSpace = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "RequiredDumpSpace"))
        systemTime = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "SystemTime"))
        comment = Self.text(try reader.readBytes(128, f + "Comment"))
        systemUpTime = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "SystemUpTime"))
        miniDumpFields = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "MiniDumpFields"))
        secondaryDataState = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "SecondaryDataState"))
        productType = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "ProductType"))
        suiteMask = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "SuiteMask"))
        writerStatus = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "WriterStatus"))
        let unused1 = try reader.read(UInt8.self, f + "Unused1")
        let secondary = try reader.read(UInt8.self, f + "KdSecondaryVersion")
        // The byte lies inside a 'PAGE' filler word when never written ('P','A','G','E').
        kdSecondaryVersion = unused1 == UInt8(ascii: "P") && secondary == UInt8(ascii: "A") ? nil : secondary
        try reader.skip(2, f + "Unused")
        attributes = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "Attributes"))
    }

    private mutating func parse32(_ reader: inout ByteReader) throws(ParseError) {
        let f = "DUMP_HEADER32."
        func pointer(_ name: String) throws(ParseError) -> UInt64? {
            KernelDumpFormat.filled(try reader.read(UInt32.self, f + name)).map(UInt64.init)
        }
        directoryTableBase = try pointer("DirectoryTableBase")
        pfnDataBase = try pointer("PfnDataBase")
        psLoadedModuleList = try pointer("PsLoadedModuleList")
        psActiveProcessHead = try pointer("PsActiveProcessHead")
        machineImageType = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "MachineImageType")).map(MachineType.init)
        numberProcessors = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "NumberProcessors"))
        bugCheckCode = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "BugCheckCode")).map(BugCheckCode.init)
        bugCheckParameters = []
        for index in 1...4 {
            bugCheckParameters.append(try pointer("BugCheckParameter\(index)"))
        }
        versionUser = Self.text(try reader.readBytes(32, f + "VersionUser"))
        let pae = try reader.read(UInt8.self, f + "PaeEnabled")
        let secondary = try reader.read(UInt8.self, f + "KdSecondaryVersion")
        let neverWritten = pae == UInt8(ascii: "P") && secondary == UInt8(ascii: "A")
        paeEnabled = neverWritten ? nil : pae != 0
        kdSecondaryVersion = neverWritten ? nil : secondary
        try reader.skip(2, f + "Unused")
        kdDebuggerDataBlock = try pointer("KdDebuggerDataBlock")
        physicalMemoryBlock = try reader.readBytes(0x320 - 0x64, f + "PhysicalMemoryBlockBuffer")
        contextRecord = try reader.readBytes(1200, f + "ContextRecord")
        exception = try KernelExceptionRecord(parsing: &reader, is64Bit: false)
        comment = Self.text(try reader.readBytes(128, f + "Comment"))
        attributes = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "Attributes"))
        reader.position = 0xF88
        dumpType = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "DumpType")).map(DumpType.init)
        miniDumpFields = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "MiniDumpFields"))
        secondaryDataState = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "SecondaryDataState"))
        productType = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "ProductType"))
        suiteMask = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "SuiteMask"))
        writerStatus = KernelDumpFormat.filled(try reader.read(UInt32.self, f + "WriterStatus"))
        requiredDumpSpace = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "RequiredDumpSpace"))
        try reader.skip(0xFB8 - 0xFA8, f + "Unused2")
        systemUpTime = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "SystemUpTime"))
        systemTime = KernelDumpFormat.filled(try reader.read(UInt64.self, f + "SystemTime"))
    }

    /// Text up to the first NUL, or nil when the field starts with the `PAGE` filler or is empty.
    private static func text(_ bytes: ByteView) -> String? {
        if bytes.count >= 4, (try? bytes.load(UInt32.self, at: 0, field: "")) == KernelDumpFormat.unfilled32 { return nil }
        let value = bytes.cString
        return value.isEmpty ? nil : value
    }

    /// Decodes `PhysicalMemoryBlockBuffer`; nil when it was never filled in (small dumps).
    public func physicalMemoryDescriptor() throws(ParseError) -> PhysicalMemoryDescriptor? {
        try PhysicalMemoryDescriptor(parsing: physicalMemoryBlock, is64Bit: is64Bit)
    }
}

/// `EXCEPTION_RECORD32` (80 bytes) or `EXCEPTION_RECORD64` (152 bytes) of a kernel dump header.
public struct KernelExceptionRecord: Sendable, Equatable {
    /// `ExceptionCode`.
    public var exceptionCode: UInt32
    /// `ExceptionFlags`.
    public var exceptionFlags: UInt32
    /// `ExceptionRecord`: address of a chained record.
    public var exceptionRecord: UInt64
    /// `ExceptionAddress`.
    public var exceptionAddress: UInt64
    /// `NumberParameters`.
    public var numberParameters: UInt32
    /// `ExceptionInformation[15]`.
    public var exceptionInformation: [UInt64]

    /// Reads the record; nil (after consuming its bytes) when its code still reads `PAGE`.
    init?(parsing reader: inout ByteReader, is64Bit: Bool) throws(ParseError) {
        let f = is64Bit ? "EXCEPTION_RECORD64." : "EXCEPTION_RECORD32."
        let code = try reader.read(UInt32.self, f + "ExceptionCode")
        let flags = try reader.read(UInt32.self, f + "ExceptionFlags")
        if is64Bit {
            exceptionRecord = try reader.read(UInt64.self, f + "ExceptionRecord")
            exceptionAddress = try reader.read(UInt64.self, f + "ExceptionAddress")
            numberParameters = try reader.read(UInt32.self, f + "NumberParameters")
            try reader.skip(4, f + "__unusedAlignment")
            exceptionInformation = try reader.readArray(UInt64.self, count: 15, f + "ExceptionInformation")
        } else {
            exceptionRecord = UInt64(try reader.read(UInt32.self, f + "ExceptionRecord"))
            exceptionAddress = UInt64(try reader.read(UInt32.self, f + "ExceptionAddress"))
            numberParameters = try reader.read(UInt32.self, f + "NumberParameters")
            exceptionInformation = try reader.readArray(UInt32.self, count: 15, f + "ExceptionInformation").map(UInt64.init)
        }
        guard code != KernelDumpFormat.unfilled32 else { return nil }
        exceptionCode = code
        exceptionFlags = flags
    }

    /// The meaningful parameters (at most 15, whatever `numberParameters` claims).
    public var parameters: [UInt64] { Array(exceptionInformation.prefix(min(Int(numberParameters), 15))) }
}

/// `PHYSICAL_MEMORY_RUN32` (8 bytes) or `PHYSICAL_MEMORY_RUN64` (16 bytes): pages present in a full dump.
public struct PhysicalMemoryRun: Sendable, Equatable {
    /// `BasePage`: the first page frame number.
    public var basePage: UInt64
    /// `PageCount`.
    public var pageCount: UInt64
    public init(basePage: UInt64, pageCount: UInt64) {
        self.basePage = basePage
        self.pageCount = pageCount
    }
}

/// `PHYSICAL_MEMORY_DESCRIPTOR32`/`64`: the physical memory runs stored in a full dump's header.
public struct PhysicalMemoryDescriptor: Sendable, Equatable {
    /// `NumberOfRuns`.
    public var numberOfRuns: UInt32
    /// `NumberOfPages`.
    public var numberOfPages: UInt64
    /// `Run[NumberOfRuns]`.
    public var runs: [PhysicalMemoryRun]

    /// At most this many runs fit in the header (43 in DUMP_HEADER64, 86 in DUMP_HEADER32).
    public static func maximumRuns(is64Bit: Bool) -> Int { is64Bit ? 43 : 86 }

    /// Decodes the descriptor; nil when `NumberOfRuns` still reads `PAGE`.
    init?(parsing bytes: ByteView, is64Bit: Bool) throws(ParseError) {
        var reader = bytes.reader()
        let f = "PHYSICAL_MEMORY_DESCRIPTOR."
        let count = try reader.read(UInt32.self, f + "NumberOfRuns")
        guard count != KernelDumpFormat.unfilled32 else { return nil }
        numberOfRuns = count
        if is64Bit {
            try reader.skip(4, f + "__alignment")
            numberOfPages = try reader.read(UInt64.self, f + "NumberOfPages")
        } else {
            numberOfPages = UInt64(try reader.read(UInt32.self, f + "NumberOfPages"))
        }
        let elementSize = is64Bit ? 16 : 8
        guard let runCount = Int(exactly: count), runCount <= Self.maximumRuns(is64Bit: is64Bit) else {
            throw ParseError(
                offset: bytes.fileOffset, field: f + "NumberOfRuns",
                kind: .countTooLarge(count: Int64(count), limit: Int64(Self.maximumRuns(is64Bit: is64Bit))))
        }
        try reader.checkCount(runCount, elementSize: elementSize, f + "Run")
        runs = []
        runs.reserveCapacity(runCount)
        for _ in 0..<runCount {
            if is64Bit {
                let base = try reader.read(UInt64.self, f + "Run.BasePage")
                let pages = try reader.read(UInt64.self, f + "Run.PageCount")
                runs.append(PhysicalMemoryRun(basePage: base, pageCount: pages))
            } else {
                let base = try reader.read(UInt32.self, f + "Run.BasePage")
                let pages = try reader.read(UInt32.self, f + "Run.PageCount")
                runs.append(PhysicalMemoryRun(basePage: UInt64(base), pageCount: UInt64(pages)))
            }
        }
    }
}
