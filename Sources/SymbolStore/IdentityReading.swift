import BinaryReading

// MARK: - Stand-in identity readers
//
// TEMPORARY: the PortableExecutable and ProgramDatabase targets are being written elsewhere.
// This file reads only the few fields a store key needs, bounds-checked, so that publishing
// works today. Replace each reader with the full format target once it exists; nothing
// else in SymbolStore depends on how these fields were found.

extension FileIdentity {
    /// Reads the identity of the file at `path`, guessing its kind from its first bytes.
    ///
    /// Throws when the file is none of PE, MSF PDB, portable PDB, ELF with a build id,
    /// or Breakpad `.sym`.
    public static func read(path: String) throws(ParseError) -> FileIdentity {
        let file = try MappedFile(path: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return try read(bytes: file.bytes, fileName: name)
    }

    /// Reads the identity of `bytes`, which are published under `fileName`.
    public static func read(bytes: ByteView, fileName: String) throws(ParseError) -> FileIdentity {
        if bytes.count >= 2, bytes[0] == 0x4D, bytes[1] == 0x5A {
            return try readPE(bytes, fileName: fileName)
        }
        if bytes.count >= msfMagic.count, bytes.prefix(msfMagic.count).elementsEqual(msfMagic) {
            return try readPDB(bytes, fileName: fileName)
        }
        if bytes.count >= 4, bytes.prefix(4).elementsEqual(Array("BSJB".utf8)) {
            return try readPortablePDB(bytes, fileName: fileName)
        }
        if bytes.count >= 4, bytes.prefix(4).elementsEqual([0x7F, 0x45, 0x4C, 0x46]) {
            return try readELF(bytes, fileName: fileName)
        }
        if bytes.count >= 7, bytes.prefix(7).elementsEqual(Array("MODULE ".utf8)) {
            return try readBreakpadSymbols(bytes)
        }
        throw ParseError(
            offset: bytes.fileOffset, field: "file signature", kind: .invalidValue("not a PE, PDB, ELF or Breakpad symbol file"))
    }

    // MARK: PE

    /// `IMAGE_DOS_HEADER.e_lfanew` → `IMAGE_NT_HEADERS` → `TimeDateStamp`, `SizeOfImage`.
    static func readPE(_ bytes: ByteView, fileName: String) throws(ParseError) -> FileIdentity {
        let lfanew = try bytes.load(UInt32.self, at: 0x3C, field: "IMAGE_DOS_HEADER.e_lfanew")
        guard let nt = Int(exactly: lfanew), nt <= bytes.count - 24 else {
            throw ParseError(
                offset: 0x3C, field: "IMAGE_DOS_HEADER.e_lfanew",
                kind: .outOfBounds(offset: Int64(lfanew), size: 24, fileSize: Int64(bytes.count)))
        }
        let signature = try bytes.load(UInt32.self, at: nt, field: "IMAGE_NT_HEADERS.Signature")
        guard signature == 0x0000_4550 else {
            throw ParseError(
                offset: Int64(nt), field: "IMAGE_NT_HEADERS.Signature",
                kind: .badSignature(expected: "PE\\0\\0", found: hex(signature, width: 8)))
        }
        // IMAGE_FILE_HEADER (20 bytes) follows the signature; TimeDateStamp is at +4.
        let timeDateStamp = try bytes.load(UInt32.self, at: nt + 8, field: "IMAGE_FILE_HEADER.TimeDateStamp")
        let optional = nt + 24
        let magic = try bytes.load(UInt16.self, at: optional, field: "IMAGE_OPTIONAL_HEADER.Magic")
        guard magic == 0x10B || magic == 0x20B else {
            throw ParseError(
                offset: Int64(optional), field: "IMAGE_OPTIONAL_HEADER.Magic",
                kind: .invalidValue("0x\(hex(magic)) is neither PE32 nor PE32+"))
        }
        // SizeOfImage is at offset 56 in both IMAGE_OPTIONAL_HEADER32 and 64.
        let sizeOfImage = try bytes.load(UInt32.self, at: optional + 56, field: "IMAGE_OPTIONAL_HEADER.SizeOfImage")
        return FileIdentity(fileName: fileName, identifier: .pe(timeDateStamp: timeDateStamp, sizeOfImage: sizeOfImage))
    }

    // MARK: MSF PDB

    static let msfMagic: [UInt8] = Array("Microsoft C/C++ MSF 7.00\r\n".utf8) + [0x1A, 0x44, 0x53, 0, 0, 0]

    /// MSF 7.00 superblock → stream directory → PDB info stream (GUID) and DBI stream (age).
    static func readPDB(_ bytes: ByteView, fileName: String) throws(ParseError) -> FileIdentity {
        let msf = try MSFStreams(bytes)
        let info = try msf.streamPrefix(1, length: 28, field: "PDB info stream")
        var reader = info.reader()
        _ = try reader.read(UInt32.self, "PDB_INFO.Version")
        _ = try reader.read(UInt32.self, "PDB_INFO.Signature")
        let infoAge = try reader.read(UInt32.self, "PDB_INFO.Age")
        let guid = try reader.readGUID("PDB_INFO.Guid")
        // The DBI stream's age wins: pdbstr (source indexing) bumps only the info stream's
        // age (seen in symbolic's crash_with_srcsrv.pdb: info age 4, DBI age 1).
        var age: UInt32? = infoAge
        if msf.streamSize(3) >= 12 {
            let dbi = try msf.streamPrefix(3, length: 12, field: "DBI stream")
            age = try dbi.load(UInt32.self, at: 8, field: "DBIStreamHeader.Age")
        } else if msf.streamCount <= 3 || msf.streamSize(3) == 0 {
            // Like symstore: a PDB without DBI stream (vc140.pdb) has a key without age.
            age = nil
        }
        return FileIdentity(fileName: fileName, identifier: .pdb(guid: guid, age: age))
    }

    /// The stream directory of an MSF 7.00 file, enough to read the start of a stream.
    struct MSFStreams {
        let bytes: ByteView
        let blockSize: Int
        let directory: [UInt8]
        let streamCount: Int

        init(_ bytes: ByteView) throws(ParseError) {
            self.bytes = bytes
            let blockSize = Int(try bytes.load(UInt32.self, at: 32, field: "SuperBlock.BlockSize"))
            guard [512, 1024, 2048, 4096, 8192, 16384, 32768].contains(blockSize) else {
                throw ParseError(offset: 32, field: "SuperBlock.BlockSize", kind: .invalidValue("\(blockSize)"))
            }
            self.blockSize = blockSize
            let directoryBytes = Int(try bytes.load(UInt32.self, at: 44, field: "SuperBlock.NumDirectoryBytes"))
            guard directoryBytes >= 4, directoryBytes <= bytes.count else {
                throw ParseError(
                    offset: 44, field: "SuperBlock.NumDirectoryBytes",
                    kind: .countTooLarge(count: Int64(directoryBytes), limit: Int64(bytes.count)))
            }
            let blockMapAddr = Int(try bytes.load(UInt32.self, at: 52, field: "SuperBlock.BlockMapAddr"))
            let directoryBlocks = (directoryBytes + blockSize - 1) / blockSize
            var mapReader = try bytes.slice(
                offset: blockMapAddr * blockSize, size: directoryBlocks * 4, field: "SuperBlock.BlockMapAddr"
            ).reader()
            var directory = [UInt8]()
            directory.reserveCapacity(directoryBytes)
            for _ in 0..<directoryBlocks {
                let block = Int(try mapReader.read(UInt32.self, "stream directory block"))
                let take = min(blockSize, directoryBytes - directory.count)
                let (offset, overflow) = block.multipliedReportingOverflow(by: blockSize)
                guard !overflow else {
                    throw ParseError(
                        offset: mapReader.fileOffset, field: "stream directory block", kind: .invalidValue("\(block)"))
                }
                directory += try bytes.slice(offset: offset, size: take, field: "stream directory block").array
            }
            self.directory = directory
            let count = Int(directory.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian)
            guard count <= (directory.count - 4) / 4 else {
                throw ParseError(
                    offset: 0, field: "StreamDirectory.NumStreams",
                    kind: .countTooLarge(count: Int64(count), limit: Int64((directory.count - 4) / 4)))
            }
            streamCount = count
        }

        private func word(_ index: Int) -> UInt32? {
            let offset = index * 4
            guard index >= 0, offset + 4 <= directory.count else { return nil }
            return directory.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }.littleEndian
        }

        /// The stream's size; 0 for a missing or deleted (`0xFFFFFFFF`) stream.
        func streamSize(_ stream: Int) -> Int {
            guard stream < streamCount, let size = word(1 + stream), size != 0xFFFF_FFFF else { return 0 }
            return Int(size)
        }

        /// The first `length` bytes of `stream`, copied from its blocks.
        func streamPrefix(_ stream: Int, length: Int, field: String) throws(ParseError) -> ByteView {
            guard streamSize(stream) >= length else {
                throw ParseError(
                    offset: 0, field: field, kind: .truncated(needed: Int64(length), available: Int64(streamSize(stream))))
            }
            var blockIndex = 1 + streamCount
            for earlier in 0..<stream {
                blockIndex += (streamSize(earlier) + blockSize - 1) / blockSize
            }
            var out = [UInt8]()
            while out.count < length {
                guard let block = word(blockIndex) else {
                    throw ParseError(offset: 0, field: field, kind: .invalidValue("stream directory ends inside the block list"))
                }
                let take = min(blockSize, length - out.count)
                out += try bytes.slice(offset: Int(block) * blockSize, size: take, field: field).array
                blockIndex += 1
            }
            return MappedFile(bytes: out, name: field).bytes
        }
    }

