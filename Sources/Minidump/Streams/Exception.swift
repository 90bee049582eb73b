import BinaryReading

/// `MINIDUMP_EXCEPTION` (152 bytes): the exception record.
public struct ExceptionRecord: Sendable, Equatable, Codable {
    /// `ExceptionCode`: an NTSTATUS on Windows, a signal number on Linux/macOS (Breakpad).
    public var exceptionCode: UInt32
    /// `ExceptionFlags`: on Linux/macOS the signal's si_code or Mach code.
    public var exceptionFlags: UInt32
    /// `ExceptionRecord`: address of a chained record.
    public var exceptionRecord: UInt64
    /// `ExceptionAddress`: where the exception happened.
    public var exceptionAddress: UInt64
    /// `NumberParameters`: how many of `ExceptionInformation` are meaningful (at most 15).
    public var numberParameters: UInt32
    /// `ExceptionInformation[15]`, of which the first `numberParameters` are meaningful.
    public var exceptionInformation: [UInt64]

    /// `EXCEPTION_MAXIMUM_PARAMETERS`.
    public static let maximumParameters = 15

    /// The meaningful parameters (at most 15, whatever `numberParameters` claims).
    public var parameters: [UInt64] {
        Array(exceptionInformation.prefix(min(Int(numberParameters), Self.maximumParameters)))
    }
}

/// `MINIDUMP_EXCEPTION_STREAM` (168 bytes): which thread crashed, how, and its context.
public struct ExceptionStream: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.exception
    /// `ThreadId`.
    public var threadId: UInt32
    /// `ExceptionRecord`.
    public var exceptionRecord: ExceptionRecord
    /// `ThreadContext`: the crashing thread's context at the exception.
    public var threadContext: LocationDescriptor

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        var reader = dump.reader(bytes)
        let field = "MINIDUMP_EXCEPTION_STREAM"
        threadId = try reader.read(UInt32.self, field + ".ThreadId")
        try reader.skip(4, field + ".__alignment")
        let code = try reader.read(UInt32.self, "MINIDUMP_EXCEPTION.ExceptionCode")
        let flags = try reader.read(UInt32.self, "MINIDUMP_EXCEPTION.ExceptionFlags")
        let chained = try reader.read(UInt64.self, "MINIDUMP_EXCEPTION.ExceptionRecord")
        let address = try reader.read(UInt64.self, "MINIDUMP_EXCEPTION.ExceptionAddress")
        let count = try reader.read(UInt32.self, "MINIDUMP_EXCEPTION.NumberParameters")
        try reader.skip(4, "MINIDUMP_EXCEPTION.__unusedAlignment")
        let information = try reader.readArray(
            UInt64.self, count: ExceptionRecord.maximumParameters, "MINIDUMP_EXCEPTION.ExceptionInformation")
        exceptionRecord = ExceptionRecord(
            exceptionCode: code, exceptionFlags: flags, exceptionRecord: chained, exceptionAddress: address,
            numberParameters: count, exceptionInformation: information)
        threadContext = try LocationDescriptor(parsing: &reader, field + ".ThreadContext")
    }
}
