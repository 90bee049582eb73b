import BinaryReading

/// `TpiStreamHeader` (56 bytes): the header of the TPI (types) and IPI (ids) streams (LLVM's `TpiStream.html`).
public struct TPIStreamHeader: Sendable, Equatable {
    /// `Version`: 20040203 (`V80`) in current files.
    public var version: UInt32
    /// `HeaderSize`.
    public var headerSize: UInt32
    /// `TypeIndexBegin`: usually 0x1000.
    public var typeIndexBegin: UInt32
    /// `TypeIndexEnd`.
    public var typeIndexEnd: UInt32
    /// `TypeRecordBytes`.
    public var typeRecordBytes: UInt32
    /// `HashStreamIndex`.
    public var hashStreamIndex: UInt16
    /// `HashAuxStreamIndex`.
    public var hashAuxStreamIndex: UInt16
    /// `HashKeySize`.
    public var hashKeySize: UInt32
    /// `NumHashBuckets`.
    public var numHashBuckets: UInt32
    /// `HashValueBufferOffset`.
    public var hashValueBufferOffset: Int32
    /// `HashValueBufferLength`.
    public var hashValueBufferLength: UInt32
    /// `IndexOffsetBufferOffset`.
    public var indexOffsetBufferOffset: Int32
    /// `IndexOffsetBufferLength`.
    public var indexOffsetBufferLength: UInt32
    /// `HashAdjBufferOffset`.
    public var hashAdjBufferOffset: Int32
    /// `HashAdjBufferLength`.
    public var hashAdjBufferLength: UInt32

    /// Size on disk.
    public static let size = 56

    public init(parsing reader: inout ByteReader) throws(ParseError) {
        version = try reader.read(UInt32.self, "TpiStreamHeader.Version")
        headerSize = try reader.read(UInt32.self, "TpiStreamHeader.HeaderSize")
        typeIndexBegin = try reader.read(UInt32.self, "TpiStreamHeader.TypeIndexBegin")
        typeIndexEnd = try reader.read(UInt32.self, "TpiStreamHeader.TypeIndexEnd")
        typeRecordBytes = try reader.read(UInt32.self, "TpiStreamHeader.TypeRecordBytes")
        hashStreamIndex = try reader.read(UInt16.self, "TpiStreamHeader.HashStreamIndex")
        hashAuxStreamIndex = try reader.read(UInt16.self, "TpiStreamHeader.HashAuxStreamIndex")
        hashKeySize = try reader.read(UInt32.self, "TpiStreamHeader.HashKeySize")
        numHashBuckets = try reader.read(UInt32.self, "TpiStreamHeader.NumHashBuckets")
        hashValueBufferOffset = try reader.read(Int32.self, "TpiStreamHeader.HashValueBufferOffset")
        hashValueBufferLength = try reader.read(UInt32.self, "TpiStreamHeader.HashValueBufferLength")
        indexOffsetBufferOffset = try reader.read(Int32.self, "TpiStreamHeader.IndexOffsetBufferOffset")
        indexOffsetBufferLength = try reader.read(UInt32.self, "TpiStreamHeader.IndexOffsetBufferLength")
        hashAdjBufferOffset = try reader.read(Int32.self, "TpiStreamHeader.HashAdjBufferOffset")
        hashAdjBufferLength = try reader.read(UInt32.self, "TpiStreamHeader.HashAdjBufferLength")
    }
}

/// CodeView type and id record kinds (`LEAF_ENUM_e` in cvinfo.h) that this reader names.
public struct TypeLeafKind: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `LF_CLASS`.
    public static let `class` = TypeLeafKind(rawValue: 0x1504)
    /// `LF_STRUCTURE`.
    public static let structure = TypeLeafKind(rawValue: 0x1505)
    /// `LF_UNION`.
    public static let union = TypeLeafKind(rawValue: 0x1506)
    /// `LF_ENUM`.
    public static let `enum` = TypeLeafKind(rawValue: 0x1507)
    /// `LF_INTERFACE`.
    public static let interface = TypeLeafKind(rawValue: 0x1519)
    /// `LF_FUNC_ID`: a function's id (parent scope, type, name).
    public static let funcID = TypeLeafKind(rawValue: 0x1601)
    /// `LF_MFUNC_ID`: a member function's id (class type, type, name).
    public static let memberFuncID = TypeLeafKind(rawValue: 0x1602)
    /// `LF_BUILDINFO`.
    public static let buildInfo = TypeLeafKind(rawValue: 0x1603)
    /// `LF_STRING_ID`: a string (namespaces, build info parts).
    public static let stringID = TypeLeafKind(rawValue: 0x1605)
}

/// A TPI or IPI stream: the header and an index of the records by type index, built by one walk.
public struct TypeStream: Sendable {
    /// The header.
    public var header: TPIStreamHeader
    /// The record bytes (`TypeRecordBytes` after the header).
    public let records: ByteView
    /// Offset in `records` of each record, by `typeIndex - typeIndexBegin`.
    public let offsets: [UInt32]

