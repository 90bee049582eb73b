import BinaryReading

/// The MSF 7.00 superblock (56 bytes at offset 0), as LLVM's PDB documentation
/// (`llvm.org/docs/PDB/MsfFile.html`) and microsoft-pdb's `msf.cpp` describe it.
public struct MSFSuperBlock: Sendable, Equatable {
    /// `FileMagic`: the 32 bytes `"Microsoft C/C++ MSF 7.00\r\n\u{1A}DS\0\0\0"`.
    public static let magic: [UInt8] = Array("Microsoft C/C++ MSF 7.00\r\n".utf8) + [0x1A, 0x44, 0x53, 0, 0, 0]
    /// The first bytes of the older MSF 2.00 format (`JG` small-page PDBs), which this reader does not read.
    public static let oldMagic: [UInt8] = Array("Microsoft C/C++ program database 2.00\r\n".utf8)
    /// Size on disk.
    public static let size = 56
    /// Block sizes writers use (microsoft-pdb accepts these four).
    public static let validBlockSizes: Set<UInt32> = [512, 1024, 2048, 4096]

    /// `BlockSize`: bytes per block.
    public var blockSize: UInt32
    /// `FreeBlockMapBlock`: 1 or 2, the active free page map (not used for reading).
    public var freeBlockMapBlock: UInt32
    /// `NumBlocks`: blocks in the file.
    public var numBlocks: UInt32
    /// `NumDirectoryBytes`: size of the stream directory.
    public var numDirectoryBytes: UInt32
    /// `Unknown`.
    public var unknown: UInt32
    /// `BlockMapAddr`: the block holding the indexes of the directory's blocks.
    public var blockMapAddr: UInt32

    /// Reads the superblock, rejecting other formats by their magic.
    public init(parsing bytes: ByteView) throws(ParseError) {
        if bytes.count >= Self.oldMagic.count, bytes.prefix(Self.oldMagic.count).elementsEqual(Self.oldMagic) {
            throw ParseError(
                offset: 0, field: "MSF magic",
                kind: .unsupportedVersion("MSF 2.00 (\"Microsoft C/C++ program database 2.00\"); only MSF 7.00 is read"))
        }
        let head = try bytes.slice(offset: 0, size: 32, field: "MSF SuperBlock.FileMagic")
        guard head.elementsEqual(Self.magic) else {
            throw ParseError(
                offset: 0, field: "MSF SuperBlock.FileMagic",
                kind: .badSignature(expected: "Microsoft C/C++ MSF 7.00", found: Self.printable(head.prefix(24).array)))
        }
        var reader = bytes.reader(at: 32)
        blockSize = try reader.read(UInt32.self, "MSF SuperBlock.BlockSize")
        freeBlockMapBlock = try reader.read(UInt32.self, "MSF SuperBlock.FreeBlockMapBlock")
        numBlocks = try reader.read(UInt32.self, "MSF SuperBlock.NumBlocks")
        numDirectoryBytes = try reader.read(UInt32.self, "MSF SuperBlock.NumDirectoryBytes")
        unknown = try reader.read(UInt32.self, "MSF SuperBlock.Unknown")
        blockMapAddr = try reader.read(UInt32.self, "MSF SuperBlock.BlockMapAddr")
        guard Self.validBlockSizes.contains(blockSize) else {
            throw ParseError(offset: 32, field: "MSF SuperBlock.BlockSize", kind: .invalidValue("block size \(blockSize)"))
        }
    }

    static func printable(_ bytes: [UInt8]) -> String {
        "\"" + String(decoding: bytes.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: ".") }, as: UTF8.self) + "\""
    }
}

/// One stream of an MSF file: its size and the blocks holding it, in order.
public struct MSFStreamLayout: Sendable, Equatable {
    /// Stream size in bytes; nil for a deleted stream (size `0xFFFFFFFF` in the directory).
    public var size: UInt32?
    /// Block indexes, `ceil(size / blockSize)` of them.
    public var blocks: [UInt32]
}

