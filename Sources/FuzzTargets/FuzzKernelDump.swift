import BinaryReading
import KernelDump

/// Opens the bytes as a kernel or full user-mode dump and reads every part the reader knows.
@Sendable public func fuzzKernelDump(_ bytes: ByteView) {
}