    // MARK: Portable PDB

    /// ECMA-335 metadata root → `#Pdb` stream → PDB id (GUID + stamp).
    static func readPortablePDB(_ bytes: ByteView, fileName: String) throws(ParseError) -> FileIdentity {
        let versionLength = Int(try bytes.load(UInt32.self, at: 12, field: "METADATA_ROOT.Length"))
        guard versionLength <= 255 else {
            throw ParseError(offset: 12, field: "METADATA_ROOT.Length", kind: .invalidValue("\(versionLength)"))
        }
        var reader = bytes.reader(at: 16 + versionLength)
        _ = try reader.read(UInt16.self, "METADATA_ROOT.Flags")
        let streams = Int(try reader.read(UInt16.self, "METADATA_ROOT.Streams"))
        for _ in 0..<streams {
            let offset = try reader.read(UInt32.self, "STREAM_HEADER.Offset")
            let size = try reader.read(UInt32.self, "STREAM_HEADER.Size")
            var nameBytes = [UInt8]()
            while true {
                let chunk = try reader.readBytes(4, "STREAM_HEADER.Name").array
                nameBytes += chunk
                if chunk.contains(0) || nameBytes.count > 32 { break }
            }
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            if name == "#Pdb" {
                guard size >= 20 else { break }
                var pdb = try bytes.slice(offset: offset, size: 20, field: "#Pdb.PdbId").reader()
                let guid = try pdb.readGUID("#Pdb.PdbId")
                return FileIdentity(fileName: fileName, identifier: .portablePDB(guid: guid))
            }
        }
        throw ParseError(offset: bytes.fileOffset, field: "#Pdb", kind: .invalidValue("no #Pdb stream: not a portable PDB"))
    }

