import BinaryReading
import Minidump

/// Writes small minidumps byte by byte for stream tests.
///
/// The layouts here are spelled out from the public C declarations, independently of the
/// parser's types, so a layout mistake in the parser cannot hide itself.
final class StreamDumpBuilder {
    private(set) var bytes = [UInt8](repeating: 0, count: 32)
    private var directory = [(type: UInt32, size: UInt32, rva: UInt32)]()

    /// Appends `data` (4-byte aligned) and returns its RVA.
    @discardableResult
    func append(_ data: [UInt8]) -> UInt32 {
        while bytes.count % 4 != 0 { bytes.append(0) }
        let rva = UInt32(bytes.count)
        bytes += data
        return rva
    }

    /// Appends a `MINIDUMP_STRING` (byte length, UTF-16LE, NUL) and returns its RVA.
    @discardableResult
    func appendMinidumpString(_ text: String) -> UInt32 {
        let units = Array(text.utf16)
        return append(le32(UInt32(units.count * 2)) + units.flatMap { le16($0) } + [0, 0])
    }

    /// Appends a Crashpad `MinidumpUTF8String` (byte length, UTF-8, NUL) and returns its RVA.
    @discardableResult
    func appendUTF8String(_ text: String) -> UInt32 {
        append(le32(UInt32(text.utf8.count)) + Array(text.utf8) + [0])
    }

    /// Adds a stream whose bytes are `data`.
    func addStream(_ type: UInt32, _ data: [UInt8]) {
        let rva = append(data)
        directory.append((type, UInt32(data.count), rva))
    }

    /// Adds a `MINIDUMP_SYSTEM_INFO` with the given `ProcessorArchitecture` (Linux platform id).
    func addSystemInfo(architecture: UInt16) {
        var info = le16(architecture) + le16(6) + le16(0) + [1, 0]
        info += le32(4) + le32(9) + le32(0) + le32(0x8201) + le32(0) + le16(0) + le16(0)
        info += [UInt8](repeating: 0, count: 24)
        addStream(7, info)
    }

    /// The finished file: header, streams, and the directory at the end.
    func build() -> [UInt8] {
        var file = bytes
        while file.count % 4 != 0 { file.append(0) }
        let directoryRva = UInt32(file.count)
        for entry in directory {
            file += le32(entry.type) + le32(entry.size) + le32(entry.rva)
        }
        let header =
            le32(0x504D_444D) + le32(0xA793) + le32(UInt32(directory.count)) + le32(directoryRva)
            + le32(0) + le32(0) + le64(0)
        file.replaceSubrange(0..<32, with: header)
        return file
    }

    /// Opens the finished file.
    func open() throws -> MinidumpFile {
        try MinidumpFile(bytes: MappedFile(bytes: build()).bytes)
    }
}

func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }
func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(value >> (8 * UInt64($0)) & 0xFF) } }
func lei32(_ value: Int32) -> [UInt8] { le32(UInt32(bitPattern: value)) }

/// A fixed `WCHAR[count]` field holding `text` (UTF-16LE, NUL-padded).
func wchars(_ text: String, count: Int) -> [UInt8] {
    let units = Array(text.utf16.prefix(count))
    return units.flatMap { le16($0) } + [UInt8](repeating: 0, count: 2 * (count - units.count))
}

/// A `SYSTEMTIME` with every field set from `values` (year, month, day of week, day, hour, minute, second, ms).
func systemTime(_ values: [UInt16]) -> [UInt8] { values.flatMap { le16($0) } }

/// Opens a copy of `bytes` as a dump.
func openDump(_ bytes: [UInt8]) throws -> MinidumpFile {
    try MinidumpFile(bytes: MappedFile(bytes: bytes).bytes)
}

/// Decodes every stream type of this suite; used to check that damaged input never traps.
func decodeAllStreams(_ dump: MinidumpFile) -> [String] {
    var outcomes = [String]()
    func attempt<S: MinidumpStream>(_ type: S.Type) {
        do {
            _ = try dump.stream(type)
            outcomes.append("\(type): ok")
        } catch {
            outcomes.append("\(type): \(error)")
        }
    }
    attempt(MiscInfo.self)
    attempt(HandleDataStream.self)
    attempt(ThreadInfoList.self)
    attempt(MemoryInfoList.self)
    attempt(ThreadNameList.self)
    attempt(CommentA.self)
    attempt(CommentW.self)
    attempt(SystemMemoryInfo.self)
    attempt(ProcessVmCounters.self)
    attempt(BreakpadInfo.self)
    attempt(AssertionInfo.self)
    attempt(LinuxCpuInfo.self)
    attempt(LinuxProcStatus.self)
    attempt(LinuxLsbRelease.self)
    attempt(LinuxCmdLine.self)
    attempt(LinuxEnviron.self)
    attempt(LinuxAuxv.self)
    attempt(LinuxMaps.self)
    attempt(LinuxDsoDebug.self)
    attempt(LinuxLimits.self)
    attempt(SoftErrors.self)
    attempt(CrashpadInfo.self)
    attempt(MacCrashInfo.self)
    return outcomes
}
