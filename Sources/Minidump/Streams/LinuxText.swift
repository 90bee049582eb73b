import BinaryReading

/// Breakpad's `MD_LINUX_CPU_INFO`: a copy of /proc/cpuinfo.
public struct LinuxCpuInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxCpuInfo
    /// The file as written (invalid UTF-8 replaced).
    public var text: String
    /// One list of `name : value` entries per processor block (blocks are separated by blank lines).
    public var processors: [[MinidumpKeyValue]]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        text = bytes.utf8String
        var processors = [[MinidumpKeyValue]]()
        var block = [Substring]()
        for line in ProcText.lines(text) + [""] {
            if ProcText.trim(line).isEmpty {
                let entries = ProcText.keyValues(block, separator: ":")
                if !entries.isEmpty { processors.append(entries) }
                block.removeAll()
            } else {
                block.append(line)
            }
        }
        self.processors = processors
    }
}

/// Breakpad's `MD_LINUX_PROC_STATUS`: a copy of /proc/self/status (`Name:\tvalue` lines).
public struct LinuxProcStatus: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxProcStatus
    /// The file as written.
    public var text: String
    /// The entries in file order.
    public var entries: [MinidumpKeyValue]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        text = bytes.utf8String
        entries = ProcText.keyValues(ProcText.lines(text), separator: ":")
    }

    /// `Pid`, when present and numeric.
    public var pid: UInt32? { entries[key: "Pid"].flatMap { UInt32($0) } }
}

/// Breakpad's `MD_LINUX_LSB_RELEASE`: /etc/lsb-release (or /etc/os-release) as `KEY=value` lines.
public struct LinuxLsbRelease: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxLsbRelease
    /// The file as written.
    public var text: String
    /// The entries in file order; a value in double or single quotes loses its quotes.
    public var entries: [MinidumpKeyValue]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        text = bytes.utf8String
        entries = ProcText.keyValues(ProcText.lines(text).filter { !$0.hasPrefix("#") }, separator: "=").map { entry in
            var value = entry.value
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            return MinidumpKeyValue(key: entry.key, value: value)
        }
    }
}

/// Breakpad's `MD_LINUX_CMD_LINE`: /proc/self/cmdline, NUL-separated arguments.
public struct LinuxCmdLine: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxCmdLine
    /// The arguments, `argv[0]` first.
    public var arguments: [String]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        arguments = ProcText.nulSeparated(bytes)
    }
}

/// Breakpad's `MD_LINUX_ENVIRON`: /proc/self/environ, NUL-separated `NAME=value` strings.
public struct LinuxEnviron: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxEnviron
    /// The strings as written, in order.
    public var strings: [String]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        strings = ProcText.nulSeparated(bytes)
    }

    /// The variables split at the first `=` (a string without one has an empty value).
    public var variables: [MinidumpKeyValue] {
        strings.filter { !$0.isEmpty }.map { string in
            guard let cut = string.firstIndex(of: "=") else { return MinidumpKeyValue(key: string, value: "") }
            return MinidumpKeyValue(key: String(string[..<cut]), value: String(string[string.index(after: cut)...]))
        }
    }
}

/// Mozilla's `MOZ_LINUX_LIMITS`: a copy of /proc/self/limits.
public struct LinuxLimits: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxLimits
    /// The file as written.
    public var text: String
    /// The non-empty lines (the first is the column header).
    public var lines: [String]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        text = bytes.utf8String
        lines = ProcText.lines(text).filter { !ProcText.trim($0).isEmpty }.map(String.init)
    }
}

/// Mozilla's `MOZ_SOFT_ERRORS`: a JSON document of problems the writer met but got past.
public struct SoftErrors: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.softErrors
    /// The JSON text as written (not interpreted here: the format layer has no JSON policy).
    public var json: String

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        json = bytes.cString
    }
}
