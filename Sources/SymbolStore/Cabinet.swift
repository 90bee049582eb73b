import BinaryReading

/// A Microsoft cabinet (MS-CAB): the container symstore writes compressed files in (`foo.pd_`).
///
/// Opening reads `CFHEADER`, the `CFFOLDER`s and the `CFFILE`s; `extract` decodes a file's
/// folder (`CFDATA` blocks, checksums verified) with MSZIP or LZX. Multi-cabinet sets
/// (files continued in a next cabinet) are rejected.
public struct Cabinet: Sendable {
    /// `CFHEADER.flags` bits.
    static let flagPrevCabinet: UInt16 = 0x0001
    static let flagNextCabinet: UInt16 = 0x0002
    static let flagReservePresent: UInt16 = 0x0004

    /// Compression of a folder (`CFFOLDER.typeCompress`, low 4 bits; LZX keeps its window in bits 8–12).
    public struct CompressionType: RawRepresentable, Sendable, Hashable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// `tcompTYPE_NONE`.
        public static let none = CompressionType(rawValue: 0)
        /// `tcompTYPE_MSZIP`.
        public static let mszip = CompressionType(rawValue: 1)
        /// `tcompTYPE_QUANTUM` (not supported).
        public static let quantum = CompressionType(rawValue: 2)
        /// `tcompTYPE_LZX`.
        public static let lzx = CompressionType(rawValue: 3)
    }

    /// `CFFOLDER` (8 bytes + `cbCFFolder` reserved bytes).
    public struct Folder: Sendable {
        /// `coffCabStart`: offset of the first `CFDATA`.
        public var dataOffset: UInt32
        /// `cCFData`: number of data blocks.
        public var dataBlockCount: UInt16
        /// `typeCompress` as stored.
        public var typeCompress: UInt16
        /// The compression method (low 4 bits of `typeCompress`).
        public var compression: CompressionType { CompressionType(rawValue: typeCompress & 0x000F) }
        /// LZX window bits (`typeCompress` bits 8–12).
        public var lzxWindowBits: Int { Int((typeCompress >> 8) & 0x1F) }
    }

    /// `CFFILE` (16 bytes + name).
    public struct File: Sendable {
        /// `cbFile`: uncompressed size.
        public var size: UInt32
        /// `uoffFolderStart`: offset of the file in its folder's uncompressed data.
        public var folderOffset: UInt32
        /// `iFolder`.
        public var folderIndex: UInt16
        /// `date`, `time` (MS-DOS format).
        public var date: UInt16
        public var time: UInt16
        /// `attribs`.
        public var attributes: UInt16
        /// `szName` (UTF-8 when `_A_NAME_IS_UTF` is set, else taken as UTF-8 anyway).
        public var name: String
    }

    /// The cabinet's bytes.
    public let bytes: ByteView
    /// `CFHEADER.cbCabinet`.
    public let declaredSize: UInt32
    /// The folders in order.
    public let folders: [Folder]
    /// The files in order.
    public let files: [File]
    let dataReserve: Int

    /// Reads the header, folders and files.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        var reader = bytes.reader()
        let signature = try reader.read(UInt32.self, "CFHEADER.signature")
        guard signature == 0x4643_534D else {
            throw ParseError(
                offset: bytes.fileOffset, field: "CFHEADER.signature",
                kind: .badSignature(expected: "MSCF", found: hex(signature, width: 8)))
        }
        _ = try reader.read(UInt32.self, "CFHEADER.reserved1")
        declaredSize = try reader.read(UInt32.self, "CFHEADER.cbCabinet")
        guard Int(declaredSize) <= bytes.count else {
            throw ParseError(
                offset: bytes.fileOffset + 8, field: "CFHEADER.cbCabinet",
                kind: .truncated(needed: Int64(declaredSize), available: Int64(bytes.count)))
        }
        _ = try reader.read(UInt32.self, "CFHEADER.reserved2")
        let filesOffset = try reader.read(UInt32.self, "CFHEADER.coffFiles")
        _ = try reader.read(UInt32.self, "CFHEADER.reserved3")
        let minor = try reader.read(UInt8.self, "CFHEADER.versionMinor")
        let major = try reader.read(UInt8.self, "CFHEADER.versionMajor")
        guard major == 1, minor == 3 else {
            throw ParseError(
                offset: reader.fileOffset - 2, field: "CFHEADER.version", kind: .unsupportedVersion("\(major).\(minor)"))
        }
        let folderCount = Int(try reader.read(UInt16.self, "CFHEADER.cFolders"))
        let fileCount = Int(try reader.read(UInt16.self, "CFHEADER.cFiles"))
        let flags = try reader.read(UInt16.self, "CFHEADER.flags")
        _ = try reader.read(UInt16.self, "CFHEADER.setID")
        _ = try reader.read(UInt16.self, "CFHEADER.iCabinet")
        var folderReserve = 0
        var dataReserve = 0
        if flags & Self.flagReservePresent != 0 {
            let headerReserve = Int(try reader.read(UInt16.self, "CFHEADER.cbCFHeader"))
            folderReserve = Int(try reader.read(UInt8.self, "CFHEADER.cbCFFolder"))
            dataReserve = Int(try reader.read(UInt8.self, "CFHEADER.cbCFData"))
            try reader.skip(headerReserve, "CFHEADER.abReserve")
        }
        self.dataReserve = dataReserve
        if flags & (Self.flagPrevCabinet | Self.flagNextCabinet) != 0 {
            throw ParseError(
                offset: bytes.fileOffset + 30, field: "CFHEADER.flags",
                kind: .invalidValue("cabinet sets spanning several files are not supported"))
        }
        try reader.checkCount(folderCount, elementSize: 8 + folderReserve, "CFHEADER.cFolders")
        var folders = [Folder]()
        for _ in 0..<folderCount {
            let offset = try reader.read(UInt32.self, "CFFOLDER.coffCabStart")
            let blocks = try reader.read(UInt16.self, "CFFOLDER.cCFData")
            let type = try reader.read(UInt16.self, "CFFOLDER.typeCompress")
            try reader.skip(folderReserve, "CFFOLDER.abReserve")
            folders.append(Folder(dataOffset: offset, dataBlockCount: blocks, typeCompress: type))
        }
        self.folders = folders
        var fileReader = try bytes.slice(
            offset: filesOffset, size: bytes.count - min(Int(filesOffset), bytes.count), field: "CFHEADER.coffFiles"
        ).reader()
        try fileReader.checkCount(fileCount, elementSize: 17, "CFHEADER.cFiles")
        var files = [File]()
        for _ in 0..<fileCount {
            let size = try fileReader.read(UInt32.self, "CFFILE.cbFile")
            let folderOffset = try fileReader.read(UInt32.self, "CFFILE.uoffFolderStart")
            let folderIndex = try fileReader.read(UInt16.self, "CFFILE.iFolder")
            let date = try fileReader.read(UInt16.self, "CFFILE.date")
            let time = try fileReader.read(UInt16.self, "CFFILE.time")
            let attributes = try fileReader.read(UInt16.self, "CFFILE.attribs")
            let rest = fileReader.view.suffix(from: fileReader.position)
            let nameLength = rest.withUnsafeBytes { $0.firstIndex(of: 0) }
            guard let nameLength, nameLength <= 256 else {
                throw ParseError(
                    offset: fileReader.fileOffset, field: "CFFILE.szName",
                    kind: .invalidValue("name not NUL-terminated within 256 bytes"))
            }
            let name = try fileReader.readBytes(nameLength, "CFFILE.szName").utf8String
            try fileReader.skip(1, "CFFILE.szName")
            guard Int(folderIndex) < folders.count else {
                throw ParseError(
                    offset: fileReader.fileOffset, field: "CFFILE.iFolder",
                    kind: .invalidValue("folder \(folderIndex) of \(folders.count)"))
            }
            files.append(
                File(
                    size: size, folderOffset: folderOffset, folderIndex: folderIndex, date: date, time: time,
                    attributes: attributes, name: name))
        }
        self.files = files
    }

    /// Opens the cabinet at `path`.
    public init(path: String) throws(ParseError) {
        try self.init(bytes: try MappedFile(path: path).bytes)
    }

    /// Decodes the file at `index`. Its folder is decoded from the start up to the file's end,
    /// and that end (`uoffFolderStart` + `cbFile`) must not exceed `limit` bytes.
    public func extract(fileAt index: Int, limit: Int) throws(ParseError) -> [UInt8] {
        guard files.indices.contains(index) else {
            throw ParseError(offset: bytes.fileOffset, field: "CFFILE", kind: .invalidValue("no file \(index)"))
        }
        let file = files[index]
        guard Int(file.size) <= limit else {
            throw ParseError(
                offset: bytes.fileOffset, field: "CFFILE.cbFile",
                kind: .countTooLarge(count: Int64(file.size), limit: Int64(limit)))
        }
        let end = Int(file.folderOffset) + Int(file.size)
        guard end <= limit else {
            throw ParseError(
                offset: bytes.fileOffset, field: "CFFILE.uoffFolderStart",
                kind: .countTooLarge(count: Int64(end), limit: Int64(limit)))
        }
        let data = try decodeFolder(Int(file.folderIndex), upTo: end)
        guard data.count >= end else {
            throw ParseError(
                offset: bytes.fileOffset, field: "CFFILE.cbFile",
                kind: .truncated(needed: Int64(end), available: Int64(data.count)))
        }
        return Array(data[Int(file.folderOffset)..<end])
    }

    /// The cabinet's only file, as symstore writes them; throws unless there is exactly one.
    public func extractSingleFile(limit: Int) throws(ParseError) -> (name: String, bytes: [UInt8]) {
        guard files.count == 1 else {
            throw ParseError(
                offset: bytes.fileOffset + 18, field: "CFHEADER.cFiles",
                kind: .invalidValue("\(files.count) files; a compressed store file holds one"))
        }
        return (files[0].name, try extract(fileAt: 0, limit: limit))
    }

    /// Decodes a folder's data blocks until `upTo` bytes are out.
    func decodeFolder(_ index: Int, upTo wanted: Int) throws(ParseError) -> [UInt8] {
        let folder = folders[index]
        var reader = try bytes.slice(
            offset: folder.dataOffset, size: bytes.count - min(Int(folder.dataOffset), bytes.count),
            field: "CFFOLDER.coffCabStart"
        ).reader()
        var output = [UInt8]()
        // LZX reads one bitstream across the data blocks (an uncompressed block's bytes, and
        // its padding byte, may straddle two), so its blocks are gathered and decoded after.
        var lzxInput = [UInt8]()
        var lzxFrames = [(size: Int, blockStart: Int64)]()
        var lzxPending = 0
        switch folder.compression {
        case .none, .mszip:
            break
        case .lzx:
            guard (15...21).contains(folder.lzxWindowBits) else {
                throw ParseError(
                    offset: bytes.fileOffset, field: "CFFOLDER.typeCompress",
                    kind: .invalidValue("LZX window 2^\(folder.lzxWindowBits)"))
            }
        default:
            throw ParseError(
                offset: bytes.fileOffset, field: "CFFOLDER.typeCompress",
                kind: .invalidValue("compression type \(folder.compression.rawValue) is not supported"))
        }
        for _ in 0..<Int(folder.dataBlockCount) where output.count + lzxPending < wanted {
            let blockStart = reader.fileOffset
            let checksum = try reader.read(UInt32.self, "CFDATA.csum")
            let compressedSize = try reader.read(UInt16.self, "CFDATA.cbData")
            let uncompressedSize = try reader.read(UInt16.self, "CFDATA.cbUncomp")
            try reader.skip(dataReserve, "CFDATA.abReserve")
            let payload = try reader.readBytes(compressedSize, "CFDATA.ab")
            if checksum != 0 {
                let sizes: [UInt8] = [
                    UInt8(compressedSize & 0xFF), UInt8(compressedSize >> 8), UInt8(uncompressedSize & 0xFF),
                    UInt8(uncompressedSize >> 8),
                ]
                let computed = payload.withUnsafeBytes { Self.checksum($0, seed: 0) }
                let total = sizes.withUnsafeBytes { Self.checksum($0, seed: computed) }
                guard total == checksum else {
                    throw ParseError(
                        offset: blockStart, field: "CFDATA.csum",
                        kind: .invalidValue("checksum \(hex(total, width: 8)) does not match \(hex(checksum, width: 8))"))
                }
            }
            guard uncompressedSize <= 32768 else {
                throw ParseError(
                    offset: blockStart + 6, field: "CFDATA.cbUncomp",
                    kind: .invalidValue("\(uncompressedSize) is more than 32768"))
            }
            let before = output.count
            switch folder.compression {
            case .none:
                guard compressedSize == uncompressedSize else {
                    throw ParseError(
                        offset: blockStart + 4, field: "CFDATA.cbData", kind: .invalidValue("stored block sizes differ"))
                }
                output += payload.array
            case .mszip:
                guard payload.count >= 2, payload[0] == 0x43, payload[1] == 0x4B else {
                    throw ParseError(
                        offset: payload.fileOffset, field: "CFDATA.ab",
                        kind: .badSignature(expected: "CK", found: hex(payload.prefix(2).array.reduce(0) { $0 << 8 | Int($1) })))
                }
                do {
                    try Inflater.inflate(payload.suffix(from: 2), into: &output, limit: Int(uncompressedSize))
                } catch {
                    throw ParseError(offset: payload.fileOffset + 2, field: "MSZIP block", kind: .invalidValue("\(error)"))
                }
            default:
                lzxInput += payload.array
                lzxFrames.append((Int(uncompressedSize), blockStart))
                lzxPending += Int(uncompressedSize)
                continue
            }
            guard output.count - before == Int(uncompressedSize) else {
                throw ParseError(
                    offset: blockStart + 6, field: "CFDATA.cbUncomp",
                    kind: .invalidValue("block decoded to \(output.count - before) bytes, declared \(uncompressedSize)"))
            }
        }
        if folder.compression == .lzx {
            var decoder = LZXDecoder(windowBits: folder.lzxWindowBits, input: MappedFile(bytes: lzxInput).bytes)
            for (index, frame) in lzxFrames.enumerated() {
                do {
                    try decoder.decodeFrame(size: frame.size, into: &output)
                } catch {
                    throw ParseError(offset: frame.blockStart, field: "LZX frame \(index)", kind: .invalidValue("\(error)"))
                }
            }
        }
        return output
    }

    /// The `CFDATA` checksum (MS-CAB 2.6): XOR of little-endian 32-bit words, the last
    /// one to three bytes taken most significant first.
    static func checksum(_ data: UnsafeRawBufferPointer, seed: UInt32) -> UInt32 {
        var value = seed
        let words = data.count / 4
        for index in 0..<words {
            value ^= UInt32(littleEndian: data.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
        }
        var tail: UInt32 = 0
        for byte in data[(words * 4)...] { tail = tail << 8 | UInt32(byte) }
        return value ^ tail
    }
}
