import BinaryReading

/// Writes stand-in PE images for modules whose binary is lost, from what a crash dump recorded.
///
/// The image is laid out as in memory (`FileAlignment == SectionAlignment`, every section's
/// `PointerToRawData == VirtualAddress`), so captured memory goes to file offset == RVA. Its
/// identity (machine, `TimeDateStamp`, `SizeOfImage`, `CheckSum`, `ImageBase`, the CodeView
/// record) is the dump's, byte for byte, which is what debuggers compare to accept an image.
///
/// When the dump captured the module's header page and it matches the record, the module's own
/// headers are kept (see `adoptCapturedHeaders`); otherwise headers are written from scratch with
/// a code section over the captured memory and a `.rescue` section at the end of the image
/// holding the rebuilt debug directory and version resource.
public enum RescueImageBuilder {
    /// The largest `SizeOfImage` accepted (the whole image is held in memory).
    public static let maximumSizeOfImage: UInt32 = 0x4000_0000
    /// The largest CodeView or Misc record accepted. Real records are a few hundred bytes
    /// (`RSDS`, GUID, age, a path); even paths longer than MAX_PATH stay well below this.
    public static let maximumRecordSize = 0x1_0000
    /// The section alignment used when `SizeOfImage` allows it: one page.
    static let pageAlignment: UInt64 = 0x1000
    /// The smallest alignment a Windows image may use with `FileAlignment == SectionAlignment`.
    static let minimumAlignment: UInt64 = 0x200
    /// Where the synthesized `IMAGE_NT_HEADERS` start.
    static let ntHeadersOffset = 0x80
    /// The rebuilt metadata section's name.
    static let metadataSectionName = ".rescue"

    /// Builds the image.
    ///
    /// Throws when a spec field is out of range or the image cannot hold what it must: the error's
    /// field is `RescueImageSpec.<name>` and its offset 0 (there is no file yet). Captured memory
    /// past `SizeOfImage`, bad version info, or a header page that does not match are not errors:
    /// they are clipped, left out or replaced, and `notes` says so. The image is built in memory:
    /// expect to need about twice `SizeOfImage` while it is.
    public static func build(_ spec: RescueImageSpec) throws(ParseError) -> RescuedImage {
        let wide = try validate(spec)
        var notes = [String]()
        let sizeOfImage = UInt64(spec.sizeOfImage)
        let fileSize = alignUp(sizeOfImage, minimumAlignment)
        if fileSize != sizeOfImage {
            notes.append(
                "SizeOfImage 0x\(hex(spec.sizeOfImage)) is not a multiple of 0x200: the file is padded to "
                    + "0x\(hex(fileSize)) and the last section's raw data rounded up; SizeOfImage keeps the dump's value")
        }
        var buffer = ImageBuffer(size: Int(fileSize))
        placeCapturedMemory(spec, into: &buffer, notes: &notes)
        let metadata = RescueMetadata(
            timeDateStamp: spec.timeDateStamp, codeView: spec.codeViewRecord, misc: spec.miscRecord,
            fixedFileInfo: validFixedFileInfo(spec, notes: &notes))

        var headersFromMemory = false
        if buffer.captured.covers(0, UInt64(DOSHeader.size)) {
            var attempt = buffer
            var attemptNotes = [String]()
            if adoptCapturedHeaders(spec, wide: wide, metadata: metadata, buffer: &attempt, notes: &attemptNotes) {
                buffer = attempt
                headersFromMemory = true
            }
            notes += attemptNotes
        } else if buffer.captured.intersects(0, UInt64(DOSHeader.size)) {
            notes.append("the captured header page is incomplete: headers rebuilt")
        }
        if !headersFromMemory {
            try synthesizeHeaders(spec, wide: wide, metadata: metadata, buffer: &buffer, notes: &notes)
        }
        if buffer.captured.ranges.isEmpty {
            notes.append("no module memory was captured: the image holds headers and rebuilt metadata only")
        }
        return RescuedImage(
            bytes: buffer.bytes, headersFromMemory: headersFromMemory, rangesFromMemory: buffer.captured.rvaAndSize,
            rangesOverwritten: buffer.overwritten.rvaAndSize, notes: notes)
    }

