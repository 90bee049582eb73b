import BinaryReading
import PortableExecutable

/// Opens the bytes as a PE image and decodes every part the reader knows.
@Sendable public func fuzzPortableExecutable(_ bytes: ByteView) {
    guard let image = try? PEImage(bytes: bytes) else { return }
    _ = image.computeChecksum()
    _ = image.identity
    for section in image.sections.prefix(96) {
        _ = image.fileOffset(ofRVA: section.virtualAddress)
    }
    if let entries = try? image.debugDirectory() {
        for entry in entries.prefix(64) { _ = try? image.debugData(entry) }
    }
    _ = try? image.exports()
    _ = try? image.resources(ofType: .id(ResourceType.manifest))
    _ = try? image.versionInfo()
    if let table = try? image.x64FunctionTable() {
        for function in table.functions.prefix(256) {
            _ = try? image.x64UnwindChain(for: function)
            _ = table.function(containing: function.beginAddress)
        }
    }
    if let table = try? image.arm64FunctionTable() {
        for function in table.functions.prefix(256) {
            switch try? image.arm64Unwind(for: function) {
            case .packed(let packed)?:
                _ = packed.codes
            case .unpacked(let info)?:
                for scope in info.epilogScopes.prefix(64) {
                    _ = try? info.epilogCodes(startingAt: Int(scope.startIndex))
                }
            case nil:
                break
            }
            _ = table.function(containing: function.beginAddress)
        }
    }
}
