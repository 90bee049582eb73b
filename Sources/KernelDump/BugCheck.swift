/// A Windows stop code (`BugCheckCode`), with its symbolic name and what its four parameters mean.
///
/// Unknown codes survive as raw values; `name` and `parameterMeanings` are nil for them.
public struct BugCheckCode: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let irqlNotLessOrEqual = BugCheckCode(rawValue: 0x0A)
    public static let kmodeExceptionNotHandled = BugCheckCode(rawValue: 0x1E)
    public static let ntfsFileSystem = BugCheckCode(rawValue: 0x24)
    public static let pfnListCorrupt = BugCheckCode(rawValue: 0x4E)
    public static let pageFaultInNonpagedArea = BugCheckCode(rawValue: 0x50)
    public static let systemServiceException = BugCheckCode(rawValue: 0x3B)
    public static let kernelStackInpageError = BugCheckCode(rawValue: 0x77)
    public static let kernelDataInpageError = BugCheckCode(rawValue: 0x7A)
    public static let inaccessibleBootDevice = BugCheckCode(rawValue: 0x7B)
    public static let systemThreadExceptionNotHandled = BugCheckCode(rawValue: 0x7E)
    public static let unexpectedKernelModeTrap = BugCheckCode(rawValue: 0x7F)
    public static let driverPowerStateFailure = BugCheckCode(rawValue: 0x9F)
    public static let badPoolCaller = BugCheckCode(rawValue: 0xC2)
    public static let driverVerifierDetectedViolation = BugCheckCode(rawValue: 0xC4)
    public static let driverIrqlNotLessOrEqual = BugCheckCode(rawValue: 0xD1)
    public static let driverCorruptedExpool = BugCheckCode(rawValue: 0xC5)
    public static let memoryManagement = BugCheckCode(rawValue: 0x1A)
    public static let badPoolHeader = BugCheckCode(rawValue: 0x19)
    public static let manuallyInitiatedCrash = BugCheckCode(rawValue: 0xE2)
    public static let criticalProcessDied = BugCheckCode(rawValue: 0xEF)
    public static let criticalObjectTermination = BugCheckCode(rawValue: 0xF4)
    public static let clockWatchdogTimeout = BugCheckCode(rawValue: 0x101)
    public static let videoTdrFailure = BugCheckCode(rawValue: 0x116)
    public static let whea = BugCheckCode(rawValue: 0x124)
    public static let dpcWatchdogViolation = BugCheckCode(rawValue: 0x133)
    public static let kernelSecurityCheckFailure = BugCheckCode(rawValue: 0x139)
    public static let attemptedWriteToReadonlyMemory = BugCheckCode(rawValue: 0xBE)
    public static let driverUnloadedWithoutCancellingPendingOperations = BugCheckCode(rawValue: 0xCE)
    public static let driverPageFaultBeyondEndOfAllocation = BugCheckCode(rawValue: 0xD6)
    public static let criticalStructureCorruption = BugCheckCode(rawValue: 0x109)
    public static let kernelModeHeapCorruption = BugCheckCode(rawValue: 0x13A)
    public static let systemPteMisuse = BugCheckCode(rawValue: 0xDA)
    public static let unmountableBootVolume = BugCheckCode(rawValue: 0xED)
    public static let kernelAutoBoostInvalidLockRelease = BugCheckCode(rawValue: 0x162)
    public static let irqlGtZeroAtSystemService = BugCheckCode(rawValue: 0x4A)
    public static let apcIndexMismatch = BugCheckCode(rawValue: 0x01)
    public static let invalidProcessAttachAttempt = BugCheckCode(rawValue: 0x05)
    public static let multipleIrpCompleteRequests = BugCheckCode(rawValue: 0x44)
    public static let noMoreSystemPtes = BugCheckCode(rawValue: 0x3F)
    public static let threadStuckInDeviceDriver = BugCheckCode(rawValue: 0xEA)
    public static let hypervisorError = BugCheckCode(rawValue: 0x20001)
    /// 0xDEADDEAD: the crash a user asks for through the debugger (`.crash`) or NotMyFault.
    public static let manuallyInitiatedCrash1 = BugCheckCode(rawValue: 0xDEAD_DEAD)

    private struct Info {
        var name: String
        var parameters: [String]
    }

    private static let table: [UInt32: Info] = [
        0x01: Info(
            name: "APC_INDEX_MISMATCH",
            parameters: [
                "address of the system call or worker routine", "thread's kernel APC disable count",
                "current thread's APC index", "reserved",
            ]),
        0x05: Info(
            name: "INVALID_PROCESS_ATTACH_ATTEMPT",
            parameters: [
                "process the thread tried to attach to", "thread's current APC state index",
                "thread's apc state attached flag", "reserved",
            ]),
        0x0A: Info(
            name: "IRQL_NOT_LESS_OR_EQUAL",
            parameters: [
                "memory address that was referenced", "IRQL at the time of the reference",
                "access: 0 read, 1 write, 8 execute", "address of the instruction that made the reference",
            ]),
        0x19: Info(
            name: "BAD_POOL_HEADER",
            parameters: [
                "kind of pool corruption found (see the documentation's subcodes)", "depends on parameter 1",
                "depends on parameter 1", "depends on parameter 1",
            ]),
        0x1A: Info(
            name: "MEMORY_MANAGEMENT",
            parameters: [
                "kind of memory-management error (subcode)", "depends on parameter 1",
                "depends on parameter 1", "depends on parameter 1",
            ]),
        0x1E: Info(
            name: "KMODE_EXCEPTION_NOT_HANDLED",
            parameters: [
                "exception code that was not handled", "address where the exception happened",
                "exception parameter 0", "exception parameter 1 (for access violations: the address accessed)",
            ]),
        0x24: Info(
            name: "NTFS_FILE_SYSTEM",
            parameters: [
                "source file and line in NTFS", "exception record address (when an exception)",
                "context record address (when an exception)", "reserved",
            ]),
        0x3B: Info(
            name: "SYSTEM_SERVICE_EXCEPTION",
            parameters: [
                "exception that happened in a system service", "address of the faulting instruction",
                "address of the context record of the exception", "reserved",
            ]),
        0x3F: Info(
            name: "NO_MORE_SYSTEM_PTES",
            parameters: [
                "PTE type: 0 system expansion, 1 nonpaged pool expansion", "size of the failed request",
                "total free system PTEs", "total system PTEs",
            ]),
        0x44: Info(
            name: "MULTIPLE_IRP_COMPLETE_REQUESTS",
            parameters: [
                "address of the IRP completed twice", "reserved", "reserved", "reserved",
            ]),
        0x4A: Info(
            name: "IRQL_GT_ZERO_AT_SYSTEM_SERVICE",
            parameters: [
                "address of the system function called", "IRQL at the return to user mode", "reserved", "reserved",
            ]),
        0x4E: Info(
            name: "PFN_LIST_CORRUPT",
            parameters: [
                "kind of corruption (subcode)", "depends on parameter 1", "depends on parameter 1", "depends on parameter 1",
            ]),
        0x50: Info(
            name: "PAGE_FAULT_IN_NONPAGED_AREA",
            parameters: [
                "memory address that was referenced", "access: 0 read, 1 write, 2 execute (older: 0 read, 1 write)",
                "address of the instruction that referenced the memory, if known",
                "type of page fault (reserved on older systems)",
            ]),
        0x77: Info(
            name: "KERNEL_STACK_INPAGE_ERROR",
            parameters: [
                "status code or 0", "status or I/O status", "page file number or PTE", "offset into the page file",
            ]),
        0x7A: Info(
            name: "KERNEL_DATA_INPAGE_ERROR",
            parameters: [
                "lock type or PTE address", "I/O status code", "current process or virtual address",
                "virtual address that could not be paged in",
            ]),
        0x7B: Info(
            name: "INACCESSIBLE_BOOT_DEVICE",
            parameters: [
                "address of the device object or UNICODE_STRING of the ARC name", "status code", "reserved", "reserved",
            ]),
        0x7E: Info(
            name: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
            parameters: [
                "exception code that was not handled", "address where the exception happened",
                "address of the exception record", "address of the context record",
            ]),
        0x7F: Info(
            name: "UNEXPECTED_KERNEL_MODE_TRAP",
            parameters: [
                "processor trap number (8: double fault, 0: divide error, ...)", "reserved (x64: TSS or other trap data)",
                "reserved", "reserved",
            ]),
        0x9F: Info(
            name: "DRIVER_POWER_STATE_FAILURE",
            parameters: [
                "kind of failure (3: a device object held an IRP too long)", "physical device object",
                "functional device object or timeout data", "blocked IRP or triage block",
            ]),
        0xBE: Info(
            name: "ATTEMPTED_WRITE_TO_READONLY_MEMORY",
            parameters: [
                "virtual address of the write", "PTE contents", "reserved", "reserved",
            ]),
        0xC2: Info(
            name: "BAD_POOL_CALLER",
            parameters: [
                "kind of pool violation (subcode)", "depends on parameter 1", "depends on parameter 1", "depends on parameter 1",
            ]),
        0xC4: Info(
            name: "DRIVER_VERIFIER_DETECTED_VIOLATION",
            parameters: [
                "kind of violation Driver Verifier caught (subcode)", "depends on parameter 1",
                "depends on parameter 1", "depends on parameter 1",
            ]),
        0xC5: Info(
            name: "DRIVER_CORRUPTED_EXPOOL",
            parameters: [
                "memory address that was referenced", "IRQL at the time of the reference",
                "access: 0 read, 1 write", "address of the instruction that made the reference",
            ]),
        0xCE: Info(
            name: "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS",
            parameters: [
                "memory address that was referenced", "access: 0 read, 1 write",
                "address of the instruction that made the reference", "reserved",
            ]),
        0xD1: Info(
            name: "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
            parameters: [
                "memory address that was referenced", "IRQL at the time of the reference",
                "access: 0 read, 1 write, 8 execute", "address of the driver instruction that made the reference",
            ]),
        0xD6: Info(
            name: "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
            parameters: [
                "memory address that was referenced", "access: 0 read, 1 write",
                "address of the instruction that made the reference", "reserved",
            ]),
        0xDA: Info(
            name: "SYSTEM_PTE_MISUSE",
            parameters: [
                "kind of misuse (subcode)", "depends on parameter 1", "depends on parameter 1", "depends on parameter 1",
            ]),
        0xE2: Info(
            name: "MANUALLY_INITIATED_CRASH",
            parameters: [
                "reserved (0 from the keyboard or a debugger)", "reserved", "reserved", "reserved",
            ]),
        0xEA: Info(
            name: "THREAD_STUCK_IN_DEVICE_DRIVER",
            parameters: [
                "the thread stuck in the driver", "device object", "driver object", "how many times it was stuck",
            ]),
        0xED: Info(
            name: "UNMOUNTABLE_BOOT_VOLUME",
            parameters: [
                "device object of the boot volume", "status code the file system returned", "reserved", "reserved",
            ]),
        0xEF: Info(
            name: "CRITICAL_PROCESS_DIED",
            parameters: [
                "process object of the critical process that ended", "1 if a process, 0 if a thread",
                "reserved", "reserved",
            ]),
        0xF4: Info(
            name: "CRITICAL_OBJECT_TERMINATION",
            parameters: [
                "type of object that ended: 3 process, 6 thread", "the object that ended",
                "address of the image name string", "address of the message string",
            ]),
        0x101: Info(
            name: "CLOCK_WATCHDOG_TIMEOUT",
            parameters: [
                "clock interrupt timeout interval, in clock ticks", "reserved (0)",
                "address of the PRCB of the processor that did not respond", "index of that processor",
            ]),
        0x109: Info(
            name: "CRITICAL_STRUCTURE_CORRUPTION",
            parameters: [
                "reserved", "reserved", "reserved", "kind of corrupted region or data",
            ]),
        0x116: Info(
            name: "VIDEO_TDR_FAILURE",
            parameters: [
                "context of the failed TDR recovery", "address in the responsible display driver",
                "error status", "internal context",
            ]),
        0x124: Info(
            name: "WHEA_UNCORRECTABLE_ERROR",
            parameters: [
                "kind of hardware error source (0: machine check)", "address of the WER_RECORD_HEADER",
                "high 32 bits of the MCi_STATUS value", "low 32 bits of the MCi_STATUS value",
            ]),
        0x133: Info(
            name: "DPC_WATCHDOG_VIOLATION",
            parameters: [
                "0: one DPC ran too long, 1: the processor stayed at DISPATCH_LEVEL or above too long",
                "DPC time count (or watchdog period)", "DPC time allotment", "address of internal watchdog data",
            ]),
        0x139: Info(
            name: "KERNEL_SECURITY_CHECK_FAILURE",
            parameters: [
                "kind of corruption (e.g. 3: a LIST_ENTRY was corrupt)", "address of the trap frame",
                "address of the exception record", "reserved",
            ]),
        0x13A: Info(
            name: "KERNEL_MODE_HEAP_CORRUPTION",
            parameters: [
                "kind of heap corruption", "address of the heap", "address of the corrupt entry", "reserved",
            ]),
        0x162: Info(
            name: "KERNEL_AUTO_BOOST_INVALID_LOCK_RELEASE",
            parameters: [
                "address of the lock", "thread that released it", "lock's owner table", "reserved",
            ]),
        0x20001: Info(name: "HYPERVISOR_ERROR", parameters: ["reserved", "reserved", "reserved", "reserved"]),
        0xDEAD_DEAD: Info(
            name: "MANUALLY_INITIATED_CRASH1",
            parameters: [
                "reserved", "reserved", "reserved", "reserved",
            ]),
    ]

    /// The symbolic name (`MANUALLY_INITIATED_CRASH`), when known.
    public var name: String? { Self.table[rawValue]?.name }

    /// What each of the four parameters holds, in plain words, when the code is known.
    public var parameterMeanings: [String]? { Self.table[rawValue]?.parameters }

    /// `NAME (0xXX)` or the hex code alone.
    public var description: String {
        let code = "0x" + String(rawValue, radix: 16, uppercase: true)
        return name.map { "\($0) (\(code))" } ?? code
    }

    /// Every code with a known name.
    public static var known: [BugCheckCode] { table.keys.sorted().map(BugCheckCode.init) }
}
