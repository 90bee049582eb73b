/// Builds an x64 kernel address space in a `DumpWriter`'s physical pages: 4-level page tables made
/// on demand, a `PsLoadedModuleList` of `KLDR_DATA_TABLE_ENTRY` records and a PE header page.
///
/// Offsets are written out here from the public layouts (Windows' x64 `KLDR_DATA_TABLE_ENTRY`:
/// InLoadOrderLinks 0x00, DllBase 0x30, EntryPoint 0x38, SizeOfImage 0x40, FullDllName 0x48,
/// BaseDllName 0x58; `UNICODE_STRING`: Length, MaximumLength, 4 bytes padding, Buffer), not taken
/// from the reader.
public struct ModuleListWriter {
    /// A driver to put in the list.
    public struct Driver: Sendable {
        public var fullName: String
        public var base: UInt64
        public var size: UInt32
        /// TimeDateStamp, CheckSum and the CodeView record of a PE header page at `base`; nil: no page.
        public var header: PEHeader?

        public init(fullName: String, base: UInt64, size: UInt32, header: PEHeader? = nil) {
            self.fullName = fullName
            self.base = base
            self.size = size
            self.header = header
        }

        /// The name after the last backslash.
        public var baseName: String { fullName.split(separator: "\\").last.map(String.init) ?? fullName }
    }

    /// What the header page of a driver says about it.
    public struct PEHeader: Sendable {
        public var timeDateStamp: UInt32
        public var checkSum: UInt32
        public var guid: [UInt8]
        public var age: UInt32
        public var pdbName: String

        public init(timeDateStamp: UInt32, checkSum: UInt32, guid: [UInt8], age: UInt32, pdbName: String) {
            self.timeDateStamp = timeDateStamp
            self.checkSum = checkSum
            self.guid = guid
            self.age = age
            self.pdbName = pdbName
        }
    }

    public var writer: DumpWriter
    /// Where the list entries go (one page), and where their names go (the next pages).
    public static let entryPage: UInt64 = 0xFFFF_A000_0000_1000
    public static let namePage: UInt64 = 0xFFFF_A000_0000_3000
    public static let entrySize: UInt64 = 0xA0
    private var nextFrame: UInt64 = 0x100

    /// A writer with an empty PML4 at the DumpWriter's directory table base.
    public init(writer: DumpWriter = DumpWriter()) {
        self.writer = writer
        self.writer.pages[writer.directoryTableBase >> 12] = [UInt8](repeating: 0, count: 4096)
    }

    /// The address of entry `index`.
    public static func entry(_ index: Int) -> UInt64 { entryPage + UInt64(index) * entrySize }

    /// The frame of a new zero page.
    private mutating func allocate() -> UInt64 {
        let frame = nextFrame
        nextFrame += 1
        writer.pages[frame] = [UInt8](repeating: 0, count: 4096)
        return frame
    }

    /// The frame backing the page at `virtual`, mapping it (and the tables above it) first if needed.
    public mutating func frame(of virtual: UInt64) -> UInt64 {
        var table = writer.directoryTableBase >> 12
        for shift in [39, 30, 21, 12] as [UInt64] {
            let index = Int((virtual >> shift) & 0x1FF)
            let raw = writer.pages[table]![(index * 8)..<(index * 8 + 8)]
            var entry = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if entry & 1 == 0 {
                entry = allocate() << 12 | 0x3
                DumpWriter.put(entry, at: index * 8, in: &writer.pages[table]!)
            }
            table = (entry & 0x000F_FFFF_FFFF_F000) >> 12
        }
        return table
    }

    /// Writes `bytes` at `virtual`, crossing pages and mapping them as needed.
    public mutating func write(_ bytes: [UInt8], at virtual: UInt64) {
        var address = virtual
        var rest = bytes[...]
        while !rest.isEmpty {
            let inPage = Int(address & 0xFFF)
            let take = min(rest.count, 4096 - inPage)
            let frame = frame(of: address)
            writer.pages[frame]!.replaceSubrange(inPage..<(inPage + take), with: rest.prefix(take))
            rest = rest.dropFirst(take)
            address += UInt64(take)
        }
    }

    /// Writes a little-endian integer at `virtual`.
    public mutating func write<T: FixedWidthInteger>(_ value: T, at virtual: UInt64) {
        write(DumpWriter.le(value), at: virtual)
    }

