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
    let architecture = (try? dump.stream(SystemInfo.self))?.processorArchitecture
    for thread in ((try? dump.stream(ThreadList.self))?.threads ?? []).prefix(64) {
        _ = (try? dump.threadContext(at: thread.threadContext, architecture: architecture))?.registers
    }
    if let exception = try? dump.stream(ExceptionStream.self) {
        _ = (try? dump.threadContext(at: exception.threadContext, architecture: architecture))?.registers
    }
    // Every stream type the reader knows, whatever the directory says.
    for entry in dump.directory.prefix(256) {
        _ = try? dump.decodeStream(entry)
    }
    let index = dump.memoryIndex()
    for region in index.regions.prefix(64) {
        _ = index.read(UInt64.self, at: region.address)
    }
}
