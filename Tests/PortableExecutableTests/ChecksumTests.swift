import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("PE checksum", .ownThread)
struct ChecksumTests {
    // The CheckSum fields of Debian's Wine 8.0 DLLs do not match their bytes: pefile's
    // generate_checksum() disagrees with them exactly as we do (seen in generated/wine-x86_64-windows;
    // the packaging presumably changed the files after the linker wrote the field).
    static let staleCheckSums: Set<String> = [
        "generated/wine-x86_64-windows/kernel32.dll",
        "generated/wine-x86_64-windows/kernelbase.dll",
        "generated/wine-x86_64-windows/ntdll.dll",
    ]

    @Test("computed checksum equals pefile's generate_checksum() and the stored CheckSum", arguments: peFixtures)
    func checksum(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let computed = image.computeChecksum()
        #expect(UInt64(computed) == u64(oracle["generatedChecksum"]))
        let stored = image.optionalHeader.checkSum
        guard stored != 0 else { return }
        if Self.staleCheckSums.contains(relative(path)) {
            #expect(computed != stored)
        } else {
            #expect(computed == stored, "stored 0x\(hex(stored)), computed 0x\(hex(computed))")
        }
    }

    @Test("images with a non-zero CheckSum are among the fixtures")
    func someStoredChecksums() throws {
        let stored = try peFixtures.filter { try PEImage(path: $0).optionalHeader.checkSum != 0 }
        // basic32-dwarf.dll, basic64-dwarf.dll, hello-dwarf.exe and the two Sentry sample DLLs carry valid ones.
        #expect(stored.count - Self.staleCheckSums.count >= 5)
    }

    @Test("odd-length files and the CheckSum field")
    func smallInputs() {
        // Words 0x0201, 0x0003 (odd last byte), sum 0x0204, plus length 3.
        let odd = MappedFile(bytes: [1, 2, 3]).bytes
        #expect(PEImage.checksum(of: odd, checkSumFieldOffset: -1) == 0x0204 + 3)
        // The field's bytes do not count.
        let withField = MappedFile(bytes: [1, 0, 0xFF, 0xFF, 0xFF, 0xFF]).bytes
        #expect(PEImage.checksum(of: withField, checkSumFieldOffset: 2) == 1 + 6)
        // End-around carry: 0xFFFF + 0x0002 folds to 0x0002.
        let carry = MappedFile(bytes: [0xFF, 0xFF, 0x02, 0x00]).bytes
        #expect(PEImage.checksum(of: carry, checkSumFieldOffset: -1) == 0x0002 + 4)
    }
}
