import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("PEIdentity", .ownThread)
struct IdentityTests {
    struct Known: Sendable, CustomStringConvertible {
        var path: String
        var codeID: String
        var debugID: String?
        var pdbName: String?
        var machine: Machine
        var description: String { path }
    }

    // Values asserted by symbolic's tests (fixtures/symbolic/EXPECTED.md) and the symstore layout of generated/.
    static let known: [Known] = [
        Known(
            path: "symbolic/symbolic-testutils/fixtures/windows/crash.exe", codeID: "5AB380779000",
            debugID: "3249D99D0C4049318610F4E4FB0B69361",
            pdbName: "C:\\projects\\breakpad-tools\\windows\\Release\\crash.pdb", machine: .i386),
        Known(
            path: "symbolic/symbolic-testutils/fixtures/windows/CrashWithException.exe", codeID: "5C9E09599000",
            debugID: "F535C5FB2AE84BB8AA206C30BE566C5A1",
            pdbName: "C:\\Users\\sentry\\source\\repos\\CrashWithException\\x64\\Release\\CrashWithException.pdb",
            machine: .amd64),
        Known(
            path: "generated/pe/x64/fixture.exe", codeID: "08625E115000", debugID: "DE72AEE0C8234F214C4C44205044422E1",
            pdbName: "fixture.pdb", machine: .amd64),
        Known(
            path: "generated/pe/x64/fixturedll.dll", codeID: "0F2D99DB5000", debugID: "D3F1939453E2746E4C4C44205044422E1",
            pdbName: "fixturedll.pdb",
            machine: .amd64),
        Known(
            path: "generated/wine-x86_64-windows/ntdll.dll", codeID: "63F14E2B361000", debugID: nil, pdbName: nil, machine: .amd64
        ),
    ]

    @Test("code id, debug id, PDB name and machine", arguments: known)
    func identity(known: Known) throws {
        let image = try PEImage(path: TestEnvironment.shared(known.path))
        let identity = image.identity
        #expect(identity.codeID == known.codeID)
        // Wine's DLLs carry no CodeView record, so no debug id (see REFERENCES.md).
        #expect(identity.debugID == known.debugID)
        #expect(identity.pdbName == known.pdbName)
        #expect(identity.machine == known.machine)
        #expect(identity.checkSum == image.optionalHeader.checkSum)
    }

    @Test("the code id is the folder name symstore chose for the generated images")
    func symstoreKeys() throws {
        for name in ["fixture.exe/08625E115000/fixture.exe", "fixturedll.dll/0F2D99DB5000/fixturedll.dll"] {
            let image = try PEImage(path: TestEnvironment.shared("generated/symstore/" + name))
            #expect(image.identity.codeID == name.split(separator: "/")[1].uppercased())
        }
    }
}
