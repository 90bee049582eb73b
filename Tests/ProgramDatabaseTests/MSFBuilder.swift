import Foundation

/// Writes small MSF 7.00 files for tests, from its own reading of LLVM's MSF documentation
/// (it shares no declarations with the reader, so a layout mistake cannot hide itself).
struct MSFBuilder {
    var blockSize = 512
    /// Stream contents by index; nil writes a deleted stream (size 0xFFFFFFFF).
    var streams: [[UInt8]?] = []
    /// Place stream blocks in reverse order, so that every multi-block stream is scattered.
    var scatter = false

    /// The file bytes: superblock (block 0), two free page map blocks (1, 2), stream blocks,
    /// directory blocks, then the block holding the directory's block list.
    func build() -> [UInt8] {
        var blocks = [[UInt8]]()
        blocks.append([])  // superblock, filled in last
        blocks.append([UInt8](repeating: 0xFF, count: blockSize))
        blocks.append([UInt8](repeating: 0xFF, count: blockSize))
        var streamBlocks = [[UInt32]]()
        for stream in streams {
            guard let stream else {
                streamBlocks.append([])
                continue
            }
            var chunks = [[UInt8]]()
            var at = 0
            while at < stream.count {
                chunks.append(Array(stream[at..<min(at + blockSize, stream.count)]))
                at += blockSize
            }
            var indexes = [UInt32](repeating: 0, count: chunks.count)
            let order = scatter ? Array(chunks.indices.reversed()) : Array(chunks.indices)
            for position in order {
                indexes[position] = UInt32(blocks.count)
                blocks.append(chunks[position])
            }
            streamBlocks.append(indexes)
        }
        var directory = [UInt8]()
        directory.append32(UInt32(streams.count))
        for stream in streams { directory.append32(stream.map { UInt32($0.count) } ?? 0xFFFF_FFFF) }
        for list in streamBlocks { for block in list { directory.append32(block) } }
        var directoryBlocks = [UInt32]()
        var at = 0
        while at < directory.count {
            directoryBlocks.append(UInt32(blocks.count))
            blocks.append(Array(directory[at..<min(at + blockSize, directory.count)]))
            at += blockSize
        }
        var map = [UInt8]()
        for block in directoryBlocks { map.append32(block) }
        let mapBlock = UInt32(blocks.count)
        blocks.append(map)

        var superBlock = Array("Microsoft C/C++ MSF 7.00\r\n".utf8) + [0x1A, 0x44, 0x53, 0, 0, 0]
        superBlock.append32(UInt32(blockSize))
        superBlock.append32(1)
        superBlock.append32(UInt32(blocks.count))
        superBlock.append32(UInt32(directory.count))
        superBlock.append32(0)
        superBlock.append32(mapBlock)
        blocks[0] = superBlock
        var file = [UInt8]()
        for block in blocks { file += block + [UInt8](repeating: 0, count: blockSize - block.count) }
        return file
    }

