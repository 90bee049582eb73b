import BinaryReading

/// Field offsets of the PE/COFF headers the writer fills in, from the PE/COFF specification
/// ("Optional Header Standard Fields", "Optional Header Windows-Specific Fields", "Section Table").
///
/// Sizes that the reader already declares (`FileHeader.size`, `SectionHeader.size`,
/// `DebugDirectoryEntry.size`, ...) are taken from there.
enum PEOffsets {
    /// `IMAGE_DOS_HEADER.e_lfanew`.
    static let dosNewHeader = 0x3C
    /// `IMAGE_FILE_HEADER` fields, from the start of the file header.
    static let fileNumberOfSections = 2
    static let fileTimeDateStamp = 4
    static let filePointerToSymbolTable = 8
    static let fileNumberOfSymbols = 12
    static let fileSizeOfOptionalHeader = 16
    static let fileCharacteristics = 18
    /// Optional header sizes with all 16 data directories.
    static let optionalHeader32Size = 224
    static let optionalHeader64Size = 240
    /// Optional header fields, from the start of the optional header (same in both forms unless noted).
    static let optionalMagic = 0
    static let optionalLinkerVersion = 2
    static let optionalSizeOfCode = 4
    static let optionalSizeOfInitializedData = 8
    static let optionalAddressOfEntryPoint = 16
    static let optionalBaseOfCode = 20
    /// PE32 only.
    static let optionalBaseOfData32 = 24
    static let optionalImageBase32 = 28
    static let optionalImageBase64 = 24
    static let optionalSectionAlignment = 32
    static let optionalFileAlignment = 36
    static let optionalOperatingSystemVersion = 40
    static let optionalSubsystemVersion = 48
    static let optionalSizeOfImage = 56
    static let optionalSizeOfHeaders = 60
    static let optionalCheckSum = OptionalHeader.checkSumOffset
    static let optionalSubsystem = 68
    static let optionalDLLCharacteristics = 70
    static let optionalStackReserve = 72
    static let optionalNumberOfRvaAndSizes32 = 92
    static let optionalNumberOfRvaAndSizes64 = 108
    static let optionalDataDirectory32 = 96
    static let optionalDataDirectory64 = 112
    /// `IMAGE_SECTION_HEADER` fields.
    static let sectionVirtualSize = 8
    static let sectionVirtualAddress = 12
    static let sectionSizeOfRawData = 16
    static let sectionPointerToRawData = 20
    static let sectionCharacteristics = 36
}

/// One section header to write.
struct SectionEntry {
    var name: String
    var virtualSize: UInt32
    var virtualAddress: UInt32
    var sizeOfRawData: UInt32
    var pointerToRawData: UInt32
    var characteristics: SectionCharacteristics

    /// The 40 bytes of its `IMAGE_SECTION_HEADER`.
    var encoded: [UInt8] {
        var out = Array(name.utf8.prefix(8))
        out += [UInt8](repeating: 0, count: 8 - out.count)
        out += littleEndian(virtualSize) + littleEndian(virtualAddress)
        out += littleEndian(sizeOfRawData) + littleEndian(pointerToRawData)
        out += [UInt8](repeating: 0, count: 12)  // relocations, line numbers and their counts
        out += littleEndian(characteristics.rawValue)
        return out
    }
}

/// The metadata a rescued image rebuilds from the dump's records: a debug directory with the
/// CodeView and Misc records, and a resource tree holding one `RT_VERSION` resource.
///
/// Laid out as one block: debug directory entries, CodeView record, Misc record, resource tree,
/// each 4-byte aligned (the resource tree 8-byte aligned).
struct RescueMetadata {
    var timeDateStamp: UInt32
    var codeView: [UInt8]
    var misc: [UInt8]?
    /// The 13 `VS_FIXEDFILEINFO` DWORDs, nil when the image gets no version resource.
    var fixedFileInfo: [UInt32]?

    /// `VS_VERSIONINFO` header: wLength, wValueLength, wType, "VS_VERSION_INFO\0" in UTF-16, padding to 4.
    static let versionInfoKey = "VS_VERSION_INFO"
    /// Root, type and name directories (16 bytes each with one 8-byte entry) and one data entry (16 bytes).
    static let resourceTreeSize = 3 * (16 + 8) + 16
    /// `LANG_NEUTRAL`: the dump does not say which language the version resource was in.
    static let resourceLanguage: UInt32 = 0

    /// The block as placed at `rva`, and the directories pointing into it.
    struct Placed {
        var bytes: [UInt8]
        var debug: DataDirectory?
        var resource: DataDirectory?
    }

    var hasDebugData: Bool { !codeView.isEmpty || misc != nil }

