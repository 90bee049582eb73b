import BinaryReading

/// A key and its value, in the order a text file or a dictionary stream lists them.
public struct MinidumpKeyValue: Sendable, Equatable, Codable {
    /// The key (`Name` in `Name: value`, `KEY` in `KEY=value`).
    public var key: String
    /// The value, with surrounding blanks removed.
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

extension Array where Element == MinidumpKeyValue {
    /// The value of the first entry named `key`, if any.
    public subscript(key key: String) -> String? {
        first { $0.key == key }?.value
    }
}

extension MinidumpFile {
    /// Reads a `MINIDUMP_STRING` at a 64-bit RVA (`RVA64`, as `MINIDUMP_THREAD_NAME` stores it).
    func string(at64 rva: UInt64, field: @autoclosure () -> String) throws(ParseError) -> String {
        guard let rva32 = UInt32(exactly: rva) else {
            throw ParseError(
                offset: Int64(bytes.count), field: field(),
                kind: .outOfBounds(offset: Int64(bitPattern: rva), size: 4, fileSize: Int64(bytes.count)))
        }
        return try string(at: rva32, field: field())
    }

    /// The bytes of a length-prefixed blob at `rva`: a 32-bit byte count, then the bytes
    /// (Crashpad's `MinidumpUTF8String` and `MinidumpByteArray`).
    func lengthPrefixedBytes(at rva: UInt32, field: @autoclosure () -> String) throws(ParseError) -> ByteView {
        guard rva <= bytes.count else {
            throw ParseError(
                offset: Int64(rva), field: field(),
                kind: .outOfBounds(offset: Int64(rva), size: 4, fileSize: Int64(bytes.count)))
        }
        var reader = self.reader(bytes, at: Int(rva))
        let length = try reader.read(UInt32.self, field() + ".length")
        return try reader.readBytes(length, field() + ".bytes")
    }

    /// Reads a Crashpad `MinidumpUTF8String` (a 32-bit byte count, then UTF-8, then a NUL not counted).
    func utf8String(at rva: UInt32, field: @autoclosure () -> String) throws(ParseError) -> String {
        try lengthPrefixedBytes(at: rva, field: field()).utf8String
    }
}

extension ByteView {
    /// Decodes a fixed-size `WCHAR[]` field: UTF-16 up to the first NUL code unit.
    func fixedUTF16String(endianness: Endianness) -> String {
        let text = utf16String(endianness: endianness)
        guard let end = text.firstIndex(of: "\0") else { return text }
        return String(text[..<end])
    }
}

/// Helpers for the text streams Breakpad copies from /proc and /etc.
enum ProcText {
    /// The lines of `text`, split at LF or CR LF.
    ///
    /// Swift treats CR LF as one Character, so splitting at "\n" alone would leave such lines whole.
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }

    /// Removes blanks (spaces, tabs) and NULs at both ends.
    static func trim(_ text: Substring) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\0" }
        guard let first = text.firstIndex(where: { !blank($0) }) else { return "" }
        let last = text.lastIndex(where: { !blank($0) })!
        return String(text[first...last])
    }

    /// Splits `Name<separator>value` lines; lines without the separator are skipped.
    static func keyValues(_ lines: some Sequence<Substring>, separator: Character) -> [MinidumpKeyValue] {
        var entries = [MinidumpKeyValue]()
        for line in lines {
            guard let cut = line.firstIndex(of: separator) else { continue }
            let key = trim(line[..<cut])
            if key.isEmpty { continue }
            entries.append(MinidumpKeyValue(key: key, value: trim(line[line.index(after: cut)...])))
        }
        return entries
    }

    /// Splits NUL-separated strings; a final NUL ends the last string rather than starting an empty one.
    static func nulSeparated(_ bytes: ByteView) -> [String] {
        var parts = bytes.array.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        if parts.last == "" { parts.removeLast() }
        return parts
    }
}
