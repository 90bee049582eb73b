import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

/// Runs every decoder; returns normally whatever the bytes (errors are expected, traps are bugs).
func decodeEverything(_ bytes: [UInt8]) {
    let view = MappedFile(bytes: bytes).bytes
    guard let image = try? PEImage(bytes: view) else { return }
    _ = image.computeChecksum()
    _ = image.identity
    if let entries = try? image.debugDirectory() {
        for entry in entries { _ = try? image.debugData(entry) }
    }
    _ = try? image.exports()
    _ = try? image.versionInfo()
    if let table = try? image.x64FunctionTable() {
        for function in table.functions.prefix(64) { _ = try? image.x64UnwindChain(for: function) }
    }
    if let table = try? image.arm64FunctionTable() {
        for function in table.functions.prefix(64) {
            if case .unpacked(let info)? = try? image.arm64Unwind(for: function) {
                for scope in info.epilogScopes { _ = try? info.epilogCodes(startingAt: Int(scope.startIndex)) }
            }
        }
    }
}

@Suite("Malformed images", .ownThread)
struct MalformedTests {
    @Test("the synthetic image reads back as written")
    func syntheticImage() throws {
        let image = try PEImage(bytes: MappedFile(bytes: SyntheticImage().bytes).bytes)
        #expect(image.machine == .amd64)
        #expect(image.sections.map(\.name) == [".text", ".rdata"])
        #expect(image.identity.codeID == "5C9E09593000")
        #expect(image.identity.debugID == "0403020106050807090A0B0C0D0E0F103")
        #expect(image.identity.pdbName == "x.pdb")
        let exports = try #require(try image.exports())
        #expect(exports.dllName == "test.dll")
        #expect(exports.functions.map(\.names) == [["Func"], []])
        #expect(exports.functions.map(\.forwarder) == [nil, "NTDLL.Rtl"])
        #expect(exports.functions.map(\.ordinal) == [1, 2])
        let table = try #require(try image.x64FunctionTable())
        let chain = try image.x64UnwindChain(for: table.functions[0])
        #expect(chain.map(\.rva) == [0x2180, 0x21A0])
        #expect(chain[0].codes.map(\.operation) == [.allocate(size: 40)])
        #expect(chain[1].codes.map(\.operation) == [.pushNonvolatile(X64Register(rawValue: 3))])
        let version = try #require(try image.versionInfo())
        #expect(version.fixedFileInfo?.fileVersion == "1.2.3.4")
    }

