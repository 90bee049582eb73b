/// Why a structure read from untrusted bytes was rejected, and where.
///
/// Every error names the absolute file offset at which the problem was found and the
/// field (C name where the structure comes from a public specification) being read.
public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The field needs `needed` bytes but only `available` remain.
        case truncated(needed: Int64, available: Int64)
        /// A value that the format does not allow.
        case invalidValue(String)
        /// A count or size that cannot fit in the bytes that hold it.
        case countTooLarge(count: Int64, limit: Int64)
        /// An offset/size pair that points outside the file.
        case outOfBounds(offset: Int64, size: Int64, fileSize: Int64)
        /// A magic number or signature that does not match.
        case badSignature(expected: String, found: String)
        /// A version the reader does not know.
        case unsupportedVersion(String)
        /// A file that cannot be opened or mapped.
        case io(String)
    }

    /// Absolute offset in the file where the problem was found.
    public var offset: Int64
    /// The field or structure being read, e.g. `MINIDUMP_HEADER.Signature`.
    public var field: String
    /// What went wrong.
    public var kind: Kind

    /// Creates an error for `field` at absolute file `offset`.
    public init(offset: Int64, field: String, kind: Kind) {
        self.offset = offset
        self.field = field
        self.kind = kind
    }

    public var description: String {
        let at = "at offset 0x\(String(offset, radix: 16)) (\(field))"
        switch kind {
        case .truncated(let needed, let available):
            return "truncated \(at): needs \(needed) bytes, \(available) available"
        case .invalidValue(let message):
            return "invalid value \(at): \(message)"
        case .countTooLarge(let count, let limit):
            return "count \(count) too large \(at): at most \(limit) fit"
        case .outOfBounds(let start, let size, let fileSize):
            return "range 0x\(String(start, radix: 16))+0x\(String(size, radix: 16)) lies outside the \(fileSize)-byte file \(at)"
        case .badSignature(let expected, let found):
            return "bad signature \(at): expected \(expected), found \(found)"
        case .unsupportedVersion(let version):
            return "unsupported version \(version) \(at)"
        case .io(let message):
            return "cannot read file: \(message)"
        }
    }
}
