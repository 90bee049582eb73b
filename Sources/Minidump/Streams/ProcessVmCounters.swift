import BinaryReading

/// `MINIDUMP_PROCESS_VM_COUNTERS_2.Flags`: which groups of counters hold data.
public struct ProcessVmCountersFlags: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `MINIDUMP_PROCESS_VM_COUNTERS`.
    public static let counters = ProcessVmCountersFlags(rawValue: 0x1)
    /// `MINIDUMP_PROCESS_VM_COUNTERS_VIRTUALSIZE`.
    public static let virtualSize = ProcessVmCountersFlags(rawValue: 0x2)
    /// `MINIDUMP_PROCESS_VM_COUNTERS_EX`.
    public static let countersEx = ProcessVmCountersFlags(rawValue: 0x4)
    /// `MINIDUMP_PROCESS_VM_COUNTERS_EX2`.
    public static let countersEx2 = ProcessVmCountersFlags(rawValue: 0x8)
    /// `MINIDUMP_PROCESS_VM_COUNTERS_JOB`.
    public static let job = ProcessVmCountersFlags(rawValue: 0x10)
}

/// `MINIDUMP_PROCESS_VM_COUNTERS_1` (80 bytes) or `MINIDUMP_PROCESS_VM_COUNTERS_2` (152 bytes):
/// the process's memory counters, chosen by `Revision`.
///
/// Revision 1 has no `Flags`, virtual sizes, or the `_2` fields after `PrivateUsage`; those are nil.
/// Revision 2 stores `PeakVirtualSize` and `VirtualSize` between `PeakPagefileUsage` and `PrivateUsage`.
public struct ProcessVmCounters: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.processVmCounters

    /// `Revision`: 1 or 2.
    public var revision: UInt16
    /// `Flags` (revision 2).
    public var flags: ProcessVmCountersFlags?
    /// `PageFaultCount`.
    public var pageFaultCount: UInt32
    /// `PeakWorkingSetSize`.
    public var peakWorkingSetSize: UInt64
    /// `WorkingSetSize`.
    public var workingSetSize: UInt64
    /// `QuotaPeakPagedPoolUsage`.
    public var quotaPeakPagedPoolUsage: UInt64
    /// `QuotaPagedPoolUsage`.
    public var quotaPagedPoolUsage: UInt64
    /// `QuotaPeakNonPagedPoolUsage`.
    public var quotaPeakNonPagedPoolUsage: UInt64
    /// `QuotaNonPagedPoolUsage`.
    public var quotaNonPagedPoolUsage: UInt64
    /// `PagefileUsage`.
    public var pagefileUsage: UInt64
    /// `PeakPagefileUsage`.
    public var peakPagefileUsage: UInt64
    /// `PeakVirtualSize` (revision 2).
    public var peakVirtualSize: UInt64?
    /// `VirtualSize` (revision 2).
    public var virtualSize: UInt64?
    /// `PrivateUsage`.
    public var privateUsage: UInt64
    /// `PrivateWorkingSetSize` (revision 2).
    public var privateWorkingSetSize: UInt64?
    /// `SharedCommitUsage` (revision 2).
    public var sharedCommitUsage: UInt64?
    /// `JobSharedCommitUsage` (revision 2).
    public var jobSharedCommitUsage: UInt64?
    /// `JobPrivateCommitUsage` (revision 2).
    public var jobPrivateCommitUsage: UInt64?
    /// `JobPeakPrivateCommitUsage` (revision 2).
    public var jobPeakPrivateCommitUsage: UInt64?
    /// `JobPrivateCommitLimit` (revision 2).
    public var jobPrivateCommitLimit: UInt64?
    /// `JobTotalCommitLimit` (revision 2).
    public var jobTotalCommitLimit: UInt64?

    /// Size of `MINIDUMP_PROCESS_VM_COUNTERS_1`.
    public static let size1 = 80
    /// Size of `MINIDUMP_PROCESS_VM_COUNTERS_2`.
    public static let size2 = 152

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        revision = try reader.read(UInt16.self, "MINIDUMP_PROCESS_VM_COUNTERS.Revision")
        guard revision == 1 || revision == 2 else {
            throw ParseError(
                offset: bytes.fileOffset, field: "MINIDUMP_PROCESS_VM_COUNTERS.Revision",
                kind: .unsupportedVersion("\(revision) (expected 1 or 2)"))
        }
        let field = revision == 1 ? "MINIDUMP_PROCESS_VM_COUNTERS_1" : "MINIDUMP_PROCESS_VM_COUNTERS_2"
        if revision == 2 {
            flags = ProcessVmCountersFlags(rawValue: try reader.read(UInt16.self, field + ".Flags"))
        } else {
            // Revision 1 pads the 16-bit Revision to the 32-bit PageFaultCount.
            try reader.skip(2, field + " (padding)")
        }
        pageFaultCount = try reader.read(UInt32.self, field + ".PageFaultCount")
        peakWorkingSetSize = try reader.read(UInt64.self, field + ".PeakWorkingSetSize")
        workingSetSize = try reader.read(UInt64.self, field + ".WorkingSetSize")
        quotaPeakPagedPoolUsage = try reader.read(UInt64.self, field + ".QuotaPeakPagedPoolUsage")
        quotaPagedPoolUsage = try reader.read(UInt64.self, field + ".QuotaPagedPoolUsage")
        quotaPeakNonPagedPoolUsage = try reader.read(UInt64.self, field + ".QuotaPeakNonPagedPoolUsage")
        quotaNonPagedPoolUsage = try reader.read(UInt64.self, field + ".QuotaNonPagedPoolUsage")
        pagefileUsage = try reader.read(UInt64.self, field + ".PagefileUsage")
        peakPagefileUsage = try reader.read(UInt64.self, field + ".PeakPagefileUsage")
        if revision == 2 {
            peakVirtualSize = try reader.read(UInt64.self, field + ".PeakVirtualSize")
            virtualSize = try reader.read(UInt64.self, field + ".VirtualSize")
        }
        privateUsage = try reader.read(UInt64.self, field + ".PrivateUsage")
        if revision == 2 {
            privateWorkingSetSize = try reader.read(UInt64.self, field + ".PrivateWorkingSetSize")
            sharedCommitUsage = try reader.read(UInt64.self, field + ".SharedCommitUsage")
            jobSharedCommitUsage = try reader.read(UInt64.self, field + ".JobSharedCommitUsage")
            jobPrivateCommitUsage = try reader.read(UInt64.self, field + ".JobPrivateCommitUsage")
            jobPeakPrivateCommitUsage = try reader.read(UInt64.self, field + ".JobPeakPrivateCommitUsage")
            jobPrivateCommitLimit = try reader.read(UInt64.self, field + ".JobPrivateCommitLimit")
            jobTotalCommitLimit = try reader.read(UInt64.self, field + ".JobTotalCommitLimit")
        }
    }
}
