import BinaryReading
import TestSupport
import Testing

@testable import SymbolStore

@Suite(.ownThread) struct StoreKeyTests {
    static let guid = GUID(
        data1: 0x5A98_32E5, data2: 0x2872, data3: 0x41C1, data4: [0x83, 0x8E, 0xD9, 0x89, 0x14, 0xE9, 0xB7, 0xFF])

    @Test(arguments: [
        // PE: TimeDateStamp %08X, SizeOfImage %x.
        (
            FileIdentity(fileName: "ntdll.dll", identifier: .pe(timeDateStamp: 0x5AB3_8077, sizeOfImage: 0x9000)), KeyCasing.asIs,
            "ntdll.dll/5AB380779000/ntdll.dll"
        ),
        (
            FileIdentity(fileName: "foo.exe", identifier: .pe(timeDateStamp: 0x0862_5E11, sizeOfImage: 0x1F2000)), .asIs,
            "foo.exe/08625E111f2000/foo.exe"
        ),
        // PDB: GUID as 32 uppercase hex digits, age %X.
        (
            FileIdentity(fileName: "test_app.pdb", identifier: .pdb(guid: guid, age: 1)), .asIs,
            "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.pdb"
        ),
        (
            FileIdentity(fileName: "big.pdb", identifier: .pdb(guid: guid, age: 0x2A)), .asIs,
            "big.pdb/5A9832E5287241C1838ED98914E9B7FF2A/big.pdb"
        ),
        (
            FileIdentity(fileName: "vc140.pdb", identifier: .pdb(guid: guid, age: nil)), .asIs,
            "vc140.pdb/5A9832E5287241C1838ED98914E9B7FF/vc140.pdb"
        ),
        // SSQP: lowercase file name and GUID, age stays uppercase.
        (
            FileIdentity(fileName: "Big.PDB", identifier: .pdb(guid: guid, age: 0x2A)), .ssqp,
            "big.pdb/5a9832e5287241c1838ed98914e9b7ff2A/big.pdb"
        ),
        (
            FileIdentity(fileName: "NTDLL.DLL", identifier: .pe(timeDateStamp: 0x5AB3_8077, sizeOfImage: 0x9000)), .ssqp,
            "ntdll.dll/5ab380779000/ntdll.dll"
        ),
        // Portable PDB: age FFFFFFFF.
        (
            FileIdentity(fileName: "lib.pdb", identifier: .portablePDB(guid: guid)), .asIs,
            "lib.pdb/5A9832E5287241C1838ED98914E9B7FFFFFFFFFF/lib.pdb"
        ),
        // ELF and Mach-O (SSQP).
        (
            FileIdentity(fileName: "libc.so.6", identifier: .elf(buildID: [0xAB, 0xCD, 0x01], isDebugInfo: false)), .asIs,
            "libc.so.6/elf-buildid-abcd01/libc.so.6"
        ),
        (
            FileIdentity(fileName: "libc.so.6.debug", identifier: .elf(buildID: [0xAB, 0xCD, 0x01], isDebugInfo: true)), .asIs,
            "_.debug/elf-buildid-sym-abcd01/_.debug"
        ),
        (
            FileIdentity(fileName: "App", identifier: .machO(uuid: [0xDE, 0xAD], isDebugInfo: false)), .asIs,
            "App/mach-uuid-dead/App"
        ),
        (
            FileIdentity(fileName: "App", identifier: .machO(uuid: [0xDE, 0xAD], isDebugInfo: true)), .asIs,
            "_.dwarf/mach-uuid-sym-dead/_.dwarf"
        ),
        // Breakpad.
        (
            FileIdentity(fileName: "test_app.pdb", identifier: .breakpad(debugID: "5a9832e5287241c1838ed98914e9b7ff1")), .asIs,
            "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"
        ),
        (
            FileIdentity(fileName: "libfoo.so", identifier: .breakpad(debugID: "ABCDEF0123456789ABCDEF01234567890")), .asIs,
            "libfoo.so/ABCDEF0123456789ABCDEF01234567890/libfoo.so.sym"
        ),
    ])
    func keys(identity: FileIdentity, casing: KeyCasing, expected: String) {
        #expect(StoreKey(identity, casing: casing).path == expected)
    }

    @Test func compressedPointerAndTwoTier() {
        let key = StoreKey(FileIdentity(fileName: "foo.exe", identifier: .pe(timeDateStamp: 0x542D_5742, sizeOfImage: 0xF2000)))
        #expect(key.compressed.path == "foo.exe/542D5742f2000/foo.ex_")
        #expect(key.pointer.path == "foo.exe/542D5742f2000/file.ptr")
        #expect(key.relativePath(twoTier: true) == "fo/foo.exe/542D5742f2000/foo.exe")
        #expect(key.relativePath(twoTier: false) == "foo.exe/542D5742f2000/foo.exe")
    }

    @Test func debuginfod() {
        #expect(DebuginfodKey(buildID: [0x0A, 0xFF], artifact: .debuginfo).path == "buildid/0aff/debuginfo")
        #expect(DebuginfodKey(buildID: [0x0A, 0xFF], artifact: .executable).path == "buildid/0aff/executable")
    }
}
