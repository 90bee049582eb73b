import BinaryReading

/// `MINIDUMP_SYSTEM_MEMORY_INFO_1.Flags`: which optional counters hold data.
public struct SystemMemoryInfoFlags: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `MINIDUMP_SYSMEMINFO1_FILECACHE_TRANSITIONREPURPOSECOUNT_FLAGS`.
    public static let fileCacheTransitionRepurposeCountFlags = SystemMemoryInfoFlags(rawValue: 0x1)
    /// `MINIDUMP_SYSMEMINFO1_BASICPERF`.
    public static let basicPerf = SystemMemoryInfoFlags(rawValue: 0x2)
    /// `MINIDUMP_SYSMEMINFO1_PERF_CCTOTALDIRTYPAGES_CCDIRTYPAGETHRESHOLD`.
    public static let perfCcTotalDirtyPagesCcDirtyPageThreshold = SystemMemoryInfoFlags(rawValue: 0x4)
    /// `MINIDUMP_SYSMEMINFO1_PERF_RESIDENTAVAILABLEPAGES_SHAREDCOMMITPAGES`.
    public static let perfResidentAvailablePagesSharedCommitPages = SystemMemoryInfoFlags(rawValue: 0x8)
}

/// `MINIDUMP_SYSTEM_BASIC_INFORMATION` (52 bytes, packed to 4).
public struct SystemBasicInformation: Sendable, Equatable, Codable {
    /// `TimerResolution`.
    public var timerResolution: UInt32
    /// `PageSize`.
    public var pageSize: UInt32
    /// `NumberOfPhysicalPages`.
    public var numberOfPhysicalPages: UInt32
    /// `LowestPhysicalPageNumber`.
    public var lowestPhysicalPageNumber: UInt32
    /// `HighestPhysicalPageNumber`.
    public var highestPhysicalPageNumber: UInt32
    /// `AllocationGranularity`.
    public var allocationGranularity: UInt32
    /// `MinimumUserModeAddress`.
    public var minimumUserModeAddress: UInt64
    /// `MaximumUserModeAddress`.
    public var maximumUserModeAddress: UInt64
    /// `ActiveProcessorsAffinityMask`.
    public var activeProcessorsAffinityMask: UInt64
    /// `NumberOfProcessors`.
    public var numberOfProcessors: UInt32

    /// Size on disk.
    public static let size = 52

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "MINIDUMP_SYSTEM_BASIC_INFORMATION"
        timerResolution = try reader.read(UInt32.self, field + ".TimerResolution")
        pageSize = try reader.read(UInt32.self, field + ".PageSize")
        numberOfPhysicalPages = try reader.read(UInt32.self, field + ".NumberOfPhysicalPages")
        lowestPhysicalPageNumber = try reader.read(UInt32.self, field + ".LowestPhysicalPageNumber")
        highestPhysicalPageNumber = try reader.read(UInt32.self, field + ".HighestPhysicalPageNumber")
        allocationGranularity = try reader.read(UInt32.self, field + ".AllocationGranularity")
        minimumUserModeAddress = try reader.read(UInt64.self, field + ".MinimumUserModeAddress")
        maximumUserModeAddress = try reader.read(UInt64.self, field + ".MaximumUserModeAddress")
        activeProcessorsAffinityMask = try reader.read(UInt64.self, field + ".ActiveProcessorsAffinityMask")
        numberOfProcessors = try reader.read(UInt32.self, field + ".NumberOfProcessors")
    }
}

