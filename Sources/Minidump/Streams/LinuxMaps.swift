import BinaryReading

/// One line of /proc/self/maps: `start-end perms offset major:minor inode [path]`.
public struct LinuxMapping: Sendable, Equatable, Codable {
    /// First address of the mapping.
    public var start: UInt64
    /// End of the mapping (exclusive).
    public var end: UInt64
    /// The four permission characters, e.g. `r-xp`.
    public var permissions: String
    /// Offset of the mapping in its file.
    public var offset: UInt64
    /// Device major number.
    public var deviceMajor: UInt32
    /// Device minor number.
    public var deviceMinor: UInt32
    /// Inode of the file (0 for anonymous mappings).
    public var inode: UInt64
    /// The path or pseudo-path (`[stack]`, `[heap]`), empty for anonymous mappings.
    public var path: String

    /// Whether the `r` bit is set.
    public var isReadable: Bool { permissions.hasPrefix("r") }
    /// Whether the `w` bit is set.
    public var isWritable: Bool { permissions.dropFirst().hasPrefix("w") }
    /// Whether the `x` bit is set.
    public var isExecutable: Bool { permissions.dropFirst(2).hasPrefix("x") }
    /// Whether the mapping is shared (`s`) rather than private (`p`).
    public var isShared: Bool { permissions.dropFirst(3).hasPrefix("s") }

    /// Parses one line; returns a reason when the line is not a valid mapping.
    static func parse(_ line: Substring) -> Result<LinuxMapping, LineError> {
        var rest = line[...]
        func field() -> Substring? {
            let trimmed = rest.drop { $0 == " " || $0 == "\t" }
            guard !trimmed.isEmpty else { return nil }
            let end = trimmed.firstIndex { $0 == " " || $0 == "\t" } ?? trimmed.endIndex
            rest = trimmed[end...]
            return trimmed[..<end]
        }
        guard let range = field() else { return .failure(LineError(reason: "empty line")) }
        let bounds = range.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16) else {
            return .failure(LineError(reason: "invalid range \"\(range)\""))
        }
        guard start <= end else {
            return .failure(LineError(reason: "invalid range \"\(range)\": end before start"))
        }
        guard let permissions = field(), permissions.count == 4 else {
            return .failure(LineError(reason: "missing or invalid permissions"))
        }
        guard let offsetText = field(), let offset = UInt64(offsetText, radix: 16) else {
            return .failure(LineError(reason: "missing or invalid offset"))
        }
        guard let device = field() else { return .failure(LineError(reason: "missing device")) }
        let deviceParts = device.split(separator: ":", omittingEmptySubsequences: false)
        guard deviceParts.count == 2, let major = UInt32(deviceParts[0], radix: 16),
            let minor = UInt32(deviceParts[1], radix: 16)
        else {
            return .failure(LineError(reason: "invalid device \"\(device)\""))
        }
        guard let inodeText = field(), let inode = UInt64(inodeText) else {
            return .failure(LineError(reason: "missing or invalid inode"))
        }
        let path = rest.drop { $0 == " " || $0 == "\t" }
        return .success(
            LinuxMapping(
                start: start, end: end, permissions: String(permissions), offset: offset,
                deviceMajor: major, deviceMinor: minor, inode: inode, path: String(path)))
    }

    struct LineError: Error {
        var reason: String
    }
}

/// Breakpad's `MD_LINUX_MAPS`: a copy of /proc/self/maps, parsed line by line.
///
/// A line that is not a valid mapping (unparseable or inverted address range, missing
/// fields) is left out and described in `warnings`, so the rest of the map stays usable.
/// rust-minidump's `invalid-range.dmp` is a fuzzer-made dump whose map has such lines.
public struct LinuxMaps: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxMaps
    /// The valid mappings in file order.
    public var mappings: [LinuxMapping]
    /// One entry per rejected line: its 1-based line number and the reason.
    public var warnings: [String]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var mappings = [LinuxMapping]()
        var warnings = [String]()
        for (index, line) in ProcText.lines(bytes.utf8String).enumerated() {
            if ProcText.trim(line).isEmpty { continue }
            switch LinuxMapping.parse(line) {
            case .success(let mapping): mappings.append(mapping)
            case .failure(let error): warnings.append("MD_LINUX_MAPS line \(index + 1): \(error.reason)")
            }
        }
        self.mappings = mappings
        self.warnings = warnings
    }

    /// The mapping holding `address`, if any.
    public func mapping(containing address: UInt64) -> LinuxMapping? {
        mappings.first { address >= $0.start && address < $0.end }
    }
}
