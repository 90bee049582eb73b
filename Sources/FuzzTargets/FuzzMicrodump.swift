import BinaryReading
import Minidump

/// Reads the bytes as a Breakpad microdump and touches what it decoded.
@Sendable public func fuzzMicrodump(_ bytes: ByteView) {
    guard let dump = try? Microdump(parsing: bytes) else { return }
    _ = dump.threadContext?.registers
    for region in dump.memory.regions.prefix(16) {
        _ = dump.memory.read(UInt64.self, at: region.address)
    }
    _ = dump.modules.count
}