/// `MINIDUMP_SYSTEM_FILECACHE_INFORMATION` (60 bytes, packed to 4).
public struct SystemFileCacheInformation: Sendable, Equatable, Codable {
    /// `CurrentSize`.
    public var currentSize: UInt64
    /// `PeakSize`.
    public var peakSize: UInt64
    /// `PageFaultCount`.
    public var pageFaultCount: UInt32
    /// `MinimumWorkingSet`.
    public var minimumWorkingSet: UInt64
    /// `MaximumWorkingSet`.
    public var maximumWorkingSet: UInt64
    /// `CurrentSizeIncludingTransitionInPages`.
    public var currentSizeIncludingTransitionInPages: UInt64
    /// `PeakSizeIncludingTransitionInPages`.
    public var peakSizeIncludingTransitionInPages: UInt64
    /// `TransitionRePurposeCount`.
    public var transitionRePurposeCount: UInt32
    /// `Flags`.
    public var flags: UInt32

    /// Size on disk.
    public static let size = 60

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "MINIDUMP_SYSTEM_FILECACHE_INFORMATION"
        currentSize = try reader.read(UInt64.self, field + ".CurrentSize")
        peakSize = try reader.read(UInt64.self, field + ".PeakSize")
        pageFaultCount = try reader.read(UInt32.self, field + ".PageFaultCount")
        minimumWorkingSet = try reader.read(UInt64.self, field + ".MinimumWorkingSet")
        maximumWorkingSet = try reader.read(UInt64.self, field + ".MaximumWorkingSet")
        currentSizeIncludingTransitionInPages = try reader.read(UInt64.self, field + ".CurrentSizeIncludingTransitionInPages")
        peakSizeIncludingTransitionInPages = try reader.read(UInt64.self, field + ".PeakSizeIncludingTransitionInPages")
        transitionRePurposeCount = try reader.read(UInt32.self, field + ".TransitionRePurposeCount")
        flags = try reader.read(UInt32.self, field + ".Flags")
    }
}

/// `MINIDUMP_SYSTEM_BASIC_PERFORMANCE_INFORMATION` (32 bytes).
public struct SystemBasicPerformanceInformation: Sendable, Equatable, Codable {
    /// `AvailablePages`.
    public var availablePages: UInt64
    /// `CommittedPages`.
    public var committedPages: UInt64
    /// `CommitLimit`.
    public var commitLimit: UInt64
    /// `PeakCommitment`.
    public var peakCommitment: UInt64

    /// Size on disk.
    public static let size = 32

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "MINIDUMP_SYSTEM_BASIC_PERFORMANCE_INFORMATION"
        availablePages = try reader.read(UInt64.self, field + ".AvailablePages")
        committedPages = try reader.read(UInt64.self, field + ".CommittedPages")
        commitLimit = try reader.read(UInt64.self, field + ".CommitLimit")
        peakCommitment = try reader.read(UInt64.self, field + ".PeakCommitment")
    }
}

