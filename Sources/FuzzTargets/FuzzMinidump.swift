import BinaryReading
import Minidump

/// Opens the bytes as a minidump and decodes every stream.
@Sendable public func fuzzMinidump(_ bytes: ByteView) {
    guard let dump = try? MinidumpFile(bytes: bytes) else { return }
    _ = try? dump.stream(ModuleList.self)
    _ = try? dump.stream(ThreadList.self)
    _ = try? dump.stream(ThreadExList.self)
    _ = try? dump.stream(UnloadedModuleList.self)
    _ = try? dump.stream(ExceptionStream.self)
    _ = try? dump.stream(SystemInfo.self)
    let index = dump.memoryIndex()
    for region in index.regions.prefix(64) {
        _ = index.read(UInt64.self, at: region.address)
    }
}