    /// Checks the spec's fields and returns whether the image is PE32+.
    static func validate(_ spec: RescueImageSpec) throws(ParseError) -> Bool {
        func refuse(_ field: String, _ message: String) -> ParseError {
            ParseError(offset: 0, field: "RescueImageSpec." + field, kind: .invalidValue(message))
        }
        let wide: Bool
        switch spec.machine {
        case .i386, .armNT, .arm, .thumb: wide = false
        case .amd64, .arm64, .arm64EC, .arm64X, .ia64: wide = true
        default: throw refuse("machine", "no PE format known for machine \(spec.machine)")
        }
        guard spec.sizeOfImage != 0 else { throw refuse("sizeOfImage", "SizeOfImage is 0") }
        guard spec.sizeOfImage <= maximumSizeOfImage else {
            throw ParseError(
                offset: 0, field: "RescueImageSpec.sizeOfImage",
                kind: .countTooLarge(count: Int64(spec.sizeOfImage), limit: Int64(maximumSizeOfImage)))
        }
        if !wide && spec.imageBase > UInt64(UInt32.max) {
            throw refuse("imageBase", "ImageBase 0x\(hex(spec.imageBase)) does not fit a PE32 image")
        }
        for (field, count) in [("codeViewRecord", spec.codeViewRecord.count), ("miscRecord", spec.miscRecord?.count ?? 0)]
        where count > maximumRecordSize {
            throw ParseError(
                offset: 0, field: "RescueImageSpec." + field,
                kind: .countTooLarge(count: Int64(count), limit: Int64(maximumRecordSize)))
        }
        return wide
    }

    /// The fixed file info DWORDs when they make a version resource, else nil (with a note why).
    static func validFixedFileInfo(_ spec: RescueImageSpec, notes: inout [String]) -> [UInt32]? {
        guard let values = spec.fixedFileInfo else { return nil }
        guard values.count >= 13 else {
            notes.append("VS_FIXEDFILEINFO has \(values.count) of 13 DWORDs: no version resource written")
            return nil
        }
        guard values[0] == VSFixedFileInfo.signatureValue else {
            notes.append("VS_FIXEDFILEINFO signature is 0x\(hex(values[0])), not 0xFEEF04BD: no version resource written")
            return nil
        }
        if values.count > 13 { notes.append("VS_FIXEDFILEINFO has \(values.count) DWORDs: the first 13 are used") }
        return Array(values.prefix(13))
    }

    /// Copies the captured memory to its RVAs, clipped to `SizeOfImage`.
    static func placeCapturedMemory(_ spec: RescueImageSpec, into buffer: inout ImageBuffer, notes: inout [String]) {
        let end = UInt64(spec.sizeOfImage)
        var clipped = 0
        var dropped = 0
        var placed = [(start: UInt64, end: UInt64)]()
        for (rva, bytes) in spec.capturedMemory where !bytes.isEmpty {
            let start = UInt64(rva)
            guard start < end else {
                dropped += 1
                continue
            }
            let length = min(UInt64(bytes.count), end - start)
            if length < UInt64(bytes.count) { clipped += 1 }
            placed.append((start, start + length))
            buffer.place(bytes[0..<Int(length)], at: Int(start))
        }
        buffer.markCaptured(placed)
        if dropped > 0 { notes.append("\(dropped) captured range(s) start at or past SizeOfImage: ignored") }
        if clipped > 0 { notes.append("\(clipped) captured range(s) reach past SizeOfImage: clipped") }
        let sorted = placed.sorted { $0.start < $1.start }
        if zip(sorted, sorted.dropFirst()).contains(where: { $1.start < $0.end }) {
            notes.append("captured ranges overlap: later ones were kept")
        }
        let ranges = buffer.captured.ranges
        if !ranges.isEmpty {
            let total = ranges.reduce(UInt64(0)) { $0 + $1.end - $1.start }
            let listed = ranges.prefix(8).map { "0x\(hex($0.start))-0x\(hex($0.end))" }.joined(separator: ", ")
            notes.append(
                "from memory: 0x\(hex(total)) bytes in \(ranges.count) range(s) placed at their RVAs (\(listed)"
                    + (ranges.count > 8 ? ", ...)" : ")"))
        }
    }

    /// The `IMAGE_FILE_HEADER.Characteristics` of a rescued image.
    static func fileCharacteristics(_ spec: RescueImageSpec, wide: Bool) -> FileCharacteristics {
        var flags: FileCharacteristics = [.executableImage]
        flags.insert(wide ? .largeAddressAware : .machine32Bit)
        if spec.isDLL { flags.insert(.dll) }
        return flags
    }

