import BinaryReading

/// `CommentStreamA`: a NUL-terminated comment in the writer's ANSI code page (decoded as UTF-8).
public struct CommentA: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.commentA
    /// The text up to the first NUL.
    public var text: String

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        text = bytes.cString
    }
}

/// `CommentStreamW`: a NUL-terminated UTF-16 comment.
public struct CommentW: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.commentW
    /// The text up to the first NUL.
    public var text: String

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        text = bytes.fixedUTF16String(endianness: dump.endianness)
    }
}
