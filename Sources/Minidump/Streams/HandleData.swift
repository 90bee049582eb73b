import BinaryReading

/// `MINIDUMP_HANDLE_DESCRIPTOR` (32 bytes) or `MINIDUMP_HANDLE_DESCRIPTOR_2` (40 bytes): one open handle.
public struct HandleDescriptor: Sendable, Equatable, Codable {
    /// `Handle`: the handle value.
    public var handle: UInt64
    /// `TypeNameRva`: a `MINIDUMP_STRING` naming the object type (0 when absent).
    public var typeNameRva: UInt32
    /// `ObjectNameRva`: a `MINIDUMP_STRING` naming the object (0 when absent).
    public var objectNameRva: UInt32
    /// `Attributes`.
    public var attributes: UInt32
    /// `GrantedAccess`.
    public var grantedAccess: UInt32
    /// `HandleCount`.
    public var handleCount: UInt32
    /// `PointerCount`.
    public var pointerCount: UInt32
    /// `ObjectInfoRva` (`_2` only): the first `MINIDUMP_HANDLE_OBJECT_INFORMATION`, 0 when none.
    public var objectInfoRva: UInt32?
    /// `Reserved0` (`_2` only).
    public var reserved0: UInt32?

    /// The type name (`File`, `Event`, ...), nil when `TypeNameRva` is 0.
    public var typeName: String?
    /// The object name, nil when `ObjectNameRva` is 0.
    public var objectName: String?
    /// Names that could not be read (the name is then empty).
    public var warnings: [String]

    /// Size of `MINIDUMP_HANDLE_DESCRIPTOR`.
    public static let size = 32
    /// Size of `MINIDUMP_HANDLE_DESCRIPTOR_2`.
    public static let size2 = 40

    init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MINIDUMP_HANDLE_DESCRIPTOR"
        var reader = dump.reader(bytes)
        handle = try reader.read(UInt64.self, field + ".Handle")
        typeNameRva = try reader.read(UInt32.self, field + ".TypeNameRva")
        objectNameRva = try reader.read(UInt32.self, field + ".ObjectNameRva")
        attributes = try reader.read(UInt32.self, field + ".Attributes")
        grantedAccess = try reader.read(UInt32.self, field + ".GrantedAccess")
        handleCount = try reader.read(UInt32.self, field + ".HandleCount")
        pointerCount = try reader.read(UInt32.self, field + ".PointerCount")
        if bytes.count >= Self.size2 {
            objectInfoRva = try reader.read(UInt32.self, field + "_2.ObjectInfoRva")
            reserved0 = try reader.read(UInt32.self, field + "_2.Reserved0")
        }
        var warnings = [String]()
        func name(_ rva: UInt32, _ name: String) -> String? {
            guard rva != 0 else { return nil }
            do {
                return try dump.string(at: rva, field: field + "." + name)
            } catch {
                warnings.append(error.description)
                return ""
            }
        }
        typeName = name(typeNameRva, "TypeNameRva")
        objectName = name(objectNameRva, "ObjectNameRva")
        self.warnings = warnings
    }
}

/// `MINIDUMP_HANDLE_DATA_STREAM` (16-byte header): the process's open handles.
public struct HandleDataStream: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.handleData

    /// `SizeOfHeader`.
    public var sizeOfHeader: UInt32
    /// `SizeOfDescriptor`: 32 (`MINIDUMP_HANDLE_DESCRIPTOR`) or 40 (`_2`).
    public var sizeOfDescriptor: UInt32
    /// `NumberOfDescriptors`.
    public var numberOfDescriptors: UInt32
    /// `Reserved`.
    public var reserved: UInt32
    /// The handles in stream order.
    public var handles: [HandleDescriptor]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MINIDUMP_HANDLE_DATA_STREAM"
        var reader = dump.reader(bytes)
        sizeOfHeader = try reader.read(UInt32.self, field + ".SizeOfHeader")
        sizeOfDescriptor = try reader.read(UInt32.self, field + ".SizeOfDescriptor")
        numberOfDescriptors = try reader.read(UInt32.self, field + ".NumberOfDescriptors")
        reserved = try reader.read(UInt32.self, field + ".Reserved")
        let entries = try dump.sizedListEntries(bytes, minimumEntrySize: HandleDescriptor.size, field: field)
        var handles = [HandleDescriptor]()
        handles.reserveCapacity(entries.count)
        for entry in entries {
            handles.append(try HandleDescriptor(parsing: entry, in: dump))
        }
        self.handles = handles
    }
}