/// `MINIDUMP_SYSTEM_PERFORMANCE_INFORMATION` (344 bytes): the kernel's system-wide counters.
public struct SystemPerformanceInformation: Sendable, Equatable, Codable {
    /// `IdleProcessTime`.
    public var idleProcessTime: UInt64
    /// `IoReadTransferCount`.
    public var ioReadTransferCount: UInt64
    /// `IoWriteTransferCount`.
    public var ioWriteTransferCount: UInt64
    /// `IoOtherTransferCount`.
    public var ioOtherTransferCount: UInt64
    /// `IoReadOperationCount`.
    public var ioReadOperationCount: UInt32
    /// `IoWriteOperationCount`.
    public var ioWriteOperationCount: UInt32
    /// `IoOtherOperationCount`.
    public var ioOtherOperationCount: UInt32
    /// `AvailablePages`.
    public var availablePages: UInt32
    /// `CommittedPages`.
    public var committedPages: UInt32
    /// `CommitLimit`.
    public var commitLimit: UInt32
    /// `PeakCommitment`.
    public var peakCommitment: UInt32
    /// `PageFaultCount`.
    public var pageFaultCount: UInt32
    /// `CopyOnWriteCount`.
    public var copyOnWriteCount: UInt32
    /// `TransitionCount`.
    public var transitionCount: UInt32
    /// `CacheTransitionCount`.
    public var cacheTransitionCount: UInt32
    /// `DemandZeroCount`.
    public var demandZeroCount: UInt32
    /// `PageReadCount`.
    public var pageReadCount: UInt32
    /// `PageReadIoCount`.
    public var pageReadIoCount: UInt32
    /// `CacheReadCount`.
    public var cacheReadCount: UInt32
    /// `CacheIoCount`.
    public var cacheIoCount: UInt32
    /// `DirtyPagesWriteCount`.
    public var dirtyPagesWriteCount: UInt32
    /// `DirtyWriteIoCount`.
    public var dirtyWriteIoCount: UInt32
    /// `MappedPagesWriteCount`.
    public var mappedPagesWriteCount: UInt32
    /// `MappedWriteIoCount`.
    public var mappedWriteIoCount: UInt32
    /// `PagedPoolPages`.
    public var pagedPoolPages: UInt32
    /// `NonPagedPoolPages`.
    public var nonPagedPoolPages: UInt32
    /// `PagedPoolAllocs`.
    public var pagedPoolAllocs: UInt32
    /// `PagedPoolFrees`.
    public var pagedPoolFrees: UInt32
    /// `NonPagedPoolAllocs`.
    public var nonPagedPoolAllocs: UInt32
    /// `NonPagedPoolFrees`.
    public var nonPagedPoolFrees: UInt32
    /// `FreeSystemPtes`.
    public var freeSystemPtes: UInt32
    /// `ResidentSystemCodePage`.
    public var residentSystemCodePage: UInt32
    /// `TotalSystemDriverPages`.
    public var totalSystemDriverPages: UInt32
    /// `TotalSystemCodePages`.
    public var totalSystemCodePages: UInt32
    /// `NonPagedPoolLookasideHits`.
    public var nonPagedPoolLookasideHits: UInt32
    /// `PagedPoolLookasideHits`.
    public var pagedPoolLookasideHits: UInt32
    /// `AvailablePagedPoolPages`.
    public var availablePagedPoolPages: UInt32
    /// `ResidentSystemCachePage`.
    public var residentSystemCachePage: UInt32
    /// `ResidentPagedPoolPage`.
    public var residentPagedPoolPage: UInt32
    /// `ResidentSystemDriverPage`.
    public var residentSystemDriverPage: UInt32
    /// `CcFastReadNoWait`.
    public var ccFastReadNoWait: UInt32
    /// `CcFastReadWait`.
    public var ccFastReadWait: UInt32
    /// `CcFastReadResourceMiss`.
    public var ccFastReadResourceMiss: UInt32
    /// `CcFastReadNotPossible`.
    public var ccFastReadNotPossible: UInt32
    /// `CcFastMdlReadNoWait`.
    public var ccFastMdlReadNoWait: UInt32
    /// `CcFastMdlReadWait`.
    public var ccFastMdlReadWait: UInt32
    /// `CcFastMdlReadResourceMiss`.
    public var ccFastMdlReadResourceMiss: UInt32
    /// `CcFastMdlReadNotPossible`.
    public var ccFastMdlReadNotPossible: UInt32
    /// `CcMapDataNoWait`.
    public var ccMapDataNoWait: UInt32
    /// `CcMapDataWait`.
    public var ccMapDataWait: UInt32
    /// `CcMapDataNoWaitMiss`.
    public var ccMapDataNoWaitMiss: UInt32
    /// `CcMapDataWaitMiss`.
    public var ccMapDataWaitMiss: UInt32
    /// `CcPinMappedDataCount`.
    public var ccPinMappedDataCount: UInt32
    /// `CcPinReadNoWait`.
    public var ccPinReadNoWait: UInt32
    /// `CcPinReadWait`.
    public var ccPinReadWait: UInt32
    /// `CcPinReadNoWaitMiss`.
    public var ccPinReadNoWaitMiss: UInt32
    /// `CcPinReadWaitMiss`.
    public var ccPinReadWaitMiss: UInt32
    /// `CcCopyReadNoWait`.
    public var ccCopyReadNoWait: UInt32
    /// `CcCopyReadWait`.
    public var ccCopyReadWait: UInt32
    /// `CcCopyReadNoWaitMiss`.
    public var ccCopyReadNoWaitMiss: UInt32
    /// `CcCopyReadWaitMiss`.
    public var ccCopyReadWaitMiss: UInt32
    /// `CcMdlReadNoWait`.
    public var ccMdlReadNoWait: UInt32
    /// `CcMdlReadWait`.
    public var ccMdlReadWait: UInt32
    /// `CcMdlReadNoWaitMiss`.
    public var ccMdlReadNoWaitMiss: UInt32
    /// `CcMdlReadWaitMiss`.
    public var ccMdlReadWaitMiss: UInt32
    /// `CcReadAheadIos`.
    public var ccReadAheadIos: UInt32
    /// `CcLazyWriteIos`.
    public var ccLazyWriteIos: UInt32
    /// `CcLazyWritePages`.
    public var ccLazyWritePages: UInt32
    /// `CcDataFlushes`.
    public var ccDataFlushes: UInt32
    /// `CcDataPages`.
    public var ccDataPages: UInt32
    /// `ContextSwitches`.
    public var contextSwitches: UInt32
    /// `FirstLevelTbFills`.
    public var firstLevelTbFills: UInt32
    /// `SecondLevelTbFills`.
    public var secondLevelTbFills: UInt32
    /// `SystemCalls`.
    public var systemCalls: UInt32
    /// `CcTotalDirtyPages`.
    public var ccTotalDirtyPages: UInt64
    /// `CcDirtyPageThreshold`.
    public var ccDirtyPageThreshold: UInt64
    /// `ResidentAvailablePages`.
    public var residentAvailablePages: Int64
    /// `SharedCommittedPages`.
    public var sharedCommittedPages: UInt64