    @Test(
        "truncated copies give errors, never a trap",
        arguments: [
            "synthetic", "generated/pe/x64/fixture.exe", "generated/pe/arm64/fixture.exe", "generated/pe/x86/fixturedll.dll",
            "symbolic/symbolic-testutils/fixtures/windows/CrashWithException.exe",
            "symbolic/symbolic-testutils/fixtures/windows/cfi_chained_loop.exe",
            "symbolic/symbolic-testutils/fixtures/windows/Sentry.Samples.Console.Basic.dll",
        ])
    func truncations(name: String) throws {
        let bytes: [UInt8]
        if name == "synthetic" {
            bytes = SyntheticImage().bytes
        } else {
            bytes = try #require(FileManager.default.contents(atPath: TestEnvironment.shared(name))).map { $0 }
        }
        let whole = try PEImage(bytes: MappedFile(bytes: bytes).bytes)
        let tableEnd = Int(whole.ntHeadersOffset) + 24 + Int(whole.fileHeader.sizeOfOptionalHeader) + 40 * whole.sections.count
        var cuts = Set(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)))
        cuts.formUnion(0..<min(bytes.count, tableEnd + 0x100))  // every cut through the headers
        for cut in cuts.sorted() {
            let prefix = Array(bytes.prefix(cut))
            decodeEverything(prefix)
            // Every cut inside the headers and section table is rejected with an error.
            if cut < tableEnd {
                #expect(throws: ParseError.self) { try PEImage(bytes: MappedFile(bytes: prefix).bytes) }
            }
        }
    }

    @Test("absurd counts and offsets are errors naming the field and offset")
    func absurdValues() throws {
        func open(_ edit: (inout SyntheticImage) -> Void) -> PEImage? {
            var image = SyntheticImage()
            edit(&image)
            return try? PEImage(bytes: MappedFile(bytes: image.bytes).bytes)
        }
        func error(_ body: (PEImage) throws(ParseError) -> Void, _ edit: (inout SyntheticImage) -> Void) -> ParseError? {
            var image = SyntheticImage()
            edit(&image)
            do {
                let pe = try PEImage(bytes: MappedFile(bytes: image.bytes).bytes)
                try body(pe)
                return nil
            } catch {
                return error
            }
        }
        // e_lfanew far outside the file.
        let lfanew = error({ _ in }) { $0.put32(0x3C, 0xFFFF_FFF0) }
        #expect(lfanew?.field == "IMAGE_DOS_HEADER.e_lfanew")
        #expect(lfanew?.offset == 0x3C)
        // Bad signatures.
        #expect(error({ _ in }) { $0.put16(0, 0x1234) }?.field == "IMAGE_DOS_HEADER.e_magic")
        #expect(error({ _ in }) { $0.put32(0x80, 0x1234) }?.offset == 0x80)
        #expect(error({ _ in }) { $0.put16(SyntheticImage.optionalOffset, 0x999) }?.field == "IMAGE_OPTIONAL_HEADER.Magic")
        // 65535 sections cannot fit in the file.
        let sections = error({ _ in }) { $0.put16(0x86, 0xFFFF) }
        if case .countTooLarge? = sections?.kind {
        } else {
            Issue.record("expected countTooLarge, got \(String(describing: sections))")
        }
        #expect(sections?.offset == Int64(SyntheticImage.sectionTable))
        // SizeOfOptionalHeader past the end of the file.
        #expect(error({ _ in }) { $0.put16(0x94, 0xFFFF) }?.field == "IMAGE_OPTIONAL_HEADER")
        // NumberOfFunctions of 2^32 - 1: rejected before anything is allocated.
        let functions = error({ pe throws(ParseError) in _ = try pe.exports() }) { $0.put32(0x400 + 20, 0xFFFF_FFFF) }
        #expect(functions?.field == "IMAGE_EXPORT_DIRECTORY.AddressOfFunctions")
        let names = error({ pe throws(ParseError) in _ = try pe.exports() }) { $0.put32(0x400 + 24, 0x4000_0000) }
        #expect(names?.field == "IMAGE_EXPORT_DIRECTORY.AddressOfNames")
        // A directory whose RVA maps nowhere, and one whose size runs past its section.
        let debug = error({ pe throws(ParseError) in _ = try pe.debugDirectory() }) { $0.directory(6, rva: 0x9_0000, size: 28) }
        #expect(debug?.field == "IMAGE_DIRECTORY_ENTRY_DEBUG")
        #expect(debug?.offset == Int64(SyntheticImage.optionalOffset + 112 + 6 * 8))
        let exception = error({ pe throws(ParseError) in _ = try pe.x64FunctionTable() }) {
            $0.directory(3, rva: 0x2100, size: 0xFFFF_FF00)
        }
        if case .truncated? = exception?.kind {} else { Issue.record("expected truncated, got \(String(describing: exception))") }
        // CodeView data pointer outside the file.
        let cv = error({ pe throws(ParseError) in _ = try pe.codeView() }) {
            $0.put32(0x614, 0); $0.put32(0x618, 0x7FFF_FFF0)
        }
        #expect(cv?.field == "IMAGE_DEBUG_DIRECTORY.PointerToRawData")
        // Resource directory with 65535 + 65535 entries.
        let resources = error({ pe throws(ParseError) in _ = try pe.versionInfo() }) {
            $0.put16(0x700 + 12, 0xFFFF); $0.put16(0x700 + 14, 0xFFFF)
        }
        #expect(resources?.field == "IMAGE_RESOURCE_DIRECTORY.NumberOfIdEntries")
        // A version node claiming a length shorter than its header.
        let node = error({ pe throws(ParseError) in _ = try pe.versionInfo() }) { $0.put16(0x760, 2) }
        #expect(node?.field == "VS_VERSIONINFO.wLength")
        // Unwind codes whose count runs off the section; an unknown operation.
        let codes = error({ pe throws(ParseError) in
            _ = try pe.x64UnwindChain(for: RuntimeFunction(beginAddress: 0x1000, endAddress: 0x1010, unwindInfoAddress: 0x23FC))
        }) {
            $0.bytes[0x7FC] = 1; $0.bytes[0x7FE] = 0xFF
        }
        #expect(codes?.field == "UNWIND_INFO.UnwindCode")
        let op = error({ pe throws(ParseError) in _ = try X64UnwindInfo(at: 0x21A0, in: pe) }) { $0.bytes[0x5A5] = 0x0B }
        #expect(op?.field == "UNWIND_CODE.UnwindOp")
        #expect(op?.offset == 0x5A4)
        // Everything above still opens or fails cleanly through every decoder.
        #expect(open { $0.put32(0x400 + 20, 0xFFFF_FFFF) } != nil)
    }

    @Test("a chained-unwind loop is an error, and an over-long chain too")
    func chainLoops() throws {
        var synthetic = SyntheticImage()
        // Make the second UNWIND_INFO chain back to the first.
        synthetic.bytes[0x5A0] = 1 | (4 << 3)
        synthetic.put32(0x5A8, 0x1000); synthetic.put32(0x5AC, 0x1010); synthetic.put32(0x5B0, 0x2180)
        let image = try PEImage(bytes: MappedFile(bytes: synthetic.bytes).bytes)
        let table = try #require(try image.x64FunctionTable())
        let loop = try #require(throws: ParseError.self) { try image.x64UnwindChain(for: table.functions[0]) }
        #expect(loop.field == "UNWIND_INFO.ChainedFunction")
        #expect(loop.offset == 0x580)

        // An indirect entry (low bit set) pointing at itself.
        var indirect = SyntheticImage()
        indirect.put32(0x508, 0x2101)
        let second = try PEImage(bytes: MappedFile(bytes: indirect.bytes).bytes)
        let functions = try #require(try second.x64FunctionTable()).functions
        #expect(throws: ParseError.self) { try second.x64UnwindChain(for: functions[0]) }
    }

    @Test("a resource tree whose entries point back at shared tables is read once")
    func sharedResourceTables() throws {
        var synthetic = SyntheticImage()
        // The name table's entry points back at the root table (a directory cycle).
        synthetic.put32(0x700 + 0x18 + 20, 0x8000_0000)
        let image = try PEImage(bytes: MappedFile(bytes: synthetic.bytes).bytes)
        #expect(try image.resources(ofType: .id(16)).isEmpty)
        #expect(try image.versionInfo() == nil)
    }

    @Test("random byte flips in a real image never trap")
    func byteFlips() throws {
        let original = try #require(FileManager.default.contents(atPath: TestEnvironment.shared("generated/pe/x64/fixture.exe")))
            .map { $0 }
        var generator = SplitMix(seed: 0x5045)
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<8 {
                let index = Int(generator.next() % UInt64(bytes.count))
                bytes[index] = UInt8(truncatingIfNeeded: generator.next())
            }
            decodeEverything(bytes)
        }
        var synthetic = SyntheticImage().bytes
        for _ in 0..<400 {
            let index = Int(generator.next() % UInt64(synthetic.count))
            synthetic[index] = UInt8(truncatingIfNeeded: generator.next())
            decodeEverything(synthetic)
        }
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
