import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

/// One rescued-image scenario: a spec and what the image must show.
struct RescueCase: Sendable, CustomTestStringConvertible {
    var name: String
    var make: @Sendable () throws -> RescueImageSpec
    /// Whether the captured header page must be used.
    var headersFromMemory = false
    /// Whether the module's own debug directory must be kept (its address stays the original one).
    var debugFromMemory = false
    /// The shared fixture the case starts from: pefile warnings it gives for that file are not the writer's doing.
    var source: String?
    var testDescription: String { name }
}

let rescueGUID: [UInt8] = [0x78, 0x56, 0x34, 0x12, 0xBC, 0x9A, 0xF0, 0xDE, 1, 2, 3, 4, 5, 6, 7, 8]
let fixtureExe = "generated/pe/x64/fixture.exe"

func fixtureMapped(_ relative: String = fixtureExe) throws -> RescueBytes.Mapped {
    let path = TestEnvironment.shared(relative)
    guard let data = FileManager.default.contents(atPath: path) else {
        throw OracleFailure("fixture \(path) is missing")
    }
    return RescueBytes.map([UInt8](data))
}

/// The fixture's identity at a load address other than its preferred base (as after ASLR).
func fixtureSpec(_ mapped: RescueBytes.Mapped, captured: [(rva: UInt32, bytes: [UInt8])], isDLL: Bool = false)
    -> RescueImageSpec
{
    RescueImageSpec(
        machine: Machine(rawValue: mapped.machine), imageBase: mapped.machine == 0x14C ? 0x6F00_0000 : 0x7FF6_1234_0000,
        sizeOfImage: mapped.sizeOfImage, timeDateStamp: mapped.timeDateStamp, checkSum: 0x0001_2345, isDLL: isDLL,
        codeViewRecord: mapped.codeView, capturedMemory: captured)
}