    /// The `VS_VERSIONINFO` resource: the fixed file info, a `StringFileInfo` table with the
    /// `FileVersion` and `ProductVersion` strings spelled from it, and `VarFileInfo\Translation`.
    ///
    /// The string table and translation are there because readers expect them: pefile reports a
    /// version resource without children as corrupt. Language neutral, code page 1200 (UTF-16).
    var versionResource: [UInt8]? {
        guard let words = fixedFileInfo, words.count >= 13 else { return nil }
        var fixed = [UInt8]()
        for value in words.prefix(13) { fixed += littleEndian(value) }
        func dotted(_ high: UInt32, _ low: UInt32) -> String {
            "\(high >> 16).\(high & 0xFFFF).\(low >> 16).\(low & 0xFFFF)"
        }
        func text(_ string: String) -> [UInt8] {
            (Array(string.utf16) + [0]).flatMap { littleEndian($0) }
        }
        let strings = [("FileVersion", dotted(words[2], words[3])), ("ProductVersion", dotted(words[4], words[5]))]
        let table = Self.versionNode(
            key: "000004B0", value: [], valueLength: 0, isText: true,
            children: strings.map { key, value in
                Self.versionNode(
                    key: key, value: text(value), valueLength: value.utf16.count + 1, isText: true, children: [])
            })
        let stringFileInfo = Self.versionNode(key: "StringFileInfo", value: [], valueLength: 0, isText: true, children: [table])
        // Translation: WORD language (neutral), WORD code page (1200, Unicode).
        let translation = Self.versionNode(
            key: "Translation", value: littleEndian(UInt16(0)) + littleEndian(UInt16(1200)), valueLength: 4,
            isText: false, children: [])
        let varFileInfo = Self.versionNode(key: "VarFileInfo", value: [], valueLength: 0, isText: true, children: [translation])
        return Self.versionNode(
            key: Self.versionInfoKey, value: fixed, valueLength: VSFixedFileInfo.size, isText: false,
            children: [stringFileInfo, varFileInfo])
    }

    /// One version resource node: `wLength`, `wValueLength`, `wType`, `szKey`, padding, `Value`,
    /// then each child 4-byte aligned; `wLength` counts everything but trailing padding.
    static func versionNode(key: String, value: [UInt8], valueLength: Int, isText: Bool, children: [[UInt8]]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 6)
        for unit in Array(key.utf16) + [0] { out += littleEndian(unit) }
        while out.count % 4 != 0 { out.append(0) }
        out += value
        for child in children {
            while out.count % 4 != 0 { out.append(0) }
            out += child
        }
        out.replaceSubrange(0..<2, with: littleEndian(UInt16(truncatingIfNeeded: out.count)))
        out.replaceSubrange(2..<4, with: littleEndian(UInt16(truncatingIfNeeded: valueLength)))
        out.replaceSubrange(4..<6, with: littleEndian(UInt16(isText ? 1 : 0)))
        return out
    }

    /// The size of the block with the parts selected.
    func size(debug: Bool, version: Bool) -> Int {
        layout(at: 0, debug: debug, version: version).bytes.count
    }

    /// Lays out the selected parts for RVA `rva` (which is also their file offset).
    func layout(at rva: UInt32, debug: Bool, version: Bool) -> Placed {
        var out = [UInt8]()
        var debugDirectory: DataDirectory?
        var resourceDirectory: DataDirectory?
        func pad(to alignment: Int) {
            while out.count % alignment != 0 { out.append(0) }
        }
        func rvaOf(_ offset: Int) -> UInt32 { rva &+ UInt32(truncatingIfNeeded: offset) }

        if debug && hasDebugData {
            var records: [(DebugType, [UInt8])] = []
            if !codeView.isEmpty { records.append((.codeView, codeView)) }
            if let misc { records.append((.misc, misc)) }
            let directorySize = records.count * DebugDirectoryEntry.size
            var dataOffset = directorySize
            var entries = [UInt8]()
            var data = [UInt8]()
            for (type, record) in records {
                dataOffset = Int(alignUp(UInt64(dataOffset), 4))
                while directorySize + data.count < dataOffset { data.append(0) }
                // IMAGE_DEBUG_DIRECTORY: Characteristics, TimeDateStamp, Major/MinorVersion, Type,
                // SizeOfData, AddressOfRawData, PointerToRawData (file offset == RVA here).
                entries += littleEndian(UInt32(0)) + littleEndian(timeDateStamp)
                entries += littleEndian(UInt16(0)) + littleEndian(UInt16(0))
                entries += littleEndian(type.rawValue) + littleEndian(UInt32(record.count))
                entries += littleEndian(rvaOf(dataOffset)) + littleEndian(rvaOf(dataOffset))
                data += record
                dataOffset += record.count
            }
            out = entries + data
            debugDirectory = DataDirectory(virtualAddress: rva, size: UInt32(directorySize))
        }
        if version, let resource = versionResource {
            pad(to: 8)
            let start = out.count
            // IMAGE_RESOURCE_DIRECTORY with one id entry, three levels: type, name, language.
            func directory(id: UInt32, next: Int, isDirectory: Bool) {
                out += [UInt8](repeating: 0, count: 12)  // Characteristics, TimeDateStamp, versions
                out += littleEndian(UInt16(0)) + littleEndian(UInt16(1))  // named, id entries
                out += littleEndian(id)
                out += littleEndian(UInt32(next - start) | (isDirectory ? 0x8000_0000 : 0))
            }
            directory(id: ResourceType.version, next: start + 24, isDirectory: true)
            directory(id: 1, next: start + 48, isDirectory: true)
            directory(id: Self.resourceLanguage, next: start + 72, isDirectory: false)
            // IMAGE_RESOURCE_DATA_ENTRY: OffsetToData is an RVA.
            out += littleEndian(rvaOf(start + Self.resourceTreeSize)) + littleEndian(UInt32(resource.count))
            out += littleEndian(UInt32(0)) + littleEndian(UInt32(0))
            out += resource
            resourceDirectory = DataDirectory(virtualAddress: rvaOf(start), size: UInt32(out.count - start))
        }
        pad(to: 4)
        return Placed(bytes: out, debug: debugDirectory, resource: resourceDirectory)
    }
}
