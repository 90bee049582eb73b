import BinaryReading

/// Mach exception names for macOS and iOS dumps.
///
/// Breakpad and Crashpad store the Mach exception type in `ExceptionCode`, its first code in
/// `ExceptionFlags`, and the codes again in `ExceptionInformation` (mach/exception_types.h,
/// mach/kern_return.h, mach/{i386,arm,ppc}/exception.h, kern/exc_resource.h, kern/exc_guard.h).
public enum MachExceptionNames {
    /// The CPU family that decides how a machine-dependent code reads.
    public enum CPUFamily: Sendable {
        case x86, arm64, ppc, other
    }

    /// Exception types (`EXC_*`).
    public static let exceptions: [UInt32: String] = [
        1: "EXC_BAD_ACCESS", 2: "EXC_BAD_INSTRUCTION", 3: "EXC_ARITHMETIC", 4: "EXC_EMULATION", 5: "EXC_SOFTWARE",
        6: "EXC_BREAKPOINT", 7: "EXC_SYSCALL", 8: "EXC_MACH_SYSCALL", 9: "EXC_RPC_ALERT",
        // rust-minidump has no name for EXC_CRASH and EXC_CORPSE_NOTIFY and prints `unknown 0x0000000a / …`;
        // Crashpad writes EXC_CRASH for abort() and fatal signals on macOS, so naming it is worth the difference.
        10: "EXC_CRASH", 11: "EXC_RESOURCE", 12: "EXC_GUARD", 13: "EXC_CORPSE_NOTIFY",
    ]

    /// Crashpad's `SimulateCrash` code ('CPsx'): a dump taken on purpose.
    public static let simulated: UInt32 = 0x4350_7378

    /// `kern_return_t` codes of an `EXC_BAD_ACCESS`, on every CPU.
    static let kernReturns: [UInt32: String] = [
        1: "KERN_INVALID_ADDRESS", 2: "KERN_PROTECTION_FAILURE", 5: "KERN_FAILURE", 8: "KERN_NO_ACCESS",
        9: "KERN_MEMORY_FAILURE", 10: "KERN_MEMORY_ERROR", 50: "KERN_CODESIGN_ERROR",
    ]

    /// Machine-dependent codes per exception type and CPU family.
    static let machineCodes: [UInt32: [CPUFamily: [UInt32: String]]] = [
        1: [
            .arm64: [0x101: "EXC_ARM_DA_ALIGN", 0x102: "EXC_ARM_DA_DEBUG"],
            .ppc: [0x101: "EXC_PPC_VM_PROT_READ", 0x102: "EXC_PPC_BADSPACE", 0x103: "EXC_PPC_UNALIGNED"],
            .x86: [13: "EXC_I386_GPFLT"],
        ],
        2: [
            .arm64: [1: "EXC_ARM_UNDEFINED"],
            .ppc: [
                1: "EXC_PPC_INVALID_SYSCALL", 2: "EXC_PPC_UNIPL_INST", 3: "EXC_PPC_PRIVINST", 4: "EXC_PPC_PRIVREG",
                5: "EXC_PPC_TRACE", 6: "EXC_PPC_PERFMON",
            ],
            .x86: [
                1: "EXC_I386_INVOP", 10: "EXC_I386_INVTSSFLT", 11: "EXC_I386_SEGNPFLT", 12: "EXC_I386_STKFLT",
                13: "EXC_I386_GPFLT", 17: "EXC_I386_ALIGNFLT",
            ],
        ],
        3: [
            .arm64: [
                1: "EXC_ARM_FP_IO", 2: "EXC_ARM_FP_DZ", 3: "EXC_ARM_FP_OF", 4: "EXC_ARM_FP_UF", 5: "EXC_ARM_FP_IX",
                6: "EXC_ARM_FP_ID",
            ],
            .ppc: [
                1: "EXC_PPC_OVERFLOW", 2: "EXC_PPC_ZERO_DIVIDE", 3: "EXC_FLT_INEXACT", 4: "EXC_PPC_FLT_ZERO_DIVIDE",
                5: "EXC_PPC_FLT_UNDERFLOW", 6: "EXC_PPC_FLT_OVERFLOW", 7: "EXC_PPC_FLT_NOT_A_NUMBER",
                8: "EXC_PPC_NOEMULATION", 9: "EXC_PPC_ALTIVECASSIST",
            ],
            .x86: [
                1: "EXC_I386_DIV", 2: "EXC_I386_INTO", 3: "EXC_I386_NOEXT", 4: "EXC_I386_EXTOVR", 5: "EXC_I386_EXTERR",
                6: "EXC_I386_EMERR", 7: "EXC_I386_BOUND", 8: "EXC_I386_SSEEXTERR",
            ],
        ],
        6: [
            .arm64: [1: "EXC_ARM_BREAKPOINT", 0x101: "EXC_ARM_DA_ALIGN", 0x102: "EXC_ARM_DA_DEBUG"],
            .ppc: [1: "EXC_PPC_BREAKPOINT"],
            .x86: [1: "EXC_I386_SGL", 2: "EXC_I386_BPT"],
        ],
    ]

