import BinaryReading

/// `VS_FIXEDFILEINFO` (52 bytes), from verrsrc.h: the fixed part of a version resource.
public struct VSFixedFileInfo: Sendable, Equatable {
    /// `dwSignature`: 0xFEEF04BD.
    public var signature: UInt32
    /// `dwStrucVersion`.
    public var structVersion: UInt32
    /// `dwFileVersionMS`.
    public var fileVersionMS: UInt32
    /// `dwFileVersionLS`.
    public var fileVersionLS: UInt32
    /// `dwProductVersionMS`.
    public var productVersionMS: UInt32
    /// `dwProductVersionLS`.
    public var productVersionLS: UInt32
    /// `dwFileFlagsMask`.
    public var fileFlagsMask: UInt32
    /// `dwFileFlags`.
    public var fileFlags: UInt32
    /// `dwFileOS`.
    public var fileOS: UInt32
    /// `dwFileType`.
    public var fileType: UInt32
    /// `dwFileSubtype`.
    public var fileSubtype: UInt32
    /// `dwFileDateMS`.
    public var fileDateMS: UInt32
    /// `dwFileDateLS`.
    public var fileDateLS: UInt32

    /// `VS_FFI_SIGNATURE`.
    public static let signatureValue: UInt32 = 0xFEEF_04BD
    /// Size on disk.
    public static let size = 52

    /// Reads the structure.
    public init(parsing reader: inout ByteReader) throws(ParseError) {
        let values = try reader.readArray(UInt32.self, count: 13, "VS_FIXEDFILEINFO")
        signature = values[0]
        structVersion = values[1]
        fileVersionMS = values[2]
        fileVersionLS = values[3]
        productVersionMS = values[4]
        productVersionLS = values[5]
        fileFlagsMask = values[6]
        fileFlags = values[7]
        fileOS = values[8]
        fileType = values[9]
        fileSubtype = values[10]
        fileDateMS = values[11]
        fileDateLS = values[12]
    }

    /// The file version as `a.b.c.d`.
    public var fileVersion: String { Self.dotted(fileVersionMS, fileVersionLS) }
    /// The product version as `a.b.c.d`.
    public var productVersion: String { Self.dotted(productVersionMS, productVersionLS) }

    static func dotted(_ high: UInt32, _ low: UInt32) -> String {
        "\(high >> 16).\(high & 0xFFFF).\(low >> 16).\(low & 0xFFFF)"
    }
}

/// A decoded `VS_VERSIONINFO` resource: the fixed file info and the string tables.
public struct VersionInfo: Sendable, Equatable {
    /// One `StringTable`: the strings for one language and code page.
    public struct StringTable: Sendable, Equatable {
        /// `szKey`: language and code page as 8 hex digits, e.g. `040904B0`.
        public var key: String
        /// The `String` children (`szKey`, `Value`) in file order.
        public var strings: [(key: String, value: String)]

        public static func == (lhs: StringTable, rhs: StringTable) -> Bool {
            lhs.key == rhs.key && lhs.strings.map(\.key) == rhs.strings.map(\.key)
                && lhs.strings.map(\.value) == rhs.strings.map(\.value)
        }

        /// The value for `key` (e.g. `CompanyName`, `FileVersion`), if present.
        public subscript(key: String) -> String? { strings.first { $0.key == key }?.value }
    }

    /// `VS_FIXEDFILEINFO`, nil when the resource has none.
    public var fixedFileInfo: VSFixedFileInfo?
    /// The `StringFileInfo` tables.
    public var stringTables: [StringTable]
    /// `VarFileInfo\Translation`: language and code page pairs (low word language).
    public var translations: [UInt32]

    /// Nodes nest four deep (VS_VERSIONINFO → StringFileInfo → StringTable → String); deeper is malformed.
    static let maximumDepth = 4