/// The bytes of one stream, with the map back to file offsets for error messages.
///
/// A stream whose blocks follow each other in the file is a slice of the mapping; any other
/// is copied once into a buffer of exactly its size (bounded by the file size, which every
/// block index was checked against). Errors thrown while reading a copied stream carry
/// stream-relative offsets; `locate` turns them into file offsets.
public struct MSFStream: Sendable {
    /// Stream index in the directory.
    public let index: Int
    /// The stream's bytes.
    public let bytes: ByteView
    /// Whether `bytes` is a copy (non-contiguous blocks) rather than a slice of the file.
    public let isCopy: Bool
    let blocks: [UInt32]
    let blockSize: Int

    /// Maps an error raised while reading `bytes` to the absolute file offset and names the stream.
    public func locate(_ error: ParseError) -> ParseError {
        var located = error
        if isCopy, error.offset >= 0, blockSize > 0 {
            let relative = error.offset
            let block = Int(relative / Int64(blockSize))
            if block < blocks.count {
                located.offset = Int64(blocks[block]) * Int64(blockSize) + relative % Int64(blockSize)
            }
        }
        located.field = "stream \(index): " + error.field
        return located
    }

    /// Runs `body` over the stream's bytes, turning its errors' offsets into file offsets.
    public func parse<T>(_ body: (ByteView) throws(ParseError) -> T) throws(ParseError) -> T {
        do {
            return try body(bytes)
        } catch {
            throw locate(error)
        }
    }
}

/// An MSF 7.00 container: the superblock and the stream directory, streams read on request.
public struct MSFFile: Sendable {
    /// The whole file.
    public let bytes: ByteView
    /// The superblock.
    public let superBlock: MSFSuperBlock
    /// Every stream's size and blocks, in directory order.
    public let streams: [MSFStreamLayout]

