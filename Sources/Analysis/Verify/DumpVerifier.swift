import BinaryReading
import Foundation

/// `postmortem verify`: checks that a dump of any kind is complete and analyzable.
public enum DumpVerifier {
    /// Verifies the dump at `path`; `binaries` adds the check that the key modules' files are found and match.
    public static func verify(path: String, binaries: BinarySearch? = nil) -> VerificationReport {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            return VerificationReport(
                dump: path, kind: "unknown",
                checks: [VerificationCheck(name: CheckName.header, status: .fail, required: true, detail: "\(error)")])
        }
        return verify(bytes: file.bytes, path: path, binaries: binaries)
    }

    /// Verifies a dump held in `bytes`.
    public static func verify(bytes: ByteView, path: String, binaries: BinarySearch? = nil) -> VerificationReport {
        let prefix = (try? bytes.slice(offset: 0, size: min(8, bytes.count), field: "signature"))?.array ?? []
        switch DumpFileKind.detect(prefix: prefix) {
        case .minidump: return MinidumpVerifier.verify(bytes: bytes, path: path, binaries: binaries)
        case .kernel: return KernelDumpVerifier.verify(bytes: bytes, path: path, binaries: binaries)
        case .user: return UserDumpVerifier.verify(bytes: bytes, path: path, binaries: binaries)
        case .unknown:
            let shown = prefix.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "." }.joined()
            return VerificationReport(
                dump: path, kind: "unknown",
                checks: [
                    VerificationCheck(
                        name: CheckName.header, status: .fail, required: true,
                        detail:
                            "unknown signature \"\(shown)\" at offset 0: expected MDMP, PAGEDUMP, PAGEDU64, USERDUMP or USERDU64")
                ])
        }
    }
}
