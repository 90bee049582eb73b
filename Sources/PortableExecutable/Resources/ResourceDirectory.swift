import BinaryReading

/// A resource type, name or language: a number, or a string for named entries.
public enum ResourceName: Sendable, Hashable {
    /// An integer id (`RT_VERSION` is 16).
    case id(UInt32)
    /// A name (`IMAGE_RESOURCE_DIR_STRING_U`).
    case name(String)
}

/// `IMAGE_RESOURCE_DIRECTORY` (16 bytes) and its `IMAGE_RESOURCE_DIRECTORY_ENTRY` (8 bytes each) entries.
public struct ResourceDirectoryTable: Sendable, Equatable {
    /// `Characteristics`.
    public var characteristics: UInt32
    /// `TimeDateStamp`.
    public var timeDateStamp: UInt32
    /// `MajorVersion`.
    public var majorVersion: UInt16
    /// `MinorVersion`.
    public var minorVersion: UInt16
    /// `NumberOfNamedEntries`.
    public var numberOfNamedEntries: UInt16
    /// `NumberOfIdEntries`.
    public var numberOfIDEntries: UInt16
    /// The entries, named ones first, as stored.
    public var entries: [ResourceDirectoryEntry]

    /// Reads the table at `offset` in the resource section `data`.
    public init(parsing data: ByteView, at offset: Int) throws(ParseError) {
        var reader = data.reader(at: offset)
        let p = "IMAGE_RESOURCE_DIRECTORY"
        guard data.contains(offset: offset, size: 16) else {
            throw ParseError(
                offset: data.fileOffset &+ Int64(offset), field: p,
                kind: .outOfBounds(
                    offset: data.fileOffset &+ Int64(offset), size: 16,
                    fileSize: data.fileOffset + Int64(data.count)))
        }
        characteristics = try reader.read(UInt32.self, p + ".Characteristics")
        timeDateStamp = try reader.read(UInt32.self, p + ".TimeDateStamp")
        majorVersion = try reader.read(UInt16.self, p + ".MajorVersion")
        minorVersion = try reader.read(UInt16.self, p + ".MinorVersion")
        numberOfNamedEntries = try reader.read(UInt16.self, p + ".NumberOfNamedEntries")
        numberOfIDEntries = try reader.read(UInt16.self, p + ".NumberOfIdEntries")
        let count = Int(numberOfNamedEntries) + Int(numberOfIDEntries)
        try reader.checkCount(count, elementSize: 8, p + ".NumberOfIdEntries")
        var entries = [ResourceDirectoryEntry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            entries.append(try ResourceDirectoryEntry(parsing: &reader, in: data))
        }
        self.entries = entries
    }
}

/// `IMAGE_RESOURCE_DIRECTORY_ENTRY` (8 bytes): a name or id and the offset of a subdirectory or data entry.
public struct ResourceDirectoryEntry: Sendable, Equatable {
    /// The decoded name or id.
    public var name: ResourceName
    /// `OffsetToData` without its high bit: offset from the start of the resource section.
    public var offset: UInt32
    /// High bit of `OffsetToData`: the entry leads to another directory table.
    public var isDirectory: Bool

    /// Reads one entry; a name string is read from `data` (the resource section).
    public init(parsing reader: inout ByteReader, in data: ByteView) throws(ParseError) {
        let nameField = try reader.read(UInt32.self, "IMAGE_RESOURCE_DIRECTORY_ENTRY.Name")
        let target = try reader.read(UInt32.self, "IMAGE_RESOURCE_DIRECTORY_ENTRY.OffsetToData")
        if nameField & 0x8000_0000 != 0 {
            // IMAGE_RESOURCE_DIR_STRING_U: a WORD length then UTF-16 characters.
            let at = Int(nameField & 0x7FFF_FFFF)
            let length = try data.load(UInt16.self, at: at, field: "IMAGE_RESOURCE_DIR_STRING_U.Length")
            let chars = try data.slice(offset: at + 2, size: Int(length) * 2, field: "IMAGE_RESOURCE_DIR_STRING_U.NameString")
            name = .name(chars.utf16String())
        } else {
            name = .id(nameField)
        }
        offset = target & 0x7FFF_FFFF
        isDirectory = target & 0x8000_0000 != 0
    }
}