    /// Opens the container in `bytes`: superblock, block map and directory, all checked.
    public init(bytes: ByteView) throws(ParseError) {
        self.bytes = bytes
        let superBlock = try MSFSuperBlock(parsing: bytes)
        self.superBlock = superBlock
        let blockSize = Int(superBlock.blockSize)
        // Every block must lie inside the file; NumBlocks larger than the file is tolerated
        // only up to the file's real size (a truncated copy fails on the first block it needs).
        let fileBlocks = UInt64(bytes.count) / UInt64(blockSize)
        let usableBlocks = min(UInt64(superBlock.numBlocks), fileBlocks)

        func checkBlock(_ block: UInt32, at offset: Int64, _ field: String) throws(ParseError) {
            guard UInt64(block) < usableBlocks else {
                throw ParseError(
                    offset: offset, field: field,
                    kind: .invalidValue(
                        "block \(block) is past the last block (NumBlocks \(superBlock.numBlocks), file holds \(fileBlocks))"))
            }
        }

        // The block map: the directory's block indexes, stored in block `BlockMapAddr`.
        let directorySize = Int(superBlock.numDirectoryBytes)
        let directoryBlockCount = (directorySize + blockSize - 1) / blockSize
        try checkBlock(superBlock.blockMapAddr, at: 52, "MSF SuperBlock.BlockMapAddr")
        guard directoryBlockCount * 4 <= blockSize else {
            throw ParseError(
                offset: 44, field: "MSF SuperBlock.NumDirectoryBytes",
                kind: .countTooLarge(count: Int64(directoryBlockCount), limit: Int64(blockSize / 4)))
        }
        let mapOffset = Int(superBlock.blockMapAddr) * blockSize
        var mapReader = bytes.reader(at: mapOffset)
        var directoryBlocks = [UInt32]()
        directoryBlocks.reserveCapacity(directoryBlockCount)
        for _ in 0..<directoryBlockCount {
            let at = mapReader.fileOffset
            let block = try mapReader.read(UInt32.self, "MSF block map entry")
            try checkBlock(block, at: at, "MSF block map entry")
            directoryBlocks.append(block)
        }
        let directory = try Self.assemble(
            bytes, blocks: directoryBlocks, size: directorySize, blockSize: blockSize, index: -1)

        // The directory: NumStreams, StreamSizes[NumStreams], then each stream's block list.
        let streams: [MSFStreamLayout] = try directory.parse { view throws(ParseError) in
            var reader = view.reader()
            let count = Int(try reader.read(UInt32.self, "MSF directory NumStreams"))
            try reader.checkCount(count, elementSize: 4, "MSF directory NumStreams")
            let sizes = try reader.readArray(UInt32.self, count: count, "MSF directory StreamSizes")
            var streams = [MSFStreamLayout]()
            streams.reserveCapacity(count)
            for (index, size) in sizes.enumerated() {
                let present: UInt32? = size == UInt32.max ? nil : size
                let blockCount = Int(((UInt64(present ?? 0)) + UInt64(blockSize) - 1) / UInt64(blockSize))
                // A stream can be no larger than the file: this bounds the copy of a scattered stream.
                guard UInt64(blockCount) <= usableBlocks else {
                    throw ParseError(
                        offset: view.fileOffset + 4 + Int64(index) * 4, field: "MSF directory StreamSizes[\(index)]",
                        kind: .countTooLarge(count: Int64(size), limit: Int64(usableBlocks) * Int64(blockSize)))
                }
                try reader.checkCount(blockCount, elementSize: 4, "MSF directory StreamBlocks[\(index)]")
                var blocks = [UInt32]()
                blocks.reserveCapacity(blockCount)
                for _ in 0..<blockCount {
                    let at = reader.position
                    let block = try reader.read(UInt32.self, "MSF directory StreamBlocks[\(index)]")
                    guard UInt64(block) < usableBlocks else {
                        throw ParseError(
                            offset: view.fileOffset + Int64(at), field: "MSF directory StreamBlocks[\(index)]",
                            kind: .invalidValue("block \(block) is past the last block (NumBlocks \(superBlock.numBlocks))"))
                    }
                    blocks.append(block)
                }
                streams.append(MSFStreamLayout(size: present, blocks: blocks))
            }
            return streams
        }
        self.streams = streams
    }

    /// The bytes of stream `index`, or nil when the directory has no such stream or it is deleted.
    public func stream(_ index: Int) throws(ParseError) -> MSFStream? {
        guard index >= 0, index < streams.count, let size = streams[index].size else { return nil }
        return try Self.assemble(
            bytes, blocks: streams[index].blocks, size: Int(size), blockSize: Int(superBlock.blockSize), index: index)
    }

    static func assemble(
        _ bytes: ByteView, blocks: [UInt32], size: Int, blockSize: Int, index: Int
    ) throws(ParseError) -> MSFStream {
        let name = index < 0 ? "MSF directory" : "MSF stream \(index)"
        if size == 0 {
            return MSFStream(index: index, bytes: .empty, isCopy: false, blocks: blocks, blockSize: blockSize)
        }
        var contiguous = true
        for position in blocks.indices.dropFirst() where blocks[position] != blocks[position - 1] &+ 1 {
            contiguous = false
            break
        }
        if contiguous, let first = blocks.first {
            let view = try bytes.slice(offset: Int(first) * blockSize, size: size, field: name)
            return MSFStream(index: index, bytes: view, isCopy: false, blocks: blocks, blockSize: blockSize)
        }
        var copy = [UInt8]()
        copy.reserveCapacity(size)
        var left = size
        for block in blocks where left > 0 {
            let take = min(left, blockSize)
            let part = try bytes.slice(offset: Int(block) * blockSize, size: take, field: name)
            part.withUnsafeBytes { copy.append(contentsOf: $0) }
            left -= take
        }
        let owner = MappedFile(bytes: copy, name: name)
        return MSFStream(index: index, bytes: owner.bytes, isCopy: true, blocks: blocks, blockSize: blockSize)
    }
}