let rescueCases: [RescueCase] = [
    RescueCase(name: "x86 DLL, CodeView, Misc, version, 0x2d000, captured pages") {
        RescueImageSpec(
            machine: .i386, imageBase: 0x1000_0000, sizeOfImage: 0x2D000, timeDateStamp: 0x5AB3_8077, checkSum: 0x3_1A2B,
            isDLL: true, codeViewRecord: RescueBytes.codeView(guid: rescueGUID, age: 3, name: "C:\\build\\x86\\lost.pdb"),
            miscRecord: RescueBytes.misc(name: "lost.dbg"), fixedFileInfo: RescueBytes.fixedFileInfo(1, 2, 3, 4, dll: true),
            capturedMemory: [
                (0x1000, RescueBytes.pattern(1, count: 0x1000)), (0x5000, RescueBytes.pattern(2, count: 0x2345)),
                (0x2C000, RescueBytes.pattern(3, count: 0x1000)),
            ])
    },
    RescueCase(name: "x64 EXE, CodeView only, 0x3000") {
        RescueImageSpec(
            machine: .amd64, imageBase: 0x1_4000_0000, sizeOfImage: 0x3000, timeDateStamp: 0x6000_0001, checkSum: 0,
            isDLL: false, codeViewRecord: RescueBytes.codeView(guid: rescueGUID, age: 1, name: "app.pdb"))
    },
    RescueCase(name: "ARM64 DLL, CodeView and version, tiny 0x1000") {
        RescueImageSpec(
            machine: .arm64, imageBase: 0x1_8000_0000, sizeOfImage: 0x1000, timeDateStamp: 0x6123_4567, checkSum: 0xABCD,
            isDLL: true, codeViewRecord: RescueBytes.codeView(guid: rescueGUID, age: 0x11, name: "D:\\a\\arm64\\tiny.pdb"),
            fixedFileInfo: RescueBytes.fixedFileInfo(10, 0, 22621, 1, dll: true),
            capturedMemory: [(0x400, RescueBytes.pattern(4, count: 0x100))])
    },
    RescueCase(name: "x64 DLL without CodeView (Wine), version, 0x2d000") {
        RescueImageSpec(
            machine: .amd64, imageBase: 0x6_FFFF_0000, sizeOfImage: 0x2D000, timeDateStamp: 0x4242_4242, checkSum: 0x2E5F1,
            isDLL: true, fixedFileInfo: RescueBytes.fixedFileInfo(6, 1, 7601, 0, dll: true))
    },
    RescueCase(name: "ARMNT DLL, CodeView and Misc, 0x3000") {
        RescueImageSpec(
            machine: .armNT, imageBase: 0x7000_0000, sizeOfImage: 0x3000, timeDateStamp: 0x5000_0000, checkSum: 0x1234,
            isDLL: true, codeViewRecord: RescueBytes.codeView(guid: rescueGUID, age: 2, name: "arm.pdb"),
            miscRecord: RescueBytes.misc(name: "arm.dbg"))
    },
    RescueCase(name: "x64 EXE, nothing but identity, 0x1000") {
        RescueImageSpec(
            machine: .amd64, imageBase: 0x1_4000_0000, sizeOfImage: 0x1000, timeDateStamp: 1, checkSum: 2, isDLL: false)
    },
    RescueCase(name: "x86 EXE, SizeOfImage 0x3234 not a multiple of 0x200") {
        RescueImageSpec(
            machine: .i386, imageBase: 0x40_0000, sizeOfImage: 0x3234, timeDateStamp: 0x3333_3333, checkSum: 0x9999,
            isDLL: false, codeViewRecord: RescueBytes.codeView(guid: rescueGUID, age: 5, name: "odd.pdb"),
            fixedFileInfo: RescueBytes.fixedFileInfo(1, 0, 0, 0, dll: false),
            capturedMemory: [(0x600, RescueBytes.pattern(7, count: 0x800))])
    },
    RescueCase(name: "x64 CodeView record larger than a page") {
        RescueImageSpec(
            machine: .amd64, imageBase: 0x1_4000_0000, sizeOfImage: 0x4000, timeDateStamp: 0x7777, checkSum: 0x8888,
            isDLL: false,
            codeViewRecord: RescueBytes.codeView(
                guid: rescueGUID, age: 9, name: String(repeating: "long\\", count: 1100) + "x.pdb"))
    },
    RescueCase(
        name: "fixture.exe fully captured: real headers and debug directory",
        make: {
            let mapped = try fixtureMapped()
            return fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: mapped.memory.count))
        }, headersFromMemory: true, debugFromMemory: true, source: fixtureExe),
    RescueCase(
        name: "fixture.exe header and .text captured: debug directory rebuilt",
        make: {
            let mapped = try fixtureMapped()
            return fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: 0x2000))
        }, headersFromMemory: true, source: fixtureExe),
    RescueCase(
        name: "fixture.exe fully captured, version from the dump: resource rebuilt",
        make: {
            let mapped = try fixtureMapped()
            var spec = fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: mapped.memory.count))
            spec.fixedFileInfo = RescueBytes.fixedFileInfo(2, 0, 0, 7, dll: false)
            return spec
        }, headersFromMemory: true, debugFromMemory: true, source: fixtureExe),
    RescueCase(
        name: "x86 fixturedll.dll fully captured: real PE32 headers",
        make: {
            let mapped = try fixtureMapped("generated/pe/x86/fixturedll.dll")
            return fixtureSpec(
                mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: mapped.memory.count), isDLL: true)
        }, headersFromMemory: true, debugFromMemory: true, source: "generated/pe/x86/fixturedll.dll"),
    RescueCase(
        name: "ARM64 fixturedll.dll header page only, version from the dump",
        make: {
            let mapped = try fixtureMapped("generated/pe/arm64/fixturedll.dll")
            var spec = fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: 0x1000), isDLL: true)
            spec.fixedFileInfo = RescueBytes.fixedFileInfo(3, 1, 4, 1, dll: true)
            return spec
        }, headersFromMemory: true, source: "generated/pe/arm64/fixturedll.dll"),
    RescueCase(name: "fixture.exe header page with another TimeDateStamp: headers rebuilt") {
        let mapped = try fixtureMapped()
        var spec = fixtureSpec(mapped, captured: RescueBytes.pages(mapped.memory, from: 0, to: mapped.memory.count))
        spec.timeDateStamp &+= 1
        return spec
    },
]

@Suite("RescueImage", .ownThread)
struct RescueImageTests {
    @Test("rescued images read back with the dump's identity (PEImage, pefile, llvm-readobj, LIEF)", arguments: rescueCases)
    func readsBack(_ rescue: RescueCase) throws {
        let spec = try rescue.make()
        let image = try RescueImageBuilder.build(spec)
        let path = try writeTemporary(image.bytes, name: "rescued.bin")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(image.headersFromMemory == rescue.headersFromMemory, "\(image.notes)")
        #expect(!image.notes.isEmpty)

        try checkReader(spec, image, path: path, debugFromMemory: rescue.debugFromMemory)
        try checkLayout(spec, image)
        try checkPefile(spec, path: path, source: rescue.source)
        try checkLLVM(spec, path: path)
        try checkLIEF(spec, path: path)
    }