    /// Writes the list head at the DumpWriter's PsLoadedModuleList and one entry per driver, in order.
    public mutating func writeList(_ drivers: [Driver]) {
        let head = writer.psLoadedModuleList
        var nameAddress = Self.namePage
        let entries = drivers.indices.map { Self.entry($0) }
        let links = [head] + entries + [head]
        write(links[1], at: head)
        write(links[links.count - 2], at: head + 8)
        for (index, driver) in drivers.enumerated() {
            let entry = entries[index]
            write(links[index + 2], at: entry)  // Flink
            write(links[index], at: entry + 8)  // Blink
            write(driver.base, at: entry + 0x30)
            write(driver.base + 0x1000, at: entry + 0x38)
            write(driver.size, at: entry + 0x40)
            for (offset, name) in [(UInt64(0x48), driver.fullName), (0x58, driver.baseName)] {
                let text = Array(name.utf16).flatMap { DumpWriter.le($0) }
                write(UInt16(text.count), at: entry + offset)
                write(UInt16(text.count + 2), at: entry + offset + 2)
                write(nameAddress, at: entry + offset + 8)
                write(text + [0, 0], at: nameAddress)
                nameAddress += UInt64(text.count + 2 + 6) & ~7
            }
            if let header = driver.header { writeHeaderPage(header, base: driver.base, size: driver.size) }
        }
    }

    /// A PE32+ header page: DOS header, `PE\0\0`, IMAGE_FILE_HEADER, IMAGE_OPTIONAL_HEADER64 with
    /// 16 data directories, a debug directory at RVA 0x200 and an RSDS record at RVA 0x300.
    public mutating func writeHeaderPage(_ header: PEHeader, base: UInt64, size: UInt32) {
        var page = [UInt8](repeating: 0, count: 4096)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) { DumpWriter.put(value, at: offset, in: &page) }
        page[0] = UInt8(ascii: "M")
        page[1] = UInt8(ascii: "Z")
        let nt = 0x80
        put(UInt32(nt), 0x3C)
        page.replaceSubrange(nt..<(nt + 4), with: Array("PE\0\0".utf8))
        let file = nt + 4
        put(UInt16(0x8664), file)  // Machine
        put(UInt16(0), file + 2)  // NumberOfSections
        put(header.timeDateStamp, file + 4)
        put(UInt16(0xF0), file + 16)  // SizeOfOptionalHeader
        put(UInt16(0x22), file + 18)  // Characteristics: executable, large-address aware
        let optional = file + 20
        put(UInt16(0x20B), optional)  // PE32+
        put(UInt32(0x1000), optional + 16)  // AddressOfEntryPoint
        put(base, optional + 24)  // ImageBase
        put(UInt32(0x1000), optional + 32)  // SectionAlignment
        put(UInt32(0x200), optional + 36)  // FileAlignment
        put(UInt16(10), optional + 40)  // MajorOperatingSystemVersion
        put(UInt16(10), optional + 48)  // MajorSubsystemVersion
        put(size, optional + 56)  // SizeOfImage
        put(UInt32(0x400), optional + 60)  // SizeOfHeaders
        put(header.checkSum, optional + 64)
        put(UInt16(1), optional + 68)  // Subsystem: native
        put(UInt32(16), optional + 108)  // NumberOfRvaAndSizes
        put(UInt32(0x200), optional + 112 + 6 * 8)  // debug directory RVA
        put(UInt32(28), optional + 112 + 6 * 8 + 4)  // and size: one entry
        // IMAGE_DEBUG_DIRECTORY: Characteristics, TimeDateStamp, versions, Type, SizeOfData, AddressOfRawData, PointerToRawData.
        let rsds = Array("RSDS".utf8) + header.guid + DumpWriter.le(header.age) + Array(header.pdbName.utf8) + [0]
        put(header.timeDateStamp, 0x204)
        put(UInt32(2), 0x20C)  // IMAGE_DEBUG_TYPE_CODEVIEW
        put(UInt32(rsds.count), 0x210)
        put(UInt32(0x300), 0x214)
        put(UInt32(0x300), 0x218)
        page.replaceSubrange(0x300..<(0x300 + rsds.count), with: rsds)
        write(page, at: base)
    }

    /// Three drivers; ntoskrnl's header page is in the dump, the others' are not.
    public static let drivers: [Driver] = [
        Driver(
            fullName: "\\SystemRoot\\system32\\ntoskrnl.exe", base: 0xFFFF_F800_0200_0000, size: 0x0080_0000,
            header: PEHeader(
                timeDateStamp: 0x5F1A_2B3C, checkSum: 0x00A1_B2C3, guid: Array(0x10...0x1F), age: 1,
                pdbName: "ntkrnlmp.pdb")),
        Driver(fullName: "\\SystemRoot\\system32\\hal.dll", base: 0xFFFF_F800_01E0_0000, size: 0x6B000),
        Driver(
            fullName: "\\SystemRoot\\System32\\drivers\\storport.sys", base: 0xFFFF_F800_0500_0000, size: 0x9_0000),
    ]

    /// A writer holding `drivers` in its list, the bugcheck MANUALLY_INITIATED_CRASH.
    public static func scenario(drivers: [Driver] = drivers) -> ModuleListWriter {
        var writer = DumpWriter()
        writer.bugCheckCode = 0xE2
        writer.bugCheckParameters = [0, 0, 0, 0]
        // The crash address lies inside ntoskrnl.
        writer.rip = 0xFFFF_F800_0201_2345
        writer.exceptionCode = 0x8000_0003
        var space = ModuleListWriter(writer: writer)
        space.writeList(drivers)
        return space
    }
}