    // MARK: ELF

    /// ELF header → section headers → `SHT_NOTE` sections → `NT_GNU_BUILD_ID`.
    /// A file whose `.text` is `SHT_NOBITS` is a separate debug file.
    static func readELF(_ bytes: ByteView, fileName: String) throws(ParseError) -> FileIdentity {
        guard bytes.count >= 0x34 else {
            throw ParseError(offset: 0, field: "Elf_Ehdr", kind: .truncated(needed: 0x34, available: Int64(bytes.count)))
        }
        let is64 = bytes[4] == 2
        let order: Endianness = bytes[5] == 2 ? .big : .little
        func word(_ offset: Int, _ field: String) throws(ParseError) -> Int {
            Int(try bytes.load(UInt32.self, at: offset, endianness: order, field: field))
        }
        func address(_ offset: Int, _ field: String) throws(ParseError) -> Int {
            if is64 {
                let value = try bytes.load(UInt64.self, at: offset, endianness: order, field: field)
                guard let int = Int(exactly: value) else {
                    throw ParseError(offset: Int64(offset), field: field, kind: .invalidValue("\(value)"))
                }
                return int
            }
            return try word(offset, field)
        }
        let shoff = try address(is64 ? 0x28 : 0x20, "Elf_Ehdr.e_shoff")
        let shentsize = Int(try bytes.load(UInt16.self, at: is64 ? 0x3A : 0x2E, endianness: order, field: "Elf_Ehdr.e_shentsize"))
        let shnum = Int(try bytes.load(UInt16.self, at: is64 ? 0x3C : 0x30, endianness: order, field: "Elf_Ehdr.e_shnum"))
        let shstrndx = Int(try bytes.load(UInt16.self, at: is64 ? 0x3E : 0x32, endianness: order, field: "Elf_Ehdr.e_shstrndx"))
        guard shentsize >= (is64 ? 0x40 : 0x28) else {
            throw ParseError(offset: is64 ? 0x3A : 0x2E, field: "Elf_Ehdr.e_shentsize", kind: .invalidValue("\(shentsize)"))
        }
        _ = try bytes.slice(offset: shoff, size: shnum * shentsize, field: "section headers")
        struct Section { var name: Int; var type: Int; var offset: Int; var size: Int }
        var sections = [Section]()
        for index in 0..<shnum {
            let base = shoff + index * shentsize
            sections.append(
                Section(
                    name: try word(base, "Elf_Shdr.sh_name"), type: try word(base + 4, "Elf_Shdr.sh_type"),
                    offset: try address(base + (is64 ? 0x18 : 0x10), "Elf_Shdr.sh_offset"),
                    size: try address(base + (is64 ? 0x20 : 0x14), "Elf_Shdr.sh_size")))
        }
        var isDebugInfo = false
        if shstrndx < sections.count {
            let strings = sections[shstrndx]
            for section in sections where section.type == 8 /* SHT_NOBITS */ {
                let nameOffset = strings.offset &+ section.name
                guard nameOffset >= 0, nameOffset < bytes.count else { continue }
                if let name = try? bytes.slice(
                    offset: nameOffset, size: min(6, max(0, bytes.count - nameOffset)), field: "sh_name"),
                    name.cString == ".text"
                {
                    isDebugInfo = true
                }
            }
        }
        for section in sections where section.type == 7 /* SHT_NOTE */ {
            let notes = try bytes.slice(offset: section.offset, size: section.size, field: "SHT_NOTE section")
            var reader = notes.reader(endianness: order)
            while reader.remaining >= 12 {
                let nameSize = Int(try reader.read(UInt32.self, "Elf_Nhdr.n_namesz"))
                let descSize = Int(try reader.read(UInt32.self, "Elf_Nhdr.n_descsz"))
                let type = try reader.read(UInt32.self, "Elf_Nhdr.n_type")
                let name = try reader.readBytes((nameSize + 3) & ~3, "note name")
                let desc = try reader.readBytes((descSize + 3) & ~3, "note descriptor")
                if type == 3 /* NT_GNU_BUILD_ID */, name.prefix(nameSize).cString == "GNU", descSize > 0 {
                    return FileIdentity(
                        fileName: fileName, identifier: .elf(buildID: desc.prefix(descSize).array, isDebugInfo: isDebugInfo))
                }
            }
        }
        throw ParseError(
            offset: Int64(shoff), field: "NT_GNU_BUILD_ID", kind: .invalidValue("the ELF file has no GNU build id note"))
    }

    // MARK: Breakpad symbols

    /// The `MODULE <os> <arch> <debug id> <debug file>` line.
    static func readBreakpadSymbols(_ bytes: ByteView) throws(ParseError) -> FileIdentity {
        let head = bytes.prefix(4096).utf8String
        let line = head.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).first ?? ""
        let fields = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true)
        guard fields.count == 5, fields[3].count >= 33, fields[3].allSatisfy(\.isHexDigit) else {
            throw ParseError(
                offset: 0, field: "MODULE line", kind: .invalidValue("expected MODULE <os> <arch> <debug id> <name>"))
        }
        return FileIdentity(fileName: String(fields[4]), identifier: .breakpad(debugID: fields[3].uppercased()))
    }
}