    /// LIEF reads the same identity, CodeView record and fixed file info.
    func checkLIEF(_ spec: RescueImageSpec, path: String) throws {
        let result = try runProcess(TestEnvironment.python, ["-c", rescueLiefScript, path])
        guard result.status == 0 else { throw OracleFailure("LIEF failed on \(path): \(result.stderrText)") }
        let json = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        #expect(u64(json["machine"]) == UInt64(spec.machine.rawValue))
        #expect(u64(json["timestamp"]) == UInt64(spec.timeDateStamp))
        #expect(u64(json["sizeOfImage"]) == UInt64(spec.sizeOfImage))
        #expect(u64(json["checksum"]) == UInt64(spec.checkSum))
        #expect(u64(json["imageBase"]) == spec.imageBase)
        if spec.codeViewRecord.isEmpty {
            #expect(json["cv"] is NSNull)
        } else {
            let cv = try #require(json["cv"] as? [String: Any], "LIEF found no CodeView record")
            #expect((cv["signature"] as? [Any])?.compactMap { u64($0).map { UInt8($0) } } == Array(spec.codeViewRecord[4..<20]))
            #expect(u64(cv["age"]) == UInt64(RescueBytes.le32(spec.codeViewRecord, 20)))
            #expect(cv["name"] as? String == String(decoding: spec.codeViewRecord[24...].prefix { $0 != 0 }, as: UTF8.self))
        }
        let fixed = (json["fixed"] as? [Any])?.compactMap { u64($0).map { UInt32($0) } }
        #expect(fixed == spec.fixedFileInfo)
    }

    /// Our reader sees the dump's identity, CodeView record and version.
    func checkReader(_ spec: RescueImageSpec, _ image: RescuedImage, path: String, debugFromMemory: Bool) throws {
        let pe = try PEImage(path: path)
        let wide = [Machine.amd64, .arm64].contains(spec.machine)
        #expect(pe.machine == spec.machine)
        #expect(pe.isPE32Plus == wide)
        #expect(pe.fileHeader.timeDateStamp == spec.timeDateStamp)
        #expect(pe.optionalHeader.sizeOfImage == spec.sizeOfImage)
        #expect(pe.optionalHeader.checkSum == spec.checkSum)
        #expect(pe.optionalHeader.imageBase == spec.imageBase)
        #expect(pe.fileHeader.characteristics.contains(.executableImage))
        #expect(pe.fileHeader.characteristics.contains(.dll) == spec.isDLL)
        let codeView = try pe.codeView()
        if spec.codeViewRecord.isEmpty {
            #expect(codeView == nil)
        } else {
            let expectedName = String(decoding: spec.codeViewRecord[24...].prefix { $0 != 0 }, as: UTF8.self)
            guard case .pdb70(let guid, let age, let name) = codeView else {
                Issue.record("no PDB70 CodeView record read back")
                return
            }
            #expect(guid.compactHex == RescueBytes.guidHex(Array(spec.codeViewRecord[4..<20])))
            #expect(age == RescueBytes.le32(spec.codeViewRecord, 20))
            #expect(name == expectedName)
            let entry = try #require(try pe.debugDirectory().first { $0.type == .codeView })
            #expect(try pe.debugDataBytes(entry).array == spec.codeViewRecord)
            #expect(entry.pointerToRawData == entry.addressOfRawData)
            if !debugFromMemory { #expect(entry.timeDateStamp == spec.timeDateStamp) }
        }
        if let misc = spec.miscRecord {
            let entry = try #require(try pe.debugDirectory().first { $0.type == .misc })
            #expect(try pe.debugDataBytes(entry).array == misc)
        }
        let version = try pe.versionInfo()
        if let fixed = spec.fixedFileInfo {
            let info = try #require(version?.fixedFileInfo)
            #expect(
                [
                    info.signature, info.structVersion, info.fileVersionMS, info.fileVersionLS, info.productVersionMS,
                    info.productVersionLS, info.fileFlagsMask, info.fileFlags, info.fileOS, info.fileType,
                    info.fileSubtype, info.fileDateMS, info.fileDateLS,
                ] == fixed)
        } else {
            #expect(version == nil)
        }
    }