    /// Writes headers from scratch: a code section over the captured memory and the metadata
    /// section at the end of the image.
    static func synthesizeHeaders(
        _ spec: RescueImageSpec, wide: Bool, metadata: RescueMetadata, buffer: inout ImageBuffer, notes: inout [String]
    ) throws(ParseError) {
        let sizeOfImage = UInt64(spec.sizeOfImage)
        let optionalSize = wide ? PEOffsets.optionalHeader64Size : PEOffsets.optionalHeader32Size
        var withVersion = metadata.fixedFileInfo != nil

        // Choose the alignment and where the metadata goes; without room for the version resource, drop it.
        var plan: (alignment: UInt64, headers: UInt64, metadataStart: UInt64)?
        while true {
            let size = UInt64(metadata.size(debug: true, version: withVersion))
            let sectionCount = (size > 0 ? 1 : 0) + 1
            let headerBytes = UInt64(ntHeadersOffset + 4 + FileHeader.size + optionalSize + sectionCount * SectionHeader.size)
            for alignment in [pageAlignment, minimumAlignment] {
                guard alignment == minimumAlignment || sizeOfImage % alignment == 0 else { continue }
                let headers = alignUp(headerBytes, alignment)
                guard sizeOfImage > headers, sizeOfImage - headers >= size else { continue }
                let start = size == 0 ? sizeOfImage : alignDown(sizeOfImage - size, alignment)
                guard start >= headers else { continue }
                plan = (alignment, headers, start)
                break
            }
            if plan != nil || !withVersion { break }
            withVersion = false
            notes.append("SizeOfImage is too small for the version resource: it was left out")
        }
        guard let plan else {
            throw ParseError(
                offset: 0, field: "RescueImageSpec.sizeOfImage",
                kind: .invalidValue(
                    "SizeOfImage 0x\(hex(spec.sizeOfImage)) cannot hold the headers and "
                        + "\(metadata.size(debug: true, version: false)) bytes of debug records"))
        }
        let alignment = plan.alignment
        if alignment != pageAlignment {
            notes.append("SectionAlignment 0x\(hex(alignment)): SizeOfImage is too small or not a multiple of 0x1000")
        }

        // Sections: the body (captured memory) then the metadata, ending exactly at SizeOfImage.
        let fileEnd = UInt64(buffer.count)
        var sections = [SectionEntry]()
        if plan.metadataStart > plan.headers {
            let size = plan.metadataStart - plan.headers
            // Without metadata the body is the last section: its raw data runs to the padded file end.
            let rawEnd = plan.metadataStart == sizeOfImage ? fileEnd : plan.metadataStart
            sections.append(
                SectionEntry(
                    name: ".text", virtualSize: UInt32(size), virtualAddress: UInt32(plan.headers),
                    sizeOfRawData: UInt32(rawEnd - plan.headers), pointerToRawData: UInt32(plan.headers),
                    characteristics: [.code, .execute, .read]))
        }
        let placed = metadata.layout(at: UInt32(plan.metadataStart), debug: true, version: withVersion)
        if plan.metadataStart < sizeOfImage {
            sections.append(
                SectionEntry(
                    name: metadataSectionName, virtualSize: UInt32(sizeOfImage - plan.metadataStart),
                    virtualAddress: UInt32(plan.metadataStart), sizeOfRawData: UInt32(fileEnd - plan.metadataStart),
                    pointerToRawData: UInt32(plan.metadataStart), characteristics: [.initializedData, .read]))
            buffer.claim(Int(plan.metadataStart), Int(fileEnd))
            buffer.write(placed.bytes, at: Int(plan.metadataStart))
        }
        buffer.claim(0, Int(plan.headers))

        // IMAGE_DOS_HEADER: only e_magic and e_lfanew matter to loaders and debuggers.
        buffer.put16(DOSHeader.signature, at: 0)
        buffer.put32(UInt32(ntHeadersOffset), at: PEOffsets.dosNewHeader)
        buffer.put32(PEImage.ntSignature, at: ntHeadersOffset)
        let file = ntHeadersOffset + 4
        buffer.put16(spec.machine.rawValue, at: file)
        buffer.put16(UInt16(sections.count), at: file + PEOffsets.fileNumberOfSections)
        buffer.put32(spec.timeDateStamp, at: file + PEOffsets.fileTimeDateStamp)
        buffer.put16(UInt16(optionalSize), at: file + PEOffsets.fileSizeOfOptionalHeader)
        buffer.put16(fileCharacteristics(spec, wide: wide).rawValue, at: file + PEOffsets.fileCharacteristics)

        let optional = file + FileHeader.size
        let body = sections.first { $0.characteristics.contains(.code) }
        buffer.put16(wide ? OptionalHeader.pe32PlusMagic : OptionalHeader.pe32Magic, at: optional)
        buffer.write([14, 0], at: optional + PEOffsets.optionalLinkerVersion)
        buffer.put32(body?.virtualSize ?? 0, at: optional + PEOffsets.optionalSizeOfCode)
        buffer.put32(UInt32(sizeOfImage - plan.metadataStart), at: optional + PEOffsets.optionalSizeOfInitializedData)
        // The real entry point is unknown; the first section's start keeps tools from flagging
        // an entry point outside every section (pefile warns about 0).
        buffer.put32(sections.first?.virtualAddress ?? 0, at: optional + PEOffsets.optionalAddressOfEntryPoint)
        buffer.put32(body?.virtualAddress ?? 0, at: optional + PEOffsets.optionalBaseOfCode)
        if wide {
            buffer.put64(spec.imageBase, at: optional + PEOffsets.optionalImageBase64)
        } else {
            buffer.put32(
                plan.metadataStart < sizeOfImage ? UInt32(plan.metadataStart) : 0, at: optional + PEOffsets.optionalBaseOfData32)
            buffer.put32(UInt32(truncatingIfNeeded: spec.imageBase), at: optional + PEOffsets.optionalImageBase32)
        }
        buffer.put32(UInt32(alignment), at: optional + PEOffsets.optionalSectionAlignment)
        buffer.put32(UInt32(alignment), at: optional + PEOffsets.optionalFileAlignment)
        buffer.put16(6, at: optional + PEOffsets.optionalOperatingSystemVersion)
        let subsystemMajor: UInt16 = 6
        let subsystemMinor: UInt16 = (spec.machine == .arm64 || spec.machine == .armNT) ? 2 : 0
        buffer.put16(subsystemMajor, at: optional + PEOffsets.optionalSubsystemVersion)
        buffer.put16(subsystemMinor, at: optional + PEOffsets.optionalSubsystemVersion + 2)
        buffer.put32(spec.sizeOfImage, at: optional + PEOffsets.optionalSizeOfImage)
        buffer.put32(UInt32(plan.headers), at: optional + PEOffsets.optionalSizeOfHeaders)
        buffer.put32(spec.checkSum, at: optional + PEOffsets.optionalCheckSum)
        buffer.put16(Subsystem.windowsGUI.rawValue, at: optional + PEOffsets.optionalSubsystem)
        // No relocations are written, so no DYNAMIC_BASE (and no HIGH_ENTROPY_VA, which needs it).
        let dllFlags: DLLCharacteristics = [.nxCompat]
        buffer.put16(dllFlags.rawValue, at: optional + PEOffsets.optionalDLLCharacteristics)
        // SizeOfStackReserve/Commit, SizeOfHeapReserve/Commit: the linker defaults.
        let stackHeap: [UInt64] = [0x10_0000, 0x1000, 0x10_0000, 0x1000]
        for (index, value) in stackHeap.enumerated() {
            if wide {
                buffer.put64(value, at: optional + PEOffsets.optionalStackReserve + index * 8)
            } else {
                buffer.put32(UInt32(value), at: optional + PEOffsets.optionalStackReserve + index * 4)
            }
        }
        let directories = optional + (wide ? PEOffsets.optionalDataDirectory64 : PEOffsets.optionalDataDirectory32)
        buffer.put32(
            UInt32(OptionalHeader.maximumDirectories),
            at: optional + (wide ? PEOffsets.optionalNumberOfRvaAndSizes64 : PEOffsets.optionalNumberOfRvaAndSizes32))
        for (index, entry) in [(DataDirectoryIndex.debug, placed.debug), (.resource, placed.resource)] {
            guard let entry else { continue }
            buffer.put32(entry.virtualAddress, at: directories + index.rawValue * DataDirectory.byteSize)
            buffer.put32(entry.size, at: directories + index.rawValue * DataDirectory.byteSize + 4)
        }
        let table = optional + optionalSize
        for (index, section) in sections.enumerated() {
            buffer.write(section.encoded, at: table + index * SectionHeader.size)
        }

        var rebuilt = ["headers"]
        if placed.debug != nil { rebuilt.append("debug directory") }
        if !metadata.codeView.isEmpty { rebuilt.append("CodeView record") }
        if metadata.misc != nil { rebuilt.append("Misc record") }
        if placed.resource != nil { rebuilt.append("version resource") }
        notes.append(
            "rebuilt from the dump's records: " + rebuilt.joined(separator: ", ")
                + (placed.bytes.isEmpty ? "" : " (section \(metadataSectionName) at RVA 0x\(hex(plan.metadataStart)))"))
        if metadata.codeView.isEmpty { notes.append("the dump has no CodeView record: the image names no PDB") }
    }
}