    /// Decodes the header and indexes every record (`RecordLen` u16, `RecordKind` u16, data).
    public init(parsing bytes: ByteView) throws(ParseError) {
        var reader = bytes.reader()
        header = try TPIStreamHeader(parsing: &reader)
        guard header.headerSize >= UInt32(TPIStreamHeader.size), header.headerSize <= bytes.count else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: "TpiStreamHeader.HeaderSize",
                kind: .invalidValue("\(header.headerSize)"))
        }
        reader.position = Int(header.headerSize)
        records = try reader.readBytes(header.typeRecordBytes, "TPI type records")
        guard header.typeIndexBegin <= header.typeIndexEnd else {
            throw ParseError(
                offset: bytes.fileOffset + 8, field: "TpiStreamHeader.TypeIndexBegin",
                kind: .invalidValue(
                    "begin 0x\(String(header.typeIndexBegin, radix: 16)) after end 0x\(String(header.typeIndexEnd, radix: 16))"))
        }
        let expected = Int(header.typeIndexEnd - header.typeIndexBegin)
        // Each record takes at least 4 bytes: the count is checked before the array grows.
        guard expected <= records.count / 4 else {
            throw ParseError(
                offset: bytes.fileOffset + 12, field: "TpiStreamHeader.TypeIndexEnd",
                kind: .countTooLarge(count: Int64(expected), limit: Int64(records.count / 4)))
        }
        var offsets = [UInt32]()
        offsets.reserveCapacity(expected)
        var walker = records.reader()
        while !walker.isAtEnd, offsets.count < expected {
            offsets.append(UInt32(walker.position))
            let length = try walker.read(UInt16.self, "type record RecordLen")
            guard length >= 2 else {
                throw ParseError(offset: walker.fileOffset - 2, field: "type record RecordLen", kind: .invalidValue("\(length)"))
            }
            try walker.skip(Int(length), "type record")
        }
        self.offsets = offsets
    }

    /// The kind and data (after the kind) of the record with `typeIndex`, or nil when out of range.
    public func record(_ typeIndex: UInt32) -> (kind: TypeLeafKind, data: ByteView)? {
        guard typeIndex >= header.typeIndexBegin else { return nil }
        let position = Int(typeIndex - header.typeIndexBegin)
        guard position < offsets.count else { return nil }
        var reader = records.reader(at: Int(offsets[position]))
        guard let length = try? reader.read(UInt16.self, "RecordLen"),
            let kind = try? reader.read(UInt16.self, "RecordKind"),
            let data = try? reader.readBytes(Int(length) - 2, "record")
        else { return nil }
        return (TypeLeafKind(rawValue: kind), data)
    }

    /// The name a type or id record carries: classes, structures, unions, enums, interfaces,
    /// function ids and string ids. Nil for other kinds and damaged records.
    public func name(of typeIndex: UInt32) -> String? {
        guard let (kind, data) = record(typeIndex) else { return nil }
        var reader = data.reader()
        switch kind {
        case .funcID, .memberFuncID:
            guard (try? reader.skip(8, "id")) != nil else { return nil }
            return try? reader.readCString("name")
        case .stringID:
            guard (try? reader.skip(4, "id")) != nil else { return nil }
            return try? reader.readCString("name")
        case .class, .structure, .interface:
            // count u16, property u16, field list, derived, vshape (u32 each), then a numeric leaf (size), name.
            guard (try? reader.skip(16, "class")) != nil, (try? Self.skipNumeric(&reader)) != nil else { return nil }
            return try? reader.readCString("name")
        case .union:
            // count u16, property u16, field list u32, numeric leaf (size), name.
            guard (try? reader.skip(8, "union")) != nil, (try? Self.skipNumeric(&reader)) != nil else { return nil }
            return try? reader.readCString("name")
        case .enum:
            // count u16, property u16, underlying type u32, field list u32, name.
            guard (try? reader.skip(12, "enum")) != nil else { return nil }
            return try? reader.readCString("name")
        default:
            return nil
        }
    }

    /// Skips a CodeView numeric leaf: a u16 below `LF_NUMERIC` (0x8000) is the value itself,
    /// otherwise it names the size of the value that follows.
    static func skipNumeric(_ reader: inout ByteReader) throws(ParseError) {
        let leaf = try reader.read(UInt16.self, "numeric leaf")
        guard leaf >= 0x8000 else { return }
        let size: Int
        switch leaf {
        case 0x8000: size = 1  // LF_CHAR
        case 0x8001, 0x8002: size = 2  // LF_SHORT, LF_USHORT
        case 0x8003, 0x8004, 0x8005: size = 4  // LF_LONG, LF_ULONG, LF_REAL32
        case 0x8006, 0x8009, 0x800A: size = 8  // LF_REAL64, LF_QUADWORD, LF_UQUADWORD
        case 0x8007: size = 10  // LF_REAL80
        case 0x8008, 0x8017, 0x8018: size = 16  // LF_REAL128, LF_OCTWORD, LF_UOCTWORD
        default:
            throw ParseError(
                offset: reader.fileOffset - 2, field: "numeric leaf", kind: .invalidValue("0x" + String(leaf, radix: 16)))
        }
        try reader.skip(size, "numeric leaf value")
    }

    /// The name of an inlinee (an `LF_FUNC_ID` or `LF_MFUNC_ID` in the IPI), qualified the way
    /// LLVM's symbolizer qualifies it: a function id's parent scope (an id) or a member function
    /// id's class (a type in `types`), then `::`, then the name.
    public func inlineeName(_ id: UInt32, types: TypeStream?) -> String? {
        guard let (kind, data) = record(id) else { return nil }
        guard kind == .funcID || kind == .memberFuncID,
            let scope = try? data.load(UInt32.self, at: 0, field: "scope"),
            let name = self.name(of: id)
        else { return nil }
        if kind == .memberFuncID, let className = types?.name(of: scope) {
            return className + "::" + name
        }
        if kind == .funcID, scope != 0, let scopeName = self.name(of: scope) {
            return scopeName + "::" + name
        }
        return name
    }
}
