import ProgramDatabase
import TestSupport
import Testing

@testable import Symbolication

/// Original ranges through small hand-made OMAP tables, each describing one kind of rewrite.
@Suite(.ownThread) struct AddressMappingTests {
    /// The image of an original image that ends at 0x3000, from `(image, original)` runs; an
    /// original address of 0xFFFF_FFFF marks code the rewriter added.
    static func mapping(_ runs: [(image: UInt32, original: UInt32)]) -> AddressMapping {
        var to = [OMAPEntry]()
        for run in runs { to.append(OMAPEntry(source: run.image, target: run.original)) }
        // OMAP_FROM_SRC: each original run start to where it went.
        var from = [OMAPEntry]()
        for run in runs where run.original != 0xFFFF_FFFF { from.append(OMAPEntry(source: run.original, target: run.image)) }
        return AddressMapping(fromSource: OMAPTable(from), toSource: OMAPTable(to), originalEnd: 0x3000)
    }

    @Test func withoutTablesAddressesMapOneToOne() {
        let mapping = AddressMapping()
        #expect(mapping.isIdentity)
        #expect(mapping.pieces(start: 0x1234, length: 0x10).map(\.address) == [0x1234])
        #expect(mapping.pieces(start: 0x1234, length: 0).isEmpty)
    }

    @Test func codeInsertedInsideARangeStretchesIt() {
        // 0x2000..<0x2020 stays in place but 8 bytes are inserted after its first 0x10 bytes.
        let mapping = Self.mapping([
            (0x1000, 0x1000), (0x2010, 0xFFFF_FFFF), (0x2018, 0x2010), (0x2028, 0x2020),
        ])
        let pieces = mapping.pieces(start: 0x2000, length: 0x20)
        #expect(pieces.map(\.address) == [0x2000])
        #expect(pieces.map(\.length) == [0x28])
        // dump_syms counts inserted bytes only up to the rest of the range's original length: 0x18
        // bytes inserted into a range with 0x10 bytes left split it.
        let long = Self.mapping([
            (0x1000, 0x1000), (0x2010, 0xFFFF_FFFF), (0x2028, 0x2010), (0x2038, 0x2020),
        ])
        #expect(long.pieces(start: 0x2000, length: 0x20).map(\.address) == [0x2000, 0x2028])
        // Code inserted at the end of a range is not the range's.
        let head = mapping.pieces(start: 0x2000, length: 0x10)
        #expect(head.map(\.address) == [0x2000])
        #expect(head.map(\.length) == [0x10])
    }

    @Test func blocksMovedApartGiveOnePiecePerPlace() {
        // The second half of 0x2000..<0x2020 moved behind other code to 0x2800.
        let mapping = Self.mapping([
            (0x1000, 0x1000), (0x2000, 0x2000), (0x2010, 0x2020), (0x2800, 0x2010), (0x2810, 0x2820),
        ])
        let pieces = mapping.pieces(start: 0x2000, length: 0x20)
        #expect(pieces.map(\.address) == [0x2000, 0x2800])
        #expect(pieces.map(\.length) == [0x10, 0x10])
        // A range across the move, listed in image order.
        let across = mapping.pieces(start: 0x2008, length: 0x10)
        #expect(across.map(\.address) == [0x2008, 0x2800])
        #expect(across.map(\.length) == [0x8, 0x8])
    }

    @Test func droppedCodeMapsToNothing() {
        // 0x2010..<0x2020 was removed: the image goes on with 0x2020 at 0x2010.
        let mapping = Self.mapping([(0x1000, 0x1000), (0x2000, 0x2000), (0x2010, 0x2020)])
        #expect(mapping.pieces(start: 0x2010, length: 0x10).isEmpty)
        let pieces = mapping.pieces(start: 0x2000, length: 0x30)
        #expect(pieces.map(\.address) == [0x2000])
        #expect(pieces.map(\.length) == [0x20])
    }

    @Test func copiedCodeMapsToEveryCopy() {
        // 0x2000..<0x2010 appears twice in the image, at 0x2000 and at 0x2400.
        let mapping = Self.mapping([
            (0x1000, 0x1000), (0x2000, 0x2000), (0x2010, 0x2010), (0x2400, 0x2000), (0x2410, 0x2410),
        ])
        #expect(mapping.pieces(start: 0x2004, length: 0).map(\.address) == [0x2004, 0x2404])
        #expect(mapping.pieces(start: 0x2004, length: 4).map(\.address) == [0x2004, 0x2404])
    }
}