    /// `EXC_SOFTWARE` codes, on every CPU.
    static let softwareCodes: [UInt32: String] = [
        0x0001_0002: "SIGABRT", 0xDEAD_C0DE: "UNCAUGHT_NS_EXCEPTION", 0x0000_0001: "EXC_PPC_TRAP",
        0x0001_0100: "EXC_PPC_MIGRATE",
    ]

    /// The crash reason for Mach exception `type` with first code `code` and the exception's
    /// parameters (`ExceptionInformation`), nil for an unknown exception type.
    public static func reason(type: UInt32, code: UInt32, parameters: [UInt64], cpu: CPUFamily) -> String? {
        if type == simulated { return "Simulated Exception" }
        guard let name = exceptions[type] else { return nil }
        let subcode = { (index: Int) -> UInt64 in index < parameters.count ? parameters[index] : 0 }
        switch type {
        case 1:
            if let kern = kernReturns[code] { return name + " / " + kern }
        case 5:
            if let software = softwareCodes[code] { return name + " / " + software }
        case 11:
            // The resource kind sits in the top three bits of the first code.
            if let text = resourceReason(kind: code >> 29 & 0x7, code: subcode(1), subcode: subcode(2)) {
                return text
            }
        case 12:
            if let text = guardReason(kind: code >> 29 & 0x7, code: subcode(1), subcode: subcode(2)) {
                return text
            }
        default:
            break
        }
        if let machine = machineCodes[type]?[cpu]?[code] { return name + " / " + machine }
        return name + " / " + hex0x(code, width: 8)
    }

    /// `EXC_RESOURCE` (kern/exc_resource.h): kind, flavor and the limits packed in the codes.
    static func resourceReason(kind: UInt32, code: UInt64, subcode: UInt64) -> String? {
        let kinds: [UInt32: String] = [
            1: "RESOURCE_TYPE_CPU", 2: "RESOURCE_TYPE_WAKEUPS", 3: "RESOURCE_TYPE_MEMORY", 4: "RESOURCE_TYPE_IO",
            5: "RESOURCE_TYPE_THREADS",
        ]
        guard let kindName = kinds[kind] else { return nil }
        let head = "EXC_RESOURCE / \(kindName) / "
        let raw = head + hex0x(code, width: 16) + " / " + hex0x(subcode, width: 16)
        let flavor = code >> 58 & 0x7
        switch (kind, flavor) {
        case (1, 1), (1, 2):
            let flavorName = flavor == 1 ? "FLAVOR_CPU_MONITOR" : "FLAVOR_CPU_MONITOR_FATAL"
            return head + "\(flavorName) interval: \(code >> 7 & 0x1FF_FFFF)s CPU limit: \(code & 0x7)% "
                + "CPU consumed: \(subcode & 0x7)%"
        case (2, 1):
            return head + "FLAVOR_WAKEUPS_MONITOR interval: \(code >> 20 & 0xF_FFFF)s wakeups permitted: "
                + "\(code & 0xFFF) wakeups observed: \(subcode & 0xFFF)"
        case (3, 1):
            return head + "FLAVOR_HIGH_WATERMARK high watermark limit: \(code & 0x1FFF)MiB"
        case (4, 1), (4, 2):
            let flavorName = flavor == 1 ? "FLAVOR_IO_PHYSICAL_WRITES" : "FLAVOR_IO_LOGICAL_WRITES"
            return head + "\(flavorName) interval: \(code >> 15 & 0x1_FFFF)s I/O limit: \(code & 0x7FFF)% "
                + "I/O observed: \(subcode & 0x7FFF)%"
        case (5, 1):
            return head + "FLAVOR_THREADS_HIGH_WATERMARK high watermark limit: \(code & 0x7FFF)"
        default:
            return raw
        }
    }

