import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("RescueImage malformed specs and captured memory", .ownThread)
struct RescueImageMalformedTests {
    func spec(
        machine: Machine = .amd64, sizeOfImage: UInt32 = 0x3000, imageBase: UInt64 = 0x1_4000_0000,
        codeView: [UInt8] = RescueBytes.codeView(guid: rescueGUID, age: 1, name: "m.pdb"),
        captured: [(rva: UInt32, bytes: [UInt8])] = []
    ) -> RescueImageSpec {
        RescueImageSpec(
            machine: machine, imageBase: imageBase, sizeOfImage: sizeOfImage, timeDateStamp: 0x1234_5678,
            checkSum: 0x4321, isDLL: true, codeViewRecord: codeView, capturedMemory: captured)
    }

    func refusal(_ spec: RescueImageSpec) -> ParseError? {
        do {
            _ = try RescueImageBuilder.build(spec)
            return nil
        } catch {
            return error
        }
    }

    @Test("out-of-range fields are refused with an error naming the field")
    func refusedFields() {
        #expect(refusal(spec(sizeOfImage: 0))?.field == "RescueImageSpec.sizeOfImage")
        let huge = refusal(spec(sizeOfImage: 0x8000_0000))
        #expect(huge?.field == "RescueImageSpec.sizeOfImage")
        #expect(huge?.kind == .countTooLarge(count: 0x8000_0000, limit: 0x4000_0000))
        #expect(refusal(spec(sizeOfImage: UInt32.max))?.field == "RescueImageSpec.sizeOfImage")
        #expect(refusal(spec(machine: .i386, imageBase: 0x1_0000_0000))?.field == "RescueImageSpec.imageBase")
        #expect(refusal(spec(machine: Machine(rawValue: 0x1234)))?.field == "RescueImageSpec.machine")
        #expect(refusal(spec(codeView: [UInt8](repeating: 0x41, count: 0x1_0001)))?.field == "RescueImageSpec.codeViewRecord")
        // Too small for the headers, or for a record larger than a page.
        #expect(refusal(spec(sizeOfImage: 0x100))?.field == "RescueImageSpec.sizeOfImage")
        let big = RescueBytes.codeView(guid: rescueGUID, age: 1, name: String(repeating: "p", count: 0x1800))
        #expect(refusal(spec(sizeOfImage: 0x1000, codeView: big))?.field == "RescueImageSpec.sizeOfImage")
    }

    @Test("captured memory past SizeOfImage is clipped or ignored, with notes")
    func capturedBeyondImage() throws {
        let image = try RescueImageBuilder.build(
            spec(captured: [
                (0x5000, RescueBytes.pattern(1, count: 0x100)), (0xFFFF_FFF0, RescueBytes.pattern(2, count: 0x100)),
                (0x2E00, RescueBytes.pattern(3, count: 0x400)), (0x1000, []),
            ]))
        #expect(image.bytes.count == 0x3000)
        #expect(image.notes.contains { $0.contains("ignored") })
        #expect(image.notes.contains { $0.contains("clipped") })
        #expect(image.rangesFromMemory.count == 1)
        #expect(image.rangesFromMemory.first?.rva == 0x2E00)
        #expect(image.rangesFromMemory.first?.size == 0x200)
        // The end of the image holds the rebuilt metadata, replacing what was captured there.
        #expect(image.rangesOverwritten.first?.rva == 0x2E00)
        #expect(image.rangesOverwritten.first?.size == 0x200)
        #expect(try PEImage(bytes: MappedFile(bytes: image.bytes).bytes).identity.sizeOfImage == 0x3000)
    }

    @Test("thousands of scattered captured pages are placed and reported")
    func scatteredPages() throws {
        var pages = [(rva: UInt32, bytes: [UInt8])]()
        for page in stride(from: 1, to: 0x2000, by: 2) {
            pages.append((UInt32(page) * 0x1000, [UInt8](repeating: UInt8(truncatingIfNeeded: page) | 1, count: 0x1000)))
        }
        let image = try RescueImageBuilder.build(spec(sizeOfImage: 0x200_0000, captured: pages))
        #expect(image.rangesFromMemory.count == pages.count)
        #expect(image.bytes[0x3000] == 3 && image.bytes[0x4000] == 0 && image.bytes[0x1FF_D000] == 0xFD)
        #expect(image.notes.contains { $0.hasPrefix("from memory: 0x1000000 bytes in 4096 range(s)") })
        // The last captured page holds the rebuilt metadata.
        #expect(image.rangesOverwritten.map(\.rva) == [0x1FF_F000])
    }

