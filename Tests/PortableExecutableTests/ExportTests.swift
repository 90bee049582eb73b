import BinaryReading
import Foundation
import PortableExecutable
import TestSupport
import Testing

@Suite("Export directory", .ownThread)
struct ExportTests {
    @Test("names, ordinals, RVAs and forwarders agree with pefile", arguments: peFixtures)
    func matchesPefile(path: String) throws {
        let image = try PEImage(path: path)
        let oracle = try pefileOracle(path)
        let exports = try image.exports()
        guard let expected = oracle["exports"] as? [String: Any] else {
            #expect(exports == nil || exports?.functions.isEmpty == true)
            return
        }
        let directory = try #require(exports)
        #expect(directory.dllName == expected["name"] as? String)
        #expect(UInt64(directory.ordinalBase) == u64(expected["base"]))
        let symbols = expected["symbols"] as? [[String: Any]] ?? []
        var ours = [String]()
        for function in directory.functions {
            for name in function.names.isEmpty ? [nil] : function.names.map(Optional.some) {
                ours.append("\(function.ordinal) \(hex(function.rva)) \(name ?? "-") \(function.forwarder ?? "-")")
            }
        }
        let theirs = symbols.map { symbol in
            "\(u64(symbol["ordinal"]) ?? 0) \(hex(u64(symbol["rva"]) ?? 0)) \(symbol["name"] as? String ?? "-") \(symbol["forwarder"] as? String ?? "-")"
        }
        #expect(ours.sorted() == theirs.sorted())
    }

    @Test("names, ordinals and RVAs agree with llvm-readobj", arguments: peFixtures)
    func matchesLLVM(path: String) throws {
        let image = try PEImage(path: path)
        let (root, complete) = try llvmReadobj(["--coff-exports"], path)
        #expect(complete)
        // LLVM 14 lists every slot of the address table, empty ones too (mozwer.dll's slot 0 with
        // ordinal base 0); we list only slots with an address or a name, as pefile does.
        let expected = root.all("Export").filter { $0.number("RVA") != 0 || $0["Name"] != "" }.map {
            "\($0["Ordinal"] ?? "?") \($0["Name"] ?? "") \($0.number("RVA") ?? 0)"
        }
        var ours = [String]()
        for function in try image.exports()?.functions ?? [] {
            ours.append("\(function.ordinal) \(function.names.first ?? "") \(function.rva)")
        }
        #expect(ours.sorted() == expected.sorted())
    }

    @Test("forwarders are decoded (Wine's kernel32 forwards to NTDLL)")
    func forwarders() throws {
        let image = try PEImage(path: TestEnvironment.shared("generated/wine-x86_64-windows/kernel32.dll"))
        let exports = try #require(try image.exports())
        let first = try #require(exports.functions.first { $0.names == ["AcquireSRWLockExclusive"] })
        #expect(first.forwarder == "NTDLL.RtlAcquireSRWLockExclusive")
        #expect(exports.dllName.lowercased() == "kernel32.dll")
    }
}
