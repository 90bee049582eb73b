import BinaryReading
import PortableExecutable

/// Opens the bytes as a PE image and decodes every part the reader knows.
@Sendable public func fuzzPortableExecutable(_ bytes: ByteView) {
}