    /// `EXC_GUARD` (kern/exc_guard.h): guard kind, flavor and the guarded object.
    static func guardReason(kind: UInt32, code: UInt64, subcode: UInt64) -> String? {
        let kinds: [UInt32: String] = [
            0: "GUARD_TYPE_NONE", 1: "GUARD_TYPE_MACH_PORT", 2: "GUARD_TYPE_FD", 3: "GUARD_TYPE_USER",
            4: "GUARD_TYPE_VN", 5: "GUARD_TYPE_VIRT_MEMORY",
        ]
        guard let kindName = kinds[kind] else { return nil }
        let head = "EXC_GUARD / " + kindName
        let raw = head + " / " + hex0x(code, width: 16) + " / " + hex0x(subcode, width: 16)
        let flavor = code >> 32 & 0x1FFF_FFFF
        let target = code & 0xFFF_FFFF
        switch kind {
        case 0:
            return head
        case 1:
            guard let name = machPortGuardFlavors[flavor] else { return raw }
            return head + " / \(name) port name: \(target) guard identifier: \(subcode)"
        case 2:
            guard let name = fileDescriptorGuardFlavors[flavor] else { return raw }
            return head + " / \(name) file descriptor: \(target) guard identifier: \(subcode)"
        case 3:
            // rust-minidump prints "GUARD_TYPE_USER/ namespace" without the space; the space is kept here.
            return head + " / namespace: \(code & 0xFFFF_FFFF) guard identifier: \(subcode)"
        case 4:
            guard let name = vnodeGuardFlavors[flavor] else { return raw }
            return head + " / \(name) pid: \(target) guard identifier: \(subcode)"
        default:
            guard flavor == 1 else { return raw }
            return head + " / GUARD_EXC_DEALLOC_GAP offset: \(subcode)"
        }
    }

    static let machPortGuardFlavors: [UInt64: String] = [
        0x1: "GUARD_EXC_DESTROY", 0x2: "GUARD_EXC_MOD_REFS", 0x4: "GUARD_EXC_SET_CONTEXT", 0x8: "GUARD_EXC_UNGUARDED",
        0x10: "GUARD_EXC_INCORRECT_GUARD", 0x20: "GUARD_EXC_IMMOVABLE", 0x40: "GUARD_EXC_STRICT_REPLY",
        0x80: "GUARD_EXC_MSG_FILTERED", 0x100: "GUARD_EXC_INVALID_RIGHT", 0x200: "GUARD_EXC_INVALID_NAME",
        0x400: "GUARD_EXC_INVALID_VALUE", 0x800: "GUARD_EXC_INVALID_ARGUMENT", 0x1000: "GUARD_EXC_RIGHT_EXISTS",
        0x2000: "GUARD_EXC_KERN_NO_SPACE", 0x4000: "GUARD_EXC_KERN_FAILURE", 0x8000: "GUARD_EXC_KERN_RESOURCE",
        0x1_0000: "GUARD_EXC_SEND_INVALID_REPLY", 0x2_0000: "GUARD_EXC_SEND_INVALID_VOUCHER",
        0x4_0000: "GUARD_EXC_SEND_INVALID_RIGHT", 0x8_0000: "GUARD_EXC_RCV_INVALID_NAME",
        0x10_0000: "GUARD_EXC_RCV_GUARDED_DESC", 0x20_0000: "GUARD_EXC_MOD_REFS_NON_FATAL",
        0x40_0000: "GUARD_EXC_IMMOVABLE_NON_FATAL",
    ]

    static let fileDescriptorGuardFlavors: [UInt64: String] = [
        0x1: "GUARD_EXC_CLOSE", 0x2: "GUARD_EXC_DUP", 0x4: "GUARD_EXC_NOCLOEXEC", 0x8: "GUARD_EXC_SOCKET_IPC",
        0x10: "GUARD_EXC_FILEPORT", 0x20: "GUARD_EXC_MISMATCH", 0x40: "GUARD_EXC_WRITE",
    ]

    static let vnodeGuardFlavors: [UInt64: String] = [
        0x1: "GUARD_EXC_RENAME_TO", 0x2: "GUARD_EXC_RENAME_FROM", 0x4: "GUARD_EXC_UNLINK", 0x8: "GUARD_EXC_WRITE_OTHER",
        0x10: "GUARD_EXC_TRUNC_OTHER", 0x20: "GUARD_EXC_LINK", 0x40: "GUARD_EXC_EXCHDATA",
    ]
}