    /// Decodes a version resource from its bytes.
    public init(parsing data: ByteView) throws(ParseError) {
        let root = try VersionNode(parsing: data, at: 0, depth: 0)
        guard root.key == "VS_VERSION_INFO" else {
            throw ParseError(
                offset: data.fileOffset + 6, field: "VS_VERSIONINFO.szKey",
                kind: .badSignature(expected: "VS_VERSION_INFO", found: root.key))
        }
        if root.value.count >= VSFixedFileInfo.size {
            var reader = root.value.reader()
            fixedFileInfo = try VSFixedFileInfo(parsing: &reader)
        } else {
            fixedFileInfo = nil
        }
        var tables = [StringTable]()
        var translations = [UInt32]()
        for child in root.children {
            if child.key == "StringFileInfo" {
                for table in child.children {
                    tables.append(
                        StringTable(key: table.key, strings: table.children.map { ($0.key, $0.text) }))
                }
            } else if child.key == "VarFileInfo" {
                for variable in child.children where variable.key == "Translation" {
                    var reader = variable.value.reader()
                    while reader.remaining >= 4 {
                        translations.append(try reader.read(UInt32.self, "Var.Value"))
                    }
                }
            }
        }
        stringTables = tables
        self.translations = translations
    }

    /// The first string table's value for `key`.
    public func string(_ key: String) -> String? {
        for table in stringTables { if let value = table[key] { return value } }
        return nil
    }
}

/// One node of a version resource: `wLength`, `wValueLength`, `wType`, `szKey`, padding, `Value`, padding, children.
///
/// `VS_VERSIONINFO`, `StringFileInfo`, `StringTable`, `String`, `VarFileInfo` and `Var` all share this shape.
struct VersionNode {
    var key: String
    var type: UInt16
    var value: ByteView
    /// The bytes from the value's start to the end of the node.
    var valueArea: ByteView
    var children: [VersionNode]

    /// The value as text, up to the first NUL.
    ///
    /// Read up to the NUL rather than by `wValueLength`: some resource compilers count bytes
    /// instead of WCHARs, or mark text values as binary (`wType` 0).
    var text: String { String(valueArea.utf16String().prefix { $0 != "\0" }) }

    /// Reads the node at `offset` of `data`; offsets are 4-aligned relative to the resource start.
    init(parsing data: ByteView, at offset: Int, depth: Int) throws(ParseError) {
        let length = Int(try data.load(UInt16.self, at: offset, field: "VS_VERSIONINFO.wLength"))
        let valueLength = Int(try data.load(UInt16.self, at: offset + 2, field: "VS_VERSIONINFO.wValueLength"))
        type = try data.load(UInt16.self, at: offset + 4, field: "VS_VERSIONINFO.wType")
        guard length >= 6 else {
            throw ParseError(
                offset: data.fileOffset + Int64(offset), field: "VS_VERSIONINFO.wLength",
                kind: .invalidValue("length \(length) is shorter than the node header"))
        }
        // A node never extends past its parent; clip to the bytes present.
        let node = try data.slice(offset: offset, size: min(length, data.count - offset), field: "VS_VERSIONINFO")
        var position = 6
        var units = [UInt16]()
        while position + 2 <= node.count {
            let unit = try node.load(UInt16.self, at: position, field: "VS_VERSIONINFO.szKey")
            position += 2
            if unit == 0 { break }
            units.append(unit)
        }
        key = String(decoding: units, as: UTF16.self)
        position = (position + 3) & ~3
        // wValueLength counts WCHARs for text values and bytes for binary ones.
        let valueBytes = type == 1 ? valueLength * 2 : valueLength
        let valueStart = min(position, node.count)
        valueArea = node.suffix(from: valueStart)
        value = valueArea.prefix(valueBytes)
        position = (valueStart + value.count + 3) & ~3
        var children = [VersionNode]()
        if depth < VersionInfo.maximumDepth {
            while position + 6 <= node.count {
                let child = try VersionNode(parsing: node, at: position, depth: depth + 1)
                children.append(child)
                let childLength = Int(try node.load(UInt16.self, at: position, field: "VS_VERSIONINFO.wLength"))
                position = (position + childLength + 3) & ~3
            }
        }
        self.children = children
    }
}

extension PEImage {
    /// The version resource (`RT_VERSION`, the first one found), or nil when the image has none.
    public func versionInfo() throws(ParseError) -> VersionInfo? {
        guard let entry = try resources(ofType: .id(ResourceType.version)).first else { return nil }
        return try VersionInfo(parsing: resourceBytes(entry))
    }
}
