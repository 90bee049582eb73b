import Foundation
import TestSupport
import Testing

/// The LLVM tools the PDB tests compare against. A missing tool fails the test that needs it.
enum LLVMTools {
    /// `llvm-pdbutil` (LLVM 14 from Debian): `$POSTMORTEM_LLVM_PDBUTIL`, else `/usr/bin/llvm-pdbutil`.
    static var pdbutil: String {
        environment("POSTMORTEM_LLVM_PDBUTIL") ?? "/usr/bin/llvm-pdbutil"
    }

    /// `llvm-symbolizer` of the Swift toolchain (LLVM 21): `$POSTMORTEM_LLVM_SYMBOLIZER`, else
    /// the one beside `swift` in `/opt/swift/usr/bin`.
    ///
    /// LLVM 14's symbolizer puts inline frames one line late when the address is inside the
    /// first range of an inline site (fixture.exe 0x1180: parse_hex at line 89, the code is
    /// line 88), so the toolchain's newer one is the oracle.
    static var symbolizer: String {
        environment("POSTMORTEM_LLVM_SYMBOLIZER") ?? "/opt/swift/usr/bin/llvm-symbolizer"
    }

    static func environment(_ name: String) -> String? {
        let value = ProcessInfo.processInfo.environment[name]
        return value?.isEmpty == false ? value : nil
    }

    /// Runs `llvm-pdbutil` and returns its standard output; throws when it is missing or fails.
    static func runPDBUtil(_ arguments: [String]) throws -> String {
        let result = try runProcess(pdbutil, arguments)
        guard result.status == 0 else {
            throw OracleFailure(description: "llvm-pdbutil \(arguments.joined(separator: " ")) failed: \(result.stderrText)")
        }
        return result.stdoutText
    }
}

struct OracleFailure: Error, CustomStringConvertible {
    var description: String
}

/// The PDB fixtures: every MSF 7.00 file under the shared fixtures, and the images that go with some.
enum PDBFixtures {
    static let magic = Array("Microsoft C/C++ MSF 7.00\r\n".utf8)

    /// Every `.pdb` regular file that starts with the MSF 7.00 magic (portable PDBs and the
    /// Breakpad symbol folders named `*.pdb` are left out).
    static let msf: [String] = {
        TestEnvironment.sharedFiles(suffixes: [".pdb"]).filter { path in
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue,
                let handle = FileHandle(forReadingAtPath: path)
            else { return false }
            defer { try? handle.close() }
            let head = handle.readData(ofLength: magic.count)
            return Array(head) == magic
        }
    }()

    /// Images whose debug directory names a PDB beside them, for llvm-symbolizer: (image, pdb).
    static let imagePairs: [ImagePair] = {
        let pairs = [
            ("generated/pe/x64/fixture.exe", "generated/pe/x64/fixture.pdb"),
            ("generated/pe/x64/fixturedll.dll", "generated/pe/x64/fixturedll.pdb"),
            ("generated/pe/x86/fixture.exe", "generated/pe/x86/fixture.pdb"),
            ("generated/pe/x86/fixturedll.dll", "generated/pe/x86/fixturedll.pdb"),
            ("generated/pe/arm64/fixture.exe", "generated/pe/arm64/fixture.pdb"),
            ("generated/pe/arm64/fixturedll.dll", "generated/pe/arm64/fixturedll.pdb"),
            ("symbolic/symbolic-testutils/fixtures/windows/crash.exe", "symbolic/symbolic-testutils/fixtures/windows/crash.pdb"),
            (
                "symbolic/symbolic-testutils/fixtures/windows/CrashWithException.exe",
                "symbolic/symbolic-testutils/fixtures/windows/CrashWithException.pdb"
            ),
            ("dump_syms/test_data/windows/dump_syms_regtest64.exe", "dump_syms/test_data/windows/dump_syms_regtest64.pdb"),
            ("dump_syms/test_data/windows/basic32-min.dll", "dump_syms/test_data/windows/basic32-min.pdb"),
        ]
        let withImages = pairs.map {
            ImagePair(
                image: TestEnvironment.shared($0.0), pdb: TestEnvironment.shared($0.1),
                // Both LLVM 14 and LLVM 21 crash naming crash.pdb's inline sites
                // (LazyRandomTypeCollection::getType from NativeInlineSiteSymbol::getName):
                // there the symbolizer checks the outer frames and symbolic the inline ones.
                symbolizer: LLVMTools.symbolizer, inlines: !$0.0.hasSuffix("/crash.exe"))
        }
        // An empty image: written by the test from the PDB's section headers and identity.
        return withImages + withoutImages.map { ImagePair(image: "", pdb: $0, symbolizer: LLVMTools.symbolizer, inlines: true) }
    }()

    /// MSVC PDBs that come without their image; the tests write a header-only image for them.
    static let withoutImages: [String] = [
        "kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_x64_release/targetapp.pdb",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp.pdb",
        "kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp.pdb",
        "breakpad/src/tools/windows/dump_syms/testdata/dump_syms_regtest.pdb",
    ].map { TestEnvironment.shared($0) }

    struct ImagePair: Sendable, CustomTestStringConvertible {
        var image: String
        var pdb: String
        /// The llvm-symbolizer to ask.
        var symbolizer: String
        /// Whether the symbolizer can be asked for inline frames on this image.
        var inlines: Bool
        var testDescription: String {
            image.isEmpty ? PDBFixtures.name(pdb) : URL(fileURLWithPath: image).lastPathComponent
        }
    }

    static func name(_ path: String) -> String {
        let parts = path.split(separator: "/")
        return parts.suffix(2).joined(separator: "/")
    }
}