    @Test("overlapping captured ranges: the later one wins")
    func overlapping() throws {
        let first = [UInt8](repeating: 0xAA, count: 0x800)
        let second = [UInt8](repeating: 0xBB, count: 0x100)
        let image = try RescueImageBuilder.build(spec(sizeOfImage: 0x4000, captured: [(0x1000, first), (0x1400, second)]))
        #expect(image.bytes[0x13FF] == 0xAA)
        #expect(image.bytes[0x1400] == 0xBB)
        #expect(image.bytes[0x1500] == 0xAA)
        #expect(image.notes.contains { $0.contains("overlap") })
        #expect(image.rangesFromMemory.count == 1)
    }

    @Test("version info that is not VS_FIXEDFILEINFO gives no version resource")
    func badFixedFileInfo() throws {
        var bad = spec()
        bad.fixedFileInfo = [0xDEAD_BEEF] + [UInt32](repeating: 0, count: 12)
        let image = try RescueImageBuilder.build(bad)
        #expect(image.notes.contains { $0.contains("signature") })
        #expect(try PEImage(bytes: MappedFile(bytes: image.bytes).bytes).versionInfo() == nil)
        bad.fixedFileInfo = [0xFEEF_04BD, 1]
        #expect(try RescueImageBuilder.build(bad).notes.contains { $0.contains("13") })
    }

    @Test("a captured header page that is not a PE is replaced by rebuilt headers")
    func garbageHeaderPage() throws {
        var page = RescueBytes.pattern(9, count: 0x1000)
        page[0] = 0x4D
        page[1] = 0x5A
        page.replaceSubrange(0x3C..<0x40, with: [0xF0, 0xFF, 0xFF, 0xFF])
        let image = try RescueImageBuilder.build(spec(captured: [(0, page)]))
        #expect(!image.headersFromMemory)
        #expect(image.notes.contains { $0.contains("captured header page not used") })
        #expect(image.rangesOverwritten.first?.rva == 0)
        #expect(try PEImage(bytes: MappedFile(bytes: image.bytes).bytes).identity.timeDateStamp == 0x1234_5678)
    }

