import BinaryReading
import Foundation
import ProgramDatabase
import TestSupport
import Testing

/// Values the fixtures' own repositories state (see each folder's EXPECTED.md).
@Suite("PDB identities stated by the fixtures' repositories", .ownThread)
struct FixtureIdentityTests {
    @Test("symbolic's crash_with_srcsrv.pdb: info age 4, DBI age 1, and the debug id uses the DBI's")
    func srcsrvAge() throws {
        let pdb = try PDBFile(path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/crash_with_srcsrv.pdb"))
        #expect(pdb.infoAge == 4)
        #expect(pdb.age == 1)
        #expect(pdb.debugIdentifier == "3249D99D0C4049318610F4E4FB0B69361")
        // pdbstr added the source server stream as a named stream.
        #expect(try pdb.namedStream("srcsrv") != nil)
        let plain = try PDBFile(path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/crash.pdb"))
        #expect(plain.debugIdentifier == pdb.debugIdentifier)
        #expect(try plain.namedStream("srcsrv") == nil)
    }

    @Test("symbolic's CrashWithException.pdb and the lld-written symbol store keys")
    func debugIdentifiers() throws {
        let crash = try PDBFile(
            path: TestEnvironment.shared("symbolic/symbolic-testutils/fixtures/windows/CrashWithException.pdb"))
        #expect(crash.debugIdentifier == "F535C5FB2AE84BB8AA206C30BE566C5A1")
        // The symstore package filed the generated PDBs under these keys.
        let fixture = try PDBFile(path: TestEnvironment.shared("generated/pe/x64/fixture.pdb"))
        #expect(fixture.debugIdentifier == "DE72AEE0C8234F214C4C44205044422E1")
        let dll = try PDBFile(path: TestEnvironment.shared("generated/pe/x64/fixturedll.pdb"))
        #expect(dll.debugIdentifier == "D3F1939453E2746E4C4C44205044422E1")
    }
}