    /// Size on disk.
    public static let size = 344

    init(parsing reader: inout ByteReader) throws(ParseError) {
        let field = "MINIDUMP_SYSTEM_PERFORMANCE_INFORMATION"
        idleProcessTime = try reader.read(UInt64.self, field + ".IdleProcessTime")
        ioReadTransferCount = try reader.read(UInt64.self, field + ".IoReadTransferCount")
        ioWriteTransferCount = try reader.read(UInt64.self, field + ".IoWriteTransferCount")
        ioOtherTransferCount = try reader.read(UInt64.self, field + ".IoOtherTransferCount")
        // The 70 32-bit counters from IoReadOperationCount to SystemCalls, in file order.
        let counters = try reader.readArray(UInt32.self, count: 70, field + ".IoReadOperationCount...SystemCalls")
        ioReadOperationCount = counters[0]
        ioWriteOperationCount = counters[1]
        ioOtherOperationCount = counters[2]
        availablePages = counters[3]
        committedPages = counters[4]
        commitLimit = counters[5]
        peakCommitment = counters[6]
        pageFaultCount = counters[7]
        copyOnWriteCount = counters[8]
        transitionCount = counters[9]
        cacheTransitionCount = counters[10]
        demandZeroCount = counters[11]
        pageReadCount = counters[12]
        pageReadIoCount = counters[13]
        cacheReadCount = counters[14]
        cacheIoCount = counters[15]
        dirtyPagesWriteCount = counters[16]
        dirtyWriteIoCount = counters[17]
        mappedPagesWriteCount = counters[18]
        mappedWriteIoCount = counters[19]
        pagedPoolPages = counters[20]
        nonPagedPoolPages = counters[21]
        pagedPoolAllocs = counters[22]
        pagedPoolFrees = counters[23]
        nonPagedPoolAllocs = counters[24]
        nonPagedPoolFrees = counters[25]
        freeSystemPtes = counters[26]
        residentSystemCodePage = counters[27]
        totalSystemDriverPages = counters[28]
        totalSystemCodePages = counters[29]
        nonPagedPoolLookasideHits = counters[30]
        pagedPoolLookasideHits = counters[31]
        availablePagedPoolPages = counters[32]
        residentSystemCachePage = counters[33]
        residentPagedPoolPage = counters[34]
        residentSystemDriverPage = counters[35]
        ccFastReadNoWait = counters[36]
        ccFastReadWait = counters[37]
        ccFastReadResourceMiss = counters[38]
        ccFastReadNotPossible = counters[39]
        ccFastMdlReadNoWait = counters[40]
        ccFastMdlReadWait = counters[41]
        ccFastMdlReadResourceMiss = counters[42]
        ccFastMdlReadNotPossible = counters[43]
        ccMapDataNoWait = counters[44]
        ccMapDataWait = counters[45]
        ccMapDataNoWaitMiss = counters[46]
        ccMapDataWaitMiss = counters[47]
        ccPinMappedDataCount = counters[48]
        ccPinReadNoWait = counters[49]
        ccPinReadWait = counters[50]
        ccPinReadNoWaitMiss = counters[51]
        ccPinReadWaitMiss = counters[52]
        ccCopyReadNoWait = counters[53]
        ccCopyReadWait = counters[54]
        ccCopyReadNoWaitMiss = counters[55]
        ccCopyReadWaitMiss = counters[56]
        ccMdlReadNoWait = counters[57]
        ccMdlReadWait = counters[58]
        ccMdlReadNoWaitMiss = counters[59]
        ccMdlReadWaitMiss = counters[60]
        ccReadAheadIos = counters[61]
        ccLazyWriteIos = counters[62]
        ccLazyWritePages = counters[63]
        ccDataFlushes = counters[64]
        ccDataPages = counters[65]
        contextSwitches = counters[66]
        firstLevelTbFills = counters[67]
        secondLevelTbFills = counters[68]
        systemCalls = counters[69]
        ccTotalDirtyPages = try reader.read(UInt64.self, field + ".CcTotalDirtyPages")
        ccDirtyPageThreshold = try reader.read(UInt64.self, field + ".CcDirtyPageThreshold")
        residentAvailablePages = try reader.read(Int64.self, field + ".ResidentAvailablePages")
        sharedCommittedPages = try reader.read(UInt64.self, field + ".SharedCommittedPages")
    }
}

