/// The `O` line of a microdump: `O <os> <arch> <cpu count> <hardware arch> <version...>`.
public struct MicrodumpSystemInfo: Sendable, Equatable, Codable {
    /// The OS letter as written: `A` Android, `L` Linux.
    public var osIdentifier: String
    /// The architecture of the crashed process (`arm`, `arm64`, `x86`, `mips`, `mips64`, ...).
    public var cpu: String
    /// Number of CPUs (written in hex).
    public var cpuCount: Int
    /// The hardware's own architecture (`armv7l`, `aarch64`, `armv8l` for a 32-bit process on a 64-bit CPU).
    public var hardwareArchitecture: String
    /// The rest of the line: a build fingerprint on Android, kernel version on Linux.
    public var osVersion: String

    /// The OS name as minidump_stackwalk prints it (`Android`, `Linux`), or the letter when unknown.
    public var osName: String {
        switch osIdentifier {
        case "A": "Android"
        case "L": "Linux"
        default: osIdentifier
        }
    }
}

/// The `G` line: the GL driver's strings, split at `|`.
public struct MicrodumpGPU: Sendable, Equatable, Codable {
    public var version: String
    public var vendor: String
    public var renderer: String
}

/// The `R` line (newer writers): the signal that caused the dump.
public struct MicrodumpCrashReason: Sendable, Equatable, Codable {
    /// The signal number as written (hex).
    public var signal: UInt32
    /// The signal's name, e.g. `SIGSEGV`.
    public var name: String
    /// The faulting address.
    public var address: UInt64
}

/// One `M` line: a mapped module, `M <base> <file offset> <size> <debug id> <name>`.
public struct MicrodumpModule: Sendable, Equatable, Codable {
    public var base: UInt64
    /// Offset in the file of the mapping (non-zero for libraries loaded straight from an APK).
    public var fileOffset: UInt64
    public var size: UInt64
    /// The Breakpad debug identifier (33 hex digits: a GUID and an age), as written.
    public var debugIdentifier: String
    /// The module's file name; microdumps carry no path.
    public var name: String

    /// Address one past the module.
    public var endAddress: UInt64 { base &+ size }
}

/// The `S 0 <sp> <start> <size>` header line of the stack dump.
public struct MicrodumpStackHeader: Sendable, Equatable, Codable {
    public var stackPointer: UInt64
    public var start: UInt64
    public var size: UInt64
}