    /// Memory layout, sections covering the image, captured bytes at offset == RVA.
    func checkLayout(_ spec: RescueImageSpec, _ image: RescuedImage) throws {
        let bytes = image.bytes
        let nt = Int(RescueBytes.le32(bytes, 0x3C))
        let optional = nt + 24
        let sectionAlignment = RescueBytes.le32(bytes, optional + 32)
        let fileAlignment = RescueBytes.le32(bytes, optional + 36)
        let sizeOfHeaders = RescueBytes.le32(bytes, optional + 60)
        #expect(sectionAlignment == fileAlignment)
        #expect(sectionAlignment == 0x1000 || sectionAlignment == 0x200)
        if spec.sizeOfImage % 0x1000 == 0 && spec.sizeOfImage >= 0x3000 { #expect(sectionAlignment == 0x1000) }
        #expect(bytes.count == (Int(spec.sizeOfImage) + 0x1FF) & ~0x1FF)
        let count = Int(RescueBytes.le16(bytes, nt + 6))
        let table = optional + Int(RescueBytes.le16(bytes, nt + 20))
        var expectedStart = sizeOfHeaders
        var lastEnd: UInt32 = sizeOfHeaders
        for index in 0..<count {
            let header = table + index * 40
            let virtualSize = RescueBytes.le32(bytes, header + 8)
            let va = RescueBytes.le32(bytes, header + 12)
            let rawSize = RescueBytes.le32(bytes, header + 16)
            let rawPointer = RescueBytes.le32(bytes, header + 20)
            #expect(rawPointer == va, "section \(index)")
            #expect(va == expectedStart, "section \(index) leaves a gap")
            #expect(rawSize % fileAlignment == 0)
            #expect(Int(rawPointer) + Int(rawSize) <= bytes.count)
            lastEnd = va + virtualSize
            expectedStart = (lastEnd + sectionAlignment - 1) & ~(sectionAlignment - 1)
        }
        if image.headersFromMemory {
            #expect((lastEnd + sectionAlignment - 1) & ~(sectionAlignment - 1) == spec.sizeOfImage)
        } else {
            #expect(lastEnd == spec.sizeOfImage)
        }
        // Captured bytes sit at their RVAs, except where the result says they were replaced.
        func replaced(_ offset: Int) -> Bool {
            image.rangesOverwritten.contains { offset >= Int($0.rva) && offset < Int($0.rva) + Int($0.size) }
        }
        var checked = 0
        for (rva, data) in spec.capturedMemory {
            for (index, byte) in data.enumerated() where Int(rva) + index < Int(spec.sizeOfImage) {
                let offset = Int(rva) + index
                if replaced(offset) { continue }
                checked += 1
                if bytes[offset] != byte {
                    Issue.record("captured byte at RVA 0x\(String(offset, radix: 16)) not at its file offset")
                    return
                }
            }
        }
        let captured = spec.capturedMemory.reduce(0) { $0 + $1.bytes.count }
        #expect(captured == 0 || checked > 0)
        #expect(image.rangesFromMemory.isEmpty == (captured == 0))
        // Overwritten ranges lie inside the ranges from memory.
        for range in image.rangesOverwritten {
            #expect(image.rangesFromMemory.contains { range.rva >= $0.rva && range.rva + range.size <= $0.rva + $0.size })
        }
    }

    /// pefile parses every directory without complaint and reads the same identity.
    func checkPefile(_ spec: RescueImageSpec, path: String, source: String?) throws {
        func run(_ path: String) throws -> [String: Any] {
            let result = try runProcess(TestEnvironment.python, ["-c", rescuePefileScript, path])
            guard result.status == 0 else { throw OracleFailure("pefile failed on \(path): \(result.stderrText)") }
            return try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        }
        let json = try run(path)
        // Warnings pefile gives for the original binary (fixture.exe: "Imported symbols contain
        // entries typical of packed executables", about its own imports) come with its headers.
        let inherited = try source.map { try run(TestEnvironment.shared($0))["warnings"] as? [String] ?? [] } ?? []
        // A stand-in image is mostly zero-filled by design; pefile's byte-frequency heuristic
        // ("Byte 0x00 makes up ...% of the file's contents") says nothing about its structure.
        let warnings = (json["warnings"] as? [String] ?? []).filter {
            !$0.hasPrefix("Byte 0x00 makes up") && !inherited.contains($0)
        }
        #expect(warnings.isEmpty, "pefile warnings: \(warnings)")
        #expect(u64(json["machine"]) == UInt64(spec.machine.rawValue))
        #expect(u64(json["timestamp"]) == UInt64(spec.timeDateStamp))
        #expect(u64(json["sizeOfImage"]) == UInt64(spec.sizeOfImage))
        #expect(u64(json["checksum"]) == UInt64(spec.checkSum))
        #expect(u64(json["imageBase"]) == spec.imageBase)
        #expect(u64(json["sectionAlignment"]) == u64(json["fileAlignment"]))
        for section in json["sections"] as? [[String: Any]] ?? [] {
            #expect(u64(section["va"]) == u64(section["rawPointer"]))
        }
        let debug = json["debug"] as? [[String: Any]] ?? []
        if spec.codeViewRecord.isEmpty {
            #expect(!debug.contains { u64($0["type"]) == 2 })
        } else {
            let entry = try #require(debug.first { u64($0["type"]) == 2 }, "pefile found no CodeView entry")
            let cv = try #require(entry["cv"] as? [String: Any], "pefile did not decode the CodeView record")
            #expect(cv["guid"] as? String == RescueBytes.guidHex(Array(spec.codeViewRecord[4..<20])))
            #expect(u64(cv["age"]) == UInt64(RescueBytes.le32(spec.codeViewRecord, 20)))
            #expect(entry["data"] as? String == spec.codeViewRecord.map { String(format: "%02x", $0) }.joined())
        }
        if let misc = spec.miscRecord {
            let entry = try #require(debug.first { u64($0["type"]) == 4 }, "pefile found no Misc entry")
            #expect(entry["data"] as? String == misc.map { String(format: "%02x", $0) }.joined())
        }
        let fixed = (json["fixed"] as? [Any])?.compactMap { u64($0).map { UInt32($0) } }
        #expect(fixed == spec.fixedFileInfo)
    }

    /// llvm-readobj shows the same identity and PDB; llvm-objdump the same CheckSum (readobj 14 does not print it).
    func checkLLVM(_ spec: RescueImageSpec, path: String) throws {
        let result = try runProcess(
            "/usr/bin/llvm-readobj", ["--file-headers", "--sections", "--coff-debug-directory", path])
        #expect(result.status == 0, "llvm-readobj: \(result.stderrText)")
        #expect(result.stderrText.isEmpty, "llvm-readobj: \(result.stderrText)")
        let root = ReadobjNode.parse(result.stdoutText)
        let fileHeader = try #require(root.first("ImageFileHeader"))
        #expect(fileHeader.number("Machine") == UInt64(spec.machine.rawValue))
        #expect(fileHeader.number("TimeDateStamp") == UInt64(spec.timeDateStamp))
        let optional = try #require(root.first("ImageOptionalHeader"))
        #expect(optional.number("SizeOfImage") == UInt64(spec.sizeOfImage))
        #expect(optional.number("ImageBase") == spec.imageBase)
        #expect(optional.number("SectionAlignment") == optional.number("FileAlignment"))
        let entries = root.first("DebugDirectory")?.all("DebugEntry") ?? []
        if spec.codeViewRecord.isEmpty {
            #expect(!entries.contains { $0.number("Type") == 2 })
        } else {
            let entry = try #require(entries.first { $0.number("Type") == 2 }, "llvm-readobj found no CodeView entry")
            let info = try #require(entry.first("PDBInfo"), "llvm-readobj did not decode the PDB info")
            let guidBytes = (info["PDBGUID"] ?? "").filter { $0.isHexDigit || $0 == " " }.split(separator: " ")
                .compactMap { UInt8($0, radix: 16) }
            #expect(guidBytes == Array(spec.codeViewRecord[4..<20]))
            #expect(info.number("PDBAge") == UInt64(RescueBytes.le32(spec.codeViewRecord, 20)))
            #expect(info["PDBFileName"] == String(decoding: spec.codeViewRecord[24...].prefix { $0 != 0 }, as: UTF8.self))
        }
        let objdump = try runProcess("/usr/bin/llvm-objdump", ["-p", path])
        #expect(objdump.status == 0, "llvm-objdump: \(objdump.stderrText)")
        let line = objdump.stdoutText.split(separator: "\n").first { $0.hasPrefix("CheckSum") }
        let value = line.flatMap { UInt32($0.split(separator: " ", omittingEmptySubsequences: true).last ?? "", radix: 16) }
        #expect(value == spec.checkSum)
    }
}