/// `MINIDUMP_SYSTEM_MEMORY_INFO_1` (492 bytes): memory state of the whole machine.
public struct SystemMemoryInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.systemMemoryInfo

    /// `Revision`: 1 for this layout.
    public var revision: UInt16
    /// `Flags`.
    public var flags: SystemMemoryInfoFlags
    /// `BasicInfo`.
    public var basicInfo: SystemBasicInformation
    /// `FileCacheInfo`.
    public var fileCacheInfo: SystemFileCacheInformation
    /// `BasicPerfInfo`.
    public var basicPerfInfo: SystemBasicPerformanceInformation
    /// `PerfInfo`.
    public var perfInfo: SystemPerformanceInformation

    /// Size on disk.
    public static let size = 492

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        let field = "MINIDUMP_SYSTEM_MEMORY_INFO_1"
        revision = try reader.read(UInt16.self, field + ".Revision")
        guard revision == 1 else {
            throw ParseError(
                offset: bytes.fileOffset, field: field + ".Revision", kind: .unsupportedVersion("\(revision) (expected 1)"))
        }
        flags = SystemMemoryInfoFlags(rawValue: try reader.read(UInt16.self, field + ".Flags"))
        basicInfo = try SystemBasicInformation(parsing: &reader)
        fileCacheInfo = try SystemFileCacheInformation(parsing: &reader)
        basicPerfInfo = try SystemBasicPerformanceInformation(parsing: &reader)
        perfInfo = try SystemPerformanceInformation(parsing: &reader)
    }
}