    @Test("the fixture's captured headers are kept; its debug directory when captured, else rebuilt")
    func fixtureHeaders() throws {
        let mapped = try fixtureMapped()
        let full = try RescueImageBuilder.build(
            fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: mapped.memory.count)))
        #expect(full.headersFromMemory)
        #expect(full.notes.contains("debug directory and CodeView record came from memory"))
        let fullImage = try PEImage(bytes: MappedFile(bytes: full.bytes).bytes)
        #expect(fullImage.optionalHeader.directory(.debug)?.virtualAddress == mapped.debugDirectory.rva)
        #expect(fullImage.sections.map(\.name) == [".text", ".rdata", ".data", ".pdata"])
        // Only header fields were rewritten (FileAlignment, SizeOfHeaders, CheckSum, ImageBase,
        // section raw pointers and sizes, debug entries' PointerToRawData).
        #expect(full.rangesOverwritten.allSatisfy { $0.rva < 0x400 || ($0.rva >= 0x2364 && $0.rva < 0x2364 + 0x38) })
        #expect(full.rangesFromMemory.count == 1 && full.rangesFromMemory[0].size == mapped.sizeOfImage)

        let partial = try RescueImageBuilder.build(
            fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: 0x2000)))
        #expect(partial.headersFromMemory)
        #expect(partial.notes.contains { $0.hasPrefix("debug directory rebuilt") })
        let partialImage = try PEImage(bytes: MappedFile(bytes: partial.bytes).bytes)
        #expect(partialImage.sections.map(\.name) == [".text", ".rdata", ".data", ".rescue"])
        #expect(partialImage.optionalHeader.directory(.debug)?.virtualAddress == 0x4000)
        // Imports and the IAT live in .rdata, which was not captured: their directories are cleared.
        #expect(partialImage.optionalHeader.directory(.import) == nil)
        #expect(partialImage.optionalHeader.directory(.exception) == nil)
        #expect(Array(partial.bytes[0x1000..<0x2000]) == Array(mapped.memory[0x1000..<0x2000]))
    }

    @Test("a captured SizeOfHeaders of 0 is raised to cover the section table")
    func zeroSizeOfHeaders() throws {
        let mapped = try fixtureMapped()
        var memory = mapped.memory
        let optional = Int(RescueBytes.le32(memory, 0x3C)) + 24
        memory.replaceSubrange((optional + 60)..<(optional + 64), with: RescueBytes.put32(0))
        let image = try RescueImageBuilder.build(
            fixtureSpec(mapped, captured: RescueBytes.pages(memory, from: 0, to: memory.count)))
        #expect(image.headersFromMemory)
        #expect(RescueBytes.le32(image.bytes, optional + 60) == 0x1000)
        #expect(try PEImage(bytes: MappedFile(bytes: image.bytes).bytes).codeView()?.age == 1)
    }

    @Test("random specs and damaged header pages never trap")
    func randomSpecs() throws {
        let mapped = try fixtureMapped()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let machines: [Machine] = [.i386, .amd64, .arm64, .armNT]
        for round in 0..<150 {
            let sizes: [UInt32] = [0x200, 0x400, 0x1000, 0x1200, 0x3000, 0x5000, 0x2D000, UInt32(next() % 0x40000)]
            var spec = RescueImageSpec(
                machine: machines[Int(next() % 4)], imageBase: next() % 2 == 0 ? 0x40_0000 : next() << 16,
                sizeOfImage: sizes[Int(next() % UInt64(sizes.count))], timeDateStamp: UInt32(truncatingIfNeeded: next()),
                checkSum: UInt32(truncatingIfNeeded: next()), isDLL: next() % 2 == 0,
                codeViewRecord: next() % 4 == 0
                    ? []
                    : RescueBytes.codeView(guid: rescueGUID, age: 1, name: String(repeating: "n", count: Int(next() % 0x1400))),
                miscRecord: next() % 3 == 0 ? RescueBytes.misc(name: "x.dbg") : nil,
                fixedFileInfo: next() % 2 == 0 ? RescueBytes.fixedFileInfo(1, 2, 3, 4, dll: true) : nil)
            if round % 3 == 0 {
                // The fixture's headers with a few bytes flipped, claiming the spec's identity half the time.
                var page = Array(mapped.memory[0..<0x1000])
                for _ in 0..<Int(next() % 6) { page[Int(next() % 0x400)] ^= UInt8(truncatingIfNeeded: next() | 1) }
                if next() % 2 == 0 {
                    spec.machine = .amd64
                    spec.timeDateStamp = mapped.timeDateStamp
                    spec.sizeOfImage = mapped.sizeOfImage
                    if spec.imageBase > UInt64(UInt32.max) || next() % 2 == 0 { spec.imageBase = 0x1_4000_0000 }
                }
                spec.capturedMemory.append((0, page))
            }
            for _ in 0..<Int(next() % 4) {
                spec.capturedMemory.append(
                    (UInt32(next() % 0x50000), RescueBytes.pattern(UInt8(round & 0xFF), count: Int(next() % 0x3000))))
            }
            do {
                let image = try RescueImageBuilder.build(spec)
                let pe = try PEImage(bytes: MappedFile(bytes: image.bytes).bytes)
                #expect(pe.identity.timeDateStamp == spec.timeDateStamp, "round \(round)")
                #expect(pe.identity.sizeOfImage == spec.sizeOfImage, "round \(round)")
                #expect(pe.identity.checkSum == spec.checkSum, "round \(round)")
                if !spec.codeViewRecord.isEmpty, !image.headersFromMemory {
                    let entry = try #require(try pe.debugDirectory().first { $0.type == .codeView }, "round \(round)")
                    #expect(try pe.debugDataBytes(entry).array == spec.codeViewRecord, "round \(round)")
                }
            } catch let error as ParseError {
                #expect(error.field.hasPrefix("RescueImageSpec."), "round \(round): \(error)")
            }
        }
    }
}
