import BinaryReading
import ProgramDatabase

/// Opens the bytes as a PDB and reads every stream the reader knows.
@Sendable public func fuzzProgramDatabase(_ bytes: ByteView) {
}
