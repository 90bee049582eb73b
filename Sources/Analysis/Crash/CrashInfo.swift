import BinaryReading
import Minidump

/// What a dump says about its crash: reason, address, thread and CRT assertion.
///
/// JSON keys follow minidump-stackwalk's `crash_info` (`type`, `address`, `assertion`), plus the
/// raw codes and the crashing thread's id.
public struct CrashSummary: Sendable, Equatable, Codable {
    /// The crash reason (`crash_info.type`), nil when the dump records no exception.
    public var type: String?
    /// The crash address as `0x` hex padded to the pointer width, nil without an exception.
    public var address: String?
    /// The thread the exception stream names.
    public var threadId: UInt32?
    /// `ExceptionCode` in `0x` hex (8 digits).
    public var exceptionCode: String?
    /// `ExceptionFlags` in `0x` hex (8 digits).
    public var exceptionFlags: String?
    /// The assertion sentence (see ``CrashAssertion/description``), nil without an assertion stream.
    public var assertion: String?
    /// The assertion's fields.
    public var assertionInfo: CrashAssertion?

    enum CodingKeys: String, CodingKey {
        case type, address, threadId = "thread_id", exceptionCode = "exception_code",
            exceptionFlags = "exception_flags", assertion, assertionInfo = "assertion_info"
    }

    /// Reads the exception, SystemInfo and assertion streams of `dump`.
    ///
    /// A damaged stream leaves its part empty and adds a line to `warnings`: the rest still reads.
    public init(minidump dump: MinidumpFile, warnings: inout [String]) {
        do {
            if let reason = try CrashReason(minidump: dump) {
                type = reason.reason
                address = reason.formattedAddress
                exceptionCode = hex0x(reason.exceptionCode, width: 8)
                exceptionFlags = hex0x(reason.exceptionFlags, width: 8)
            }
            threadId = try dump.stream(ExceptionStream.self)?.threadId
        } catch {
            warnings.append("exception stream: \(error.description)")
        }
        do {
            if let raw = try dump.stream(AssertionInfo.self) {
                let assertion = CrashAssertion(raw)
                assertionInfo = assertion
                self.assertion = assertion.description
            }
        } catch {
            warnings.append("assertion stream: \(error.description)")
        }
    }
}

/// A failed CRT assertion or invalid-parameter call from Breakpad's assertion stream (0x47670002).
public struct CrashAssertion: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The failed expression (`format != nullptr`).
    public var expression: String
    /// The function that detected it.
    public var function: String
    /// The source file of that function.
    public var file: String
    /// The line in `file`, 0 when unknown.
    public var line: UInt32
    /// `InvalidParameter`, `PureVirtualCall`, `Unknown`, or the raw value in hex.
    public var type: String
    /// The raw `MDRawAssertionInfo.type`.
    public var rawType: UInt32

    enum CodingKeys: String, CodingKey {
        case expression, function, file, line, type, rawType = "raw_type"
    }

    /// An assertion from its fields; `type` is named from `rawType`.
    public init(expression: String, function: String, file: String, line: UInt32, rawType: UInt32) {
        self.expression = expression
        self.function = function
        self.file = file
        self.line = line
        self.rawType = rawType
        type = AssertionType(rawValue: rawType).description
    }

    /// The fields of a decoded assertion stream.
    public init(_ info: AssertionInfo) {
        self.init(
            expression: info.expression, function: info.function, file: info.file, line: info.line,
            rawType: info.type.rawValue)
    }

    /// The sentence Breakpad's minidump_stackwalk prints for the assertion.
    ///
    /// rust-minidump's minidump-stackwalk reads the stream but leaves `crash_info.assertion` null,
    /// so Breakpad's wording is the one to match: the kind, then the parts that are present.
    public var description: String {
        var text: String
        switch AssertionType(rawValue: rawType) {
        case .invalidParameter: text = "Invalid parameter passed to library function"
        case .pureVirtualCall: text = "Pure virtual function called"
        default: text = "Unknown assertion type " + hex0x(rawType, width: 8)
        }
        if !expression.isEmpty { text += " " + expression }
        if !function.isEmpty { text += " in function " + function }
        if !file.isEmpty { text += ", in file " + file }
        if line != 0 { text += " at line \(line)" }
        return text
    }
}
