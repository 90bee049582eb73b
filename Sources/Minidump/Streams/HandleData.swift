import BinaryReading

/// `MINIDUMP_HANDLE_OBJECT_INFORMATION_TYPE`; unknown values survive.
public struct HandleObjectInformationType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    static let names = [
        "MiniHandleObjectInformationNone", "MiniThreadInformation1", "MiniMutantInformation1", "MiniMutantInformation2",
        "MiniProcessInformation1", "MiniProcessInformation2", "MiniEventInformation1", "MiniSectionInformation1",
        "MiniSemaphoreInformation1",
    ]

    /// The C name, or `0x…` for an unknown value.
    public var description: String {
        rawValue < Self.names.count ? Self.names[Int(rawValue)] : hex0x(rawValue)
    }
}

/// `MINIDUMP_HANDLE_OBJECT_INFORMATION` (12-byte header, then `SizeOfInfo` bytes): one link of a
/// handle's chain of type-specific information.
public struct HandleObjectInformation: Sendable, Equatable, Codable {
    /// `NextInfoRva`: the next link, 0 at the end.
    public var nextInfoRva: UInt32
    /// `InfoType`.
    public var infoType: HandleObjectInformationType
    /// `SizeOfInfo`: bytes of information after this header (8 for an event in WinDbg's dumps).
    public var sizeOfInfo: UInt32
    /// The information bytes (their layout is per type and not published).
    public var info: [UInt8]

    /// Size of the header.
    public static let headerSize = 12
}

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
    /// The chain at `ObjectInfoRva`, in order (empty when there is none).
    public var objectInformation: [HandleObjectInformation]
    /// Names or information links that could not be read (the name is then empty, the chain cut).
    public var warnings: [String]

    /// Longest object information chain followed; a longer one (or a loop) is cut with a warning.
    public static let maximumObjectInformationChain = 64

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
        objectInformation = Self.objectInformationChain(from: objectInfoRva ?? 0, in: dump, warnings: &warnings)
        self.warnings = warnings
    }
}

extension HandleDescriptor {
    /// Follows a chain of `MINIDUMP_HANDLE_OBJECT_INFORMATION` links; damage ends the chain with a warning.
    static func objectInformationChain(
        from firstRva: UInt32, in dump: MinidumpFile, warnings: inout [String]
    ) -> [HandleObjectInformation] {
        let field = "MINIDUMP_HANDLE_OBJECT_INFORMATION"
        var chain = [HandleObjectInformation]()
        var visited = Set<UInt32>()
        var rva = firstRva
        while rva != 0 {
            guard chain.count < maximumObjectInformationChain, visited.insert(rva).inserted else {
                warnings.append(
                    "\(field) chain at \(hex0x(firstRva)) loops or is longer than \(maximumObjectInformationChain) links; cut")
                break
            }
            do throws(ParseError) {
                guard rva <= dump.bytes.count else {
                    throw ParseError(
                        offset: Int64(rva), field: field,
                        kind: .outOfBounds(offset: Int64(rva), size: 12, fileSize: Int64(dump.bytes.count)))
                }
                var reader = dump.reader(dump.bytes, at: Int(rva))
                let next = try reader.read(UInt32.self, field + ".NextInfoRva")
                let type = try reader.read(UInt32.self, field + ".InfoType")
                let size = try reader.read(UInt32.self, field + ".SizeOfInfo")
                let info = try reader.readBytes(size, field + " information")
                chain.append(
                    HandleObjectInformation(
                        nextInfoRva: next, infoType: HandleObjectInformationType(rawValue: type), sizeOfInfo: size,
                        info: info.array))
                rva = next
            } catch {
                warnings.append(error.description)
                break
            }
        }
        return chain
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
