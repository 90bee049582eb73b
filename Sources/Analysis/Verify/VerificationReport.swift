import BinaryReading
import Foundation

/// `postmortem verify`: the checklist a crash-dump test lab runs over one dump.
///
/// JSON field names: `dump`, `kind`, `checks[{name, status, required, detail}]`, `passed`.
/// `status` is `pass`, `warn` or `fail`; `passed` is true when every check with `required` passed.
/// A warning is never required: it notes something worth a look that does not stop analysis.
public struct VerificationReport: Sendable, Codable, Equatable {
    /// The dump's path as given.
    public var dump: String
    /// What the file is: `minidump`, `kernel (64-bit, small (triage))`, `user dump (64-bit)`, or `unknown`.
    public var kind: String
    /// The checks, in the order they ran.
    public var checks: [VerificationCheck]
    /// Whether every required check passed.
    public var passed: Bool

    public init(dump: String, kind: String, checks: [VerificationCheck]) {
        self.dump = dump
        self.kind = kind
        self.checks = checks
        passed = checks.allSatisfy { !$0.required || $0.status == .pass }
    }

    /// The first required check that did not pass, if any.
    public var firstFailure: VerificationCheck? { checks.first { $0.required && $0.status != .pass } }

    /// The check called `name`, if it ran.
    public func check(_ name: String) -> VerificationCheck? { checks.first { $0.name == name } }
}

/// One item of the checklist.
public struct VerificationCheck: Sendable, Codable, Equatable {
    /// `pass`, `warn` (worth a look, not a defect of the file) or `fail`.
    public enum Status: String, Sendable, Codable {
        case pass, warn, fail
    }

    /// The check's name, stable across versions (`header`, `dump type`, `file size`, `layout`, ...).
    public var name: String
    public var status: Status
    /// Whether the dump fails verification when this check does not pass.
    public var required: Bool
    /// What was found, or what is wrong and where.
    public var detail: String

    public init(name: String, status: Status, required: Bool, detail: String) {
        self.name = name
        self.status = status
        self.required = required
        self.detail = detail
    }
}

/// Names of the checks, shared by every kind of dump.
public enum CheckName {
    public static let header = "header"
    public static let dumpType = "dump type"
    public static let fileSize = "file size"
    public static let layout = "layout"
    public static let streams = "streams decode"
    public static let systemInfo = "system info"
    public static let exception = "exception"
    public static let bugcheck = "bugcheck"
    public static let context = "context"
    public static let stack = "stack memory"
    public static let instructionPage = "instruction page"
    public static let modules = "modules"
    public static let binaries = "binaries"
}

/// Collects checks while a verifier runs.
struct CheckList {
    var checks: [VerificationCheck] = []

    mutating func pass(_ name: String, required: Bool = true, _ detail: String) {
        checks.append(VerificationCheck(name: name, status: .pass, required: required, detail: detail))
    }

    mutating func warn(_ name: String, required: Bool = false, _ detail: String) {
        checks.append(VerificationCheck(name: name, status: .warn, required: required, detail: detail))
    }

    mutating func fail(_ name: String, required: Bool = true, _ detail: String) {
        checks.append(VerificationCheck(name: name, status: .fail, required: required, detail: detail))
    }
}

/// A byte range of the file that one part of the dump occupies, for the overlap check.
struct FilePart {
    var name: String
    var start: UInt64
    var size: UInt64
    var end: UInt64 { start.addingReportingOverflow(size).overflow ? .max : start + size }
}

/// Problems with `parts`: any that leaves a file of `fileSize` bytes, and (when `overlaps`) any two that overlap.
///
/// Parts of size zero occupy nothing. Identical ranges named alike are reported once.
func layoutProblems(_ parts: [FilePart], fileSize: UInt64, overlaps: Bool = true, limit: Int = 5) -> [String] {
    var problems = [String]()
    for part in parts where part.size > 0 && part.end > fileSize {
        problems.append(
            "\(part.name) at \(hex0x(part.start)) (\(part.size) bytes) ends at \(hex0x(part.end)), past the end of the file (\(hex0x(fileSize)))"
        )
    }
    let sorted = parts.filter { $0.size > 0 }.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
    var furthest: FilePart? = nil
    for part in sorted where overlaps {
        if let previous = furthest, part.start < previous.end {
            problems.append(
                "\(part.name) [\(hex0x(part.start)), \(hex0x(part.end))) overlaps \(previous.name) [\(hex0x(previous.start)), \(hex0x(previous.end)))"
            )
        }
        if furthest == nil || part.end > furthest!.end { furthest = part }
    }
    if problems.count > limit { return Array(problems.prefix(limit)) + ["and \(problems.count - limit) more"] }
    return problems
}

/// What kind of dump the bytes start with.
public enum DumpFileKind: String, Sendable, Codable {
    case minidump, kernel, user, unknown

    /// Detects the kind by signature: `MDMP` (either byte order), `PAGEDUMP`/`PAGEDU64`, `USERDUMP`/`USERDU64`.
    public static func detect(path: String) -> DumpFileKind {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .unknown }
        defer { try? handle.close() }
        return detect(prefix: [UInt8](handle.readData(ofLength: 8)))
    }

    /// Detects the kind from the first 8 bytes of a file.
    public static func detect(prefix: [UInt8]) -> DumpFileKind {
        let text = String(decoding: prefix.prefix(8).map { $0 < 0x80 ? $0 : 0x3F }, as: UTF8.self)
        if text.hasPrefix("MDMP") || text.hasPrefix("PMDM") { return .minidump }
        if text == "PAGEDUMP" || text == "PAGEDU64" { return .kernel }
        if text == "USERDUMP" || text == "USERDU64" { return .user }
        return .unknown
    }
}
