import BinaryReading

extension RescueImageBuilder {
    /// Keeps the module's own headers when the dump captured its header page and it matches the
    /// record (machine, `TimeDateStamp`, `SizeOfImage`, PE32/PE32+); returns false, with a note
    /// saying why, when they cannot be used (the caller then writes headers from scratch).
    ///
    /// The headers are rewritten for the memory layout: `FileAlignment := SectionAlignment`,
    /// each section's `PointerToRawData := VirtualAddress` and `SizeOfRawData :=` its aligned
    /// virtual size clipped to `SizeOfImage`. The module's debug directory is kept when it and
    /// its CodeView record were captured and the record is the dump's; its version resource when
    /// captured and equal to the dump's `VS_FIXEDFILEINFO`. What cannot be kept is rebuilt in a
    /// `.rescue` section at the end of the image; data directories whose bytes were not captured,
    /// or were replaced, are cleared.
    static func adoptCapturedHeaders(
        _ spec: RescueImageSpec, wide: Bool, metadata: RescueMetadata, buffer: inout ImageBuffer,
        notes: inout [String]
    ) -> Bool {
        func reject(_ why: String) -> Bool {
            notes.append("captured header page not used (\(why)): headers rebuilt")
            return false
        }
        var kept = [String]()
        let sizeOfImage = UInt64(spec.sizeOfImage)
        let fileEnd = UInt64(buffer.count)

        // Headers fit in the first 64 KiB of any image the loader accepts.
        let header: PEImage
        do {
            header = try PEImage(bytes: MappedFile(bytes: buffer.bytes.prefix(0x1_0000)).bytes)
        } catch {
            return reject("not a valid PE: \(error)")
        }
        let optional = header.optionalHeader
        guard header.machine == spec.machine else { return reject("machine \(header.machine), the dump says \(spec.machine)") }
        guard header.fileHeader.timeDateStamp == spec.timeDateStamp else {
            return reject("TimeDateStamp 0x\(hex(header.fileHeader.timeDateStamp)), the dump says 0x\(hex(spec.timeDateStamp))")
        }
        guard optional.sizeOfImage == spec.sizeOfImage else {
            return reject("SizeOfImage 0x\(hex(optional.sizeOfImage)), the dump says 0x\(hex(spec.sizeOfImage))")
        }
        guard header.isPE32Plus == wide else { return reject("optional header magic 0x\(hex(optional.magic))") }
        let alignment = UInt64(optional.sectionAlignment)
        guard alignment >= minimumAlignment, alignment <= 0x1_0000, alignment & (alignment - 1) == 0,
            sizeOfImage % alignment == 0
        else { return reject("SectionAlignment 0x\(hex(alignment)) does not suit SizeOfImage 0x\(hex(sizeOfImage))") }
        guard optional.dataDirectories.count == OptionalHeader.maximumDirectories else {
            return reject("it has \(optional.dataDirectories.count) data directories, not 16")
        }
        let file = Int(header.dosHeader.newHeaderOffset) + 4
        let optionalStart = file + FileHeader.size
        let table = optionalStart + Int(header.fileHeader.sizeOfOptionalHeader)
        let sections = header.sections
        let tableEnd = table + sections.count * SectionHeader.size
        guard buffer.captured.covers(0, UInt64(tableEnd)) else { return reject("the section table was not captured") }
        guard let firstSection = sections.first, sections.count <= 96 else {
            return reject("\(sections.count) sections")
        }
        var previousEnd = UInt64(tableEnd)
        for section in sections {
            let start = UInt64(section.virtualAddress)
            guard start % alignment == 0, start >= previousEnd, start < sizeOfImage else {
                return reject("section \(section.name) at RVA 0x\(hex(start)) is out of order, unaligned or outside the image")
            }
            previousEnd = start + alignUp(UInt64(section.memorySize), alignment)
        }
        // SizeOfHeaders must cover the section table, whatever the captured value says.
        let headersEnd = min(
            alignUp(max(UInt64(optional.sizeOfHeaders), UInt64(tableEnd)), alignment), UInt64(firstSection.virtualAddress))

        // Header fields that describe the file rather than the module, and the record's identity.
        let optionalField = { (offset: Int) in optionalStart + offset }
        buffer.put32(UInt32(alignment), at: optionalField(PEOffsets.optionalFileAlignment))
        buffer.put32(UInt32(headersEnd), at: optionalField(PEOffsets.optionalSizeOfHeaders))
        if optional.checkSum != spec.checkSum {
            kept.append("CheckSum 0x\(hex(optional.checkSum)) replaced by the dump's 0x\(hex(spec.checkSum))")
            buffer.put32(spec.checkSum, at: optionalField(PEOffsets.optionalCheckSum))
        }
        if optional.imageBase != spec.imageBase {
            kept.append("ImageBase 0x\(hex(optional.imageBase)) replaced by the load address 0x\(hex(spec.imageBase))")
            if wide {
                buffer.put64(spec.imageBase, at: optionalField(PEOffsets.optionalImageBase64))
            } else {
                buffer.put32(UInt32(truncatingIfNeeded: spec.imageBase), at: optionalField(PEOffsets.optionalImageBase32))
            }
        }
        if header.fileHeader.pointerToSymbolTable != 0 || header.fileHeader.numberOfSymbols != 0 {
            // The COFF symbol table is in the file only, never mapped.
            kept.append("the COFF symbol table is not in memory: PointerToSymbolTable cleared")
            buffer.put32(0, at: file + PEOffsets.filePointerToSymbolTable)
            buffer.put32(0, at: file + PEOffsets.fileNumberOfSymbols)
        }
        let directoryTable = optionalStart + (wide ? PEOffsets.optionalDataDirectory64 : PEOffsets.optionalDataDirectory32)
        func setDirectory(_ index: DataDirectoryIndex, _ entry: DataDirectory?) {
            buffer.put32(entry?.virtualAddress ?? 0, at: directoryTable + index.rawValue * DataDirectory.byteSize)
            buffer.put32(entry?.size ?? 0, at: directoryTable + index.rawValue * DataDirectory.byteSize + 4)
        }
        if optional.directory(.security) != nil {
            // IMAGE_DIRECTORY_ENTRY_SECURITY holds a file offset; the certificates are never mapped.
            kept.append("the certificate table is not in memory: its directory cleared")
            setDirectory(.security, nil)
        }
        func writeSectionTable(metadataStart: UInt64) -> Int {
            var count = 0
            for (index, section) in sections.enumerated() {
                let start = UInt64(section.virtualAddress)
                let entry = table + index * SectionHeader.size
                guard start < metadataStart else {
                    buffer.claim(entry, entry + SectionHeader.size)
                    continue
                }
                let virtualSize = min(UInt64(section.memorySize), metadataStart - start)
                let raw = min(alignUp(virtualSize, alignment), metadataStart - start)
                if virtualSize != UInt64(section.memorySize) || section.virtualSize == 0 {
                    buffer.put32(UInt32(virtualSize), at: entry + PEOffsets.sectionVirtualSize)
                }
                buffer.put32(UInt32(raw), at: entry + PEOffsets.sectionSizeOfRawData)
                buffer.put32(UInt32(start), at: entry + PEOffsets.sectionPointerToRawData)
                count += 1
            }
            return count
        }
        _ = writeSectionTable(metadataStart: sizeOfImage)

        func captured(_ directory: DataDirectory) -> Bool {
            buffer.captured.covers(UInt64(directory.virtualAddress), UInt64(directory.virtualAddress) + UInt64(directory.size))
        }
        /// A reader over the image up to `end`: copying only the needed prefix keeps a large image
        /// from being copied whole (the copy into `MappedFile` goes byte by byte).
        func probe(upTo end: UInt64) -> PEImage? {
            try? PEImage(bytes: MappedFile(bytes: buffer.bytes.prefix(Int(min(end, fileEnd)))).bytes)
        }
        /// Real images have a handful of debug entries; more than this is not a debug directory.
        let maximumDebugEntries = 64
        var debugRanges = [(start: UInt64, end: UInt64)]()
        var keepDebug = false
        var debugWhy = "the module has no debug directory"
        if let directory = optional.directory(.debug) {
            let directoryStart = UInt64(directory.virtualAddress)
            let directoryEnd = directoryStart + UInt64(directory.size)
            debugRanges.append((directoryStart, directoryEnd))
            if !captured(directory) {
                debugWhy = "its debug directory was not captured"
            } else if directory.size / UInt32(DebugDirectoryEntry.size) > maximumDebugEntries {
                debugWhy = "its debug directory claims more than \(maximumDebugEntries) entries"
            } else if let entries = Self.debugEntries(Array(buffer.bytes[Int(directoryStart)..<Int(directoryEnd)])) {
                if let entry = entries.first(where: { $0.type == .codeView }) {
                    let start = UInt64(entry.addressOfRawData)
                    let end = start + UInt64(entry.sizeOfData)
                    debugRanges.append((start, end))
                    if entry.addressOfRawData == 0 || !buffer.captured.covers(start, end) {
                        debugWhy = "its CodeView record was not captured"
                    } else if spec.codeViewRecord.isEmpty {
                        keepDebug = true
                        kept.append("the dump has no CodeView record: the module's own, captured in memory, was kept")
                    } else if buffer.bytes[Int(start)..<Int(end)].elementsEqual(spec.codeViewRecord) {
                        keepDebug = true
                    } else {
                        debugWhy = "its captured CodeView record differs from the dump's"
                    }
                } else if spec.codeViewRecord.isEmpty {
                    keepDebug = true
                } else {
                    debugWhy = "its debug directory has no CodeView record"
                }
            } else {
                debugWhy = "its debug directory does not read"
            }
        }
        var keepResource = false
        var resourceWhy = "the module has no resources"
        if let directory = optional.directory(.resource) {
            if !captured(directory) {
                resourceWhy = "its resources were not captured"
            } else if let expected = metadata.fixedFileInfo {
                // The resource data lies in the section holding the resource directory.
                let start = UInt64(directory.virtualAddress)
                let sectionEnd =
                    sections.first { $0.contains(rva: directory.virtualAddress) }
                    .map { UInt64($0.virtualAddress) + alignUp(UInt64($0.memorySize), alignment) } ?? 0
                let image = probe(upTo: max(start + UInt64(directory.size), sectionEnd))
                let found = (try? image?.versionInfo())??.fixedFileInfo
                if let found, fixedFileInfoWords(found) == expected {
                    keepResource = true
                } else {
                    resourceWhy = "its captured resources hold no version resource equal to the dump's"
                }
            } else {
                keepResource = true
            }
        }

        // Rebuild what cannot be kept at the end of the image; kept data inside that range is lost.
        var metadataStart = sizeOfImage
        var placed = RescueMetadata.Placed(bytes: [], debug: nil, resource: nil)
        for _ in 0..<3 {
            let needDebug = !keepDebug && metadata.hasDebugData
            let needVersion = !keepResource && metadata.fixedFileInfo != nil
            guard needDebug || needVersion else {
                metadataStart = sizeOfImage
                break
            }
            let size = UInt64(metadata.size(debug: needDebug, version: needVersion))
            guard size <= sizeOfImage, alignDown(sizeOfImage - size, alignment) >= headersEnd else {
                return reject("SizeOfImage leaves no room after the headers for \(size) bytes of rebuilt metadata")
            }
            metadataStart = alignDown(sizeOfImage - size, alignment)
            placed = metadata.layout(at: UInt32(metadataStart), debug: needDebug, version: needVersion)
            var changed = false
            if keepDebug, debugRanges.contains(where: { $0.end > metadataStart }) {
                keepDebug = false
                debugWhy = "the rebuilt version resource had to take its place"
                changed = true
            }
            if keepResource, let directory = optional.directory(.resource),
                UInt64(directory.virtualAddress) + UInt64(directory.size) > metadataStart
            {
                keepResource = false
                resourceWhy = "the rebuilt debug directory had to take its place"
                changed = true
            }
            if !changed { break }
        }
        let needsSection = metadataStart < sizeOfImage
        let keptSections = sections.filter { UInt64($0.virtualAddress) < metadataStart }
        if needsSection {
            guard UInt64(table + (keptSections.count + 1) * SectionHeader.size) <= headersEnd else {
                return reject("its section table has no room for the rebuilt metadata's section")
            }
        }
        let keptCount = writeSectionTable(metadataStart: metadataStart)
        var rebuiltRanges = [(start: UInt64, end: UInt64)]()
        if needsSection {
            let entry = table + keptCount * SectionHeader.size
            buffer.claim(entry, entry + SectionHeader.size)
            buffer.write(
                SectionEntry(
                    name: metadataSectionName, virtualSize: UInt32(sizeOfImage - metadataStart),
                    virtualAddress: UInt32(metadataStart), sizeOfRawData: UInt32(fileEnd - metadataStart),
                    pointerToRawData: UInt32(metadataStart), characteristics: [.initializedData, .read]
                ).encoded, at: entry)
            buffer.put16(UInt16(keptCount + 1), at: file + PEOffsets.fileNumberOfSections)
            buffer.claim(Int(metadataStart), Int(fileEnd))
            buffer.write(placed.bytes, at: Int(metadataStart))
            rebuiltRanges = [(UInt64(entry), UInt64(entry + SectionHeader.size)), (metadataStart, fileEnd)]
            let dropped = sections.filter { UInt64($0.virtualAddress) >= metadataStart }.map(\.name)
            if !dropped.isEmpty {
                kept.append("section(s) \(dropped.joined(separator: ", ")) gave way to the rebuilt metadata")
            }
        }

        // Directories: the rebuilt ones, the kept ones, and the rest only when their bytes are there.
        if placed.debug != nil || !keepDebug { setDirectory(.debug, placed.debug) }
        if placed.resource != nil || !keepResource { setDirectory(.resource, placed.resource) }
        var cleared = [String]()
        for (index, entry) in optional.dataDirectories.enumerated() where !entry.isEmpty {
            let directory = DataDirectoryIndex(rawValue: index)
            if directory == .debug || directory == .resource || directory == .security { continue }
            let start = UInt64(entry.virtualAddress)
            let end = start + UInt64(entry.size)
            let replaced = rebuiltRanges.contains { $0.start < end && start < $0.end }
            if replaced || !buffer.captured.covers(start, end) {
                setDirectory(directory, nil)
                cleared.append(String(index))
            }
        }
        if !cleared.isEmpty {
            kept.append(
                "data directories \(cleared.joined(separator: ", ")) cleared: their bytes were not captured or were replaced")
        }

        if keepDebug, let directory = optional.directory(.debug) {
            // In this layout a debug record's file offset is its RVA.
            let count = Int(directory.size) / DebugDirectoryEntry.size
            for index in 0..<count {
                let entry = Int(directory.virtualAddress) + index * DebugDirectoryEntry.size
                guard let address = buffer.load(UInt32.self, at: entry + 20),
                    let pointer = buffer.load(UInt32.self, at: entry + 24)
                else { break }
                if address != 0 {
                    buffer.put32(address, at: entry + 24)
                } else if pointer != 0 {
                    // Data that is only in the file (not mapped) is lost with the file.
                    buffer.put32(0, at: entry + 16)
                    buffer.put32(0, at: entry + 24)
                    kept.append("debug entry \(index) had unmapped data: it is now empty")
                }
            }
        }

        notes.append(
            "headers and \(keptCount) section header(s) came from the captured header page; FileAlignment set to "
                + "SectionAlignment 0x\(hex(alignment)) and PointerToRawData to VirtualAddress")
        notes += kept
        notes.append(
            keepDebug
                ? "debug directory and CodeView record came from memory"
                : (metadata.hasDebugData
                    ? "debug directory rebuilt from the dump's records (\(debugWhy))"
                    : "no debug directory: \(debugWhy) and the dump has no CodeView or Misc record"))
        if keepResource {
            notes.append("resources came from memory")
        } else if placed.resource != nil {
            notes.append("version resource rebuilt from the dump's VS_FIXEDFILEINFO (\(resourceWhy))")
        }
        if needsSection {
            notes.append("rebuilt metadata placed in section \(metadataSectionName) at RVA 0x\(hex(metadataStart))")
        }
        return true
    }

    /// The `IMAGE_DEBUG_DIRECTORY` entries in `bytes`, nil when they do not read.
    static func debugEntries(_ bytes: [UInt8]) -> [DebugDirectoryEntry]? {
        var reader = MappedFile(bytes: bytes).bytes.reader()
        var entries = [DebugDirectoryEntry]()
        while reader.remaining >= DebugDirectoryEntry.size {
            guard let entry = try? DebugDirectoryEntry(parsing: &reader) else { return nil }
            entries.append(entry)
        }
        return entries
    }

    /// The 13 DWORDs of a decoded `VS_FIXEDFILEINFO`, in file order.
    static func fixedFileInfoWords(_ info: VSFixedFileInfo) -> [UInt32] {
        [
            info.signature, info.structVersion, info.fileVersionMS, info.fileVersionLS, info.productVersionMS,
            info.productVersionLS, info.fileFlagsMask, info.fileFlags, info.fileOS, info.fileType, info.fileSubtype,
            info.fileDateMS, info.fileDateLS,
        ]
    }
}