/// `IMAGE_RESOURCE_DATA_ENTRY` (16 bytes): where one resource's bytes are.
public struct ResourceDataEntry: Sendable, Equatable {
    /// `OffsetToData`: an RVA (not an offset into the section, despite the name).
    public var offsetToData: UInt32
    /// `Size`.
    public var size: UInt32
    /// `CodePage`.
    public var codePage: UInt32
    /// `Reserved`.
    public var reserved: UInt32
    /// The path that led here: type, name, language.
    public var path: [ResourceName]

    /// Reads the entry at `offset` in the resource section `data`.
    public init(parsing data: ByteView, at offset: Int, path: [ResourceName]) throws(ParseError) {
        var reader = try data.slice(offset: offset, size: 16, field: "IMAGE_RESOURCE_DATA_ENTRY").reader()
        offsetToData = try reader.read(UInt32.self, "IMAGE_RESOURCE_DATA_ENTRY.OffsetToData")
        size = try reader.read(UInt32.self, "IMAGE_RESOURCE_DATA_ENTRY.Size")
        codePage = try reader.read(UInt32.self, "IMAGE_RESOURCE_DATA_ENTRY.CodePage")
        reserved = try reader.read(UInt32.self, "IMAGE_RESOURCE_DATA_ENTRY.Reserved")
        self.path = path
    }
}

/// Resource type ids from winuser.h.
public enum ResourceType {
    /// `RT_ICON`.
    public static let icon: UInt32 = 3
    /// `RT_STRING`.
    public static let string: UInt32 = 6
    /// `RT_VERSION`.
    public static let version: UInt32 = 16
    /// `RT_MANIFEST`.
    public static let manifest: UInt32 = 24
}

extension PEImage {
    /// The leaf data entries of the resource tree under type `type` (type → name → language).
    ///
    /// The tree is read three levels deep, as the loader does, so a cycle of directory offsets
    /// cannot make the walk endless; each table is read once, so tables shared by many entries
    /// (a crafted file can point 131070 entries at one 131070-entry table) cannot make it quadratic.
    public func resources(ofType type: ResourceName) throws(ParseError) -> [ResourceDataEntry] {
        guard let data = try directoryBytes(.resource, field: "IMAGE_DIRECTORY_ENTRY_RESOURCE") else { return [] }
        let root = try ResourceDirectoryTable(parsing: data, at: 0)
        var found = [ResourceDataEntry]()
        var visited: Set<UInt32> = [0]
        for typeEntry in root.entries where typeEntry.name == type && typeEntry.isDirectory {
            guard visited.insert(typeEntry.offset).inserted else { continue }
            let names = try ResourceDirectoryTable(parsing: data, at: Int(typeEntry.offset))
            for nameEntry in names.entries {
                guard !nameEntry.isDirectory || visited.insert(nameEntry.offset).inserted else { continue }
                guard nameEntry.isDirectory else {
                    found.append(try ResourceDataEntry(parsing: data, at: Int(nameEntry.offset), path: [type, nameEntry.name]))
                    continue
                }
                let languages = try ResourceDirectoryTable(parsing: data, at: Int(nameEntry.offset))
                for languageEntry in languages.entries where !languageEntry.isDirectory {
                    found.append(
                        try ResourceDataEntry(
                            parsing: data, at: Int(languageEntry.offset), path: [type, nameEntry.name, languageEntry.name]))
                }
            }
        }
        return found
    }

    /// The bytes of one resource.
    public func resourceBytes(_ entry: ResourceDataEntry) throws(ParseError) -> ByteView {
        try bytes(atRVA: entry.offsetToData, size: entry.size, field: "IMAGE_RESOURCE_DATA_ENTRY.OffsetToData")
    }
}
