import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("Version resource", .ownThread)
struct VersionInfoTests {
    @Test("VS_FIXEDFILEINFO and StringFileInfo agree with pefile", arguments: peFixtures)
    func matchesPefile(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let info = try image.versionInfo()
        guard let expected = oracle["version"] as? [String: Any] else {
            #expect(info == nil)
            return
        }
        let version = try #require(info)
        let fixed = try #require(version.fixedFileInfo)
        let values = [
            fixed.signature, fixed.structVersion, fixed.fileVersionMS, fixed.fileVersionLS, fixed.productVersionMS,
            fixed.productVersionLS, fixed.fileFlagsMask, fixed.fileFlags, fixed.fileOS, fixed.fileType,
            fixed.fileSubtype, fixed.fileDateMS, fixed.fileDateLS,
        ].map(UInt64.init)
        #expect(values == (expected["fixed"] as? [Any])?.compactMap(u64))
        // pefile prints each Translation DWORD as its two words, language first: "0x0409 0x04b0".
        let translations = version.translations.flatMap { ["0x" + hex($0 & 0xFFFF, width: 4), "0x" + hex($0 >> 16, width: 4)] }
        #expect(translations.map { $0.lowercased() } == (expected["translations"] as? [String] ?? []).map { $0.lowercased() })
        let tables = expected["strings"] as? [String: [String: String]] ?? [:]
        #expect(Set(version.stringTables.map(\.key)) == Set(tables.keys))
        for table in version.stringTables {
            let ours = Dictionary(table.strings.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            #expect(ours == tables[table.key], "string table \(table.key)")
        }
    }

    @Test("a version resource read by hand: Wine's ntdll")
    func wineNtdll() throws {
        let image = try PEImage(path: TestEnvironment.shared("generated/wine-x86_64-windows/ntdll.dll"))
        let info = try #require(try image.versionInfo())
        #expect(info.fixedFileInfo?.signature == VSFixedFileInfo.signatureValue)
        #expect(info.string("CompanyName") == "Microsoft Corporation")
        #expect(info.string("OriginalFilename")?.lowercased() == "ntdll.dll")
        #expect(info.translations.isEmpty == false)
    }
}