    /// A minimal PDB: info stream (age `infoAge`), empty TPI and IPI, a DBI with age `dbiAge`
    /// and the given module records and symbol streams, section headers in a debug stream.
    static func pdb(
        infoAge: UInt32 = 1, dbiAge: UInt32 = 1, modules: [(name: String, symbols: [UInt8], c13: [UInt8])] = [],
        sections: [(name: String, address: UInt32, size: UInt32)] = [(".text", 0x1000, 0x1000)], scatter: Bool = false
    ) -> [UInt8] {
        var builder = MSFBuilder()
        builder.scatter = scatter
        var info = [UInt8]()
        info.append32(20_000_404)  // VC70
        info.append32(0x5EED_1234)  // signature
        info.append32(infoAge)
        info += [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF]
        info.append32(0)  // string buffer size
        info.append32(0)  // hash size
        info.append32(1)  // capacity
        info.append32(1)  // present words
        info.append32(0)
        info.append32(0)  // deleted words
        info.append32(20_140_508)  // VC140 feature
        var moduleInfo = [UInt8]()
        var moduleStreams = [[UInt8]]()
        for (index, module) in modules.enumerated() {
            let stream = 5 + index
            var symbols = [UInt8]()
            symbols.append32(4)  // CV_SIGNATURE_C13
            symbols += module.symbols
            moduleStreams.append(symbols + module.c13)
            moduleInfo.append32(0)  // Unused1
            moduleInfo.append16(1)  // SectionContr.Section
            moduleInfo.append16(0)
            moduleInfo.append32(0)  // Offset
            moduleInfo.append32(0x100)  // Size
            moduleInfo.append32(0x6000_0020)  // Characteristics
            moduleInfo.append16(UInt16(index))
            moduleInfo.append16(0)
            moduleInfo.append32(0)
            moduleInfo.append32(0)
            moduleInfo.append16(0)  // Flags
            moduleInfo.append16(UInt16(stream))  // ModuleSymStream
            moduleInfo.append32(UInt32(symbols.count))  // SymByteSize
            moduleInfo.append32(0)  // C11ByteSize
            moduleInfo.append32(UInt32(module.c13.count))  // C13ByteSize
            moduleInfo.append16(0)  // SourceFileCount
            moduleInfo.append16(0)
            moduleInfo.append32(0)
            moduleInfo.append32(0)
            moduleInfo.append32(0)
            moduleInfo += Array(module.name.utf8) + [0] + Array(module.name.utf8) + [0]
            while moduleInfo.count % 4 != 0 { moduleInfo.append(0) }
        }
        let sectionStream = 5 + modules.count
        var debugHeader = [UInt8]()
        for position in 0..<11 { debugHeader.append16(position == 5 ? UInt16(sectionStream) : 0xFFFF) }
        var dbi = [UInt8]()
        dbi.append32(0xFFFF_FFFF)  // VersionSignature -1
        dbi.append32(19_990_903)
        dbi.append32(dbiAge)
        dbi.append16(0xFFFF)  // globals
        dbi.append16(0x8E1D)
        dbi.append16(0xFFFF)  // publics
        dbi.append16(0)
        dbi.append16(0xFFFF)  // symbol records
        dbi.append16(0)
        dbi.append32(UInt32(moduleInfo.count))
        dbi.append32(0)  // section contributions
        dbi.append32(0)  // section map
        dbi.append32(0)  // file info
        dbi.append32(0)  // type server map
        dbi.append32(0)
        dbi.append32(UInt32(debugHeader.count))
        dbi.append32(0)  // EC
        dbi.append16(0)
        dbi.append16(0x8664)
        dbi.append32(0)
        dbi += moduleInfo + debugHeader
        var headers = [UInt8]()
        for section in sections {
            var name = Array(section.name.utf8.prefix(8))
            name += [UInt8](repeating: 0, count: 8 - name.count)
            headers += name
            headers.append32(section.size)
            headers.append32(section.address)
            headers.append32(section.size)
            headers += [UInt8](repeating: 0, count: 16)
            headers.append32(0x6000_0020)
        }
        builder.streams = [[], info, [], dbi, []] + moduleStreams.map { Optional($0) } + [headers]
        return builder.build()
    }
}

/// CodeView symbol records for synthetic module streams.
enum SymbolBytes {
    /// One record: length (kind + data, padded to 4), kind, data.
    static func record(_ kind: UInt16, _ data: [UInt8]) -> [UInt8] {
        var body = data
        while (body.count + 4) % 4 != 0 { body.append(0) }
        var out = [UInt8]()
        out.append16(UInt16(body.count + 2))
        out.append16(kind)
        return out + body
    }

    /// `S_GPROC32` at `section:offset` of `length` bytes.
    static func procedure(_ name: String, offset: UInt32, length: UInt32, section: UInt16 = 1) -> [UInt8] {
        var data = [UInt8]()
        for value in [0, 0, 0, length, 0, length, 0, offset] as [UInt32] { data.append32(value) }
        data.append16(section)
        data.append(0)
        data += Array(name.utf8) + [0]
        return record(0x1110, data)
    }

    /// `S_BLOCK32`.
    static func block(offset: UInt32, length: UInt32) -> [UInt8] {
        var data = [UInt8]()
        for value in [0, 0, length, offset] as [UInt32] { data.append32(value) }
        data.append16(1)
        data.append(0)
        return record(0x1103, data)
    }

    /// `S_FRAMEPROC` with a frame of `size` bytes.
    static func frameProc(size: UInt32) -> [UInt8] {
        var data = [UInt8]()
        for value in [size, 0, 0, 8, 0] as [UInt32] { data.append32(value) }
        data.append16(0)
        data.append32(0x0001_4000)
        return record(0x1012, data)
    }

    /// `S_END`.
    static let end = record(0x0006, [])
}

extension Array where Element == UInt8 {
    mutating func append16(_ value: UInt16) {
        append(UInt8(value & 0xFF))
        append(UInt8(value >> 8))
    }

    mutating func append32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }
}
