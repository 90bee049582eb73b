import BinaryReading

/// Signal and `si_code` names for Linux and Android dumps.
///
/// Breakpad and Crashpad store the signal number in `ExceptionCode` and the signal's `si_code`
/// in `ExceptionFlags` (bits/signum.h, asm-generic/siginfo.h).
public enum LinuxSignalNames {
    /// Signal numbers (x86, ARM and most other Linux ABIs share them).
    public static let signals: [UInt32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
        23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
        30: "SIGPWR", 31: "SIGSYS",
        // Breakpad's MD_EXCEPTION_CODE_LIN_DUMP_REQUESTED: a dump written on request, with no signal.
        0xFFFF_FFFF: "DUMP_REQUESTED",
    ]

    /// The `si_code` values any signal can carry (who sent it), keyed by the signed value.
    public static let genericCodes: [Int32: String] = [
        0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ", -4: "SI_ASYNCIO",
        -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL",
    ]

    /// Fault-specific `si_code` values, per signal number.
    public static let faultCodes: [UInt32: [UInt32: String]] = [
        4: [
            1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC", 6: "ILL_PRVREG",
            7: "ILL_COPROC", 8: "ILL_BADSTK", 9: "ILL_BADIADDR",
        ],
        5: [1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT", 5: "TRAP_UNK", 6: "TRAP_PERF"],
        7: [1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"],
        8: [
            1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND", 6: "FPE_FLTRES",
            7: "FPE_FLTINV", 8: "FPE_FLTSUB",
        ],
        11: [1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"],
        31: [1: "SYS_SECCOMP", 2: "SYS_USER_DISPATCH"],
    ]

    /// The crash reason for signal `signal` with `si_code` `code`, nil for an unknown signal.
    ///
    /// A fault code names the cause (`SIGSEGV / SEGV_MAPERR`); otherwise the generic code says who
    /// sent the signal, except `SI_USER`, which minidump-stackwalk leaves out (so a `kill` or a
    /// writer that stores 0 gives a bare `SIGSEGV`, as in rust-minidump's linux-mini.dmp snapshot).
    public static func reason(signal: UInt32, code: UInt32) -> String? {
        guard let name = signals[signal] else { return nil }
        if let fault = faultCodes[signal]?[code] { return name + " / " + fault }
        // si_code is an int; negative values (SI_TKILL is -6) arrive as large unsigned flags.
        let signedCode = Int32(bitPattern: code)
        if let generic = genericCodes[signedCode] {
            return signedCode == 0 ? name : name + " / " + generic
        }
        return name + " / " + hex0x(code, width: 8)
    }
}
