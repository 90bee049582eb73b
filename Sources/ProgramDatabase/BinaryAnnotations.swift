import BinaryReading

/// Binary annotation opcodes of an inline site (`BinaryAnnotationOpcode` in cvinfo.h).
public struct BinaryAnnotationOpcode: RawRepresentable, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `BA_OP_Invalid`: padding at the end.
    public static let invalid = BinaryAnnotationOpcode(rawValue: 0)
    /// `BA_OP_CodeOffset`.
    public static let codeOffset = BinaryAnnotationOpcode(rawValue: 1)
    /// `BA_OP_ChangeCodeOffsetBase`.
    public static let changeCodeOffsetBase = BinaryAnnotationOpcode(rawValue: 2)
    /// `BA_OP_ChangeCodeOffset`.
    public static let changeCodeOffset = BinaryAnnotationOpcode(rawValue: 3)
    /// `BA_OP_ChangeCodeLength`.
    public static let changeCodeLength = BinaryAnnotationOpcode(rawValue: 4)
    /// `BA_OP_ChangeFile`.
    public static let changeFile = BinaryAnnotationOpcode(rawValue: 5)
    /// `BA_OP_ChangeLineOffset`.
    public static let changeLineOffset = BinaryAnnotationOpcode(rawValue: 6)
    /// `BA_OP_ChangeLineEndDelta`.
    public static let changeLineEndDelta = BinaryAnnotationOpcode(rawValue: 7)
    /// `BA_OP_ChangeRangeKind`.
    public static let changeRangeKind = BinaryAnnotationOpcode(rawValue: 8)
    /// `BA_OP_ChangeColumnStart`.
    public static let changeColumnStart = BinaryAnnotationOpcode(rawValue: 9)
    /// `BA_OP_ChangeColumnEndDelta`.
    public static let changeColumnEndDelta = BinaryAnnotationOpcode(rawValue: 10)
    /// `BA_OP_ChangeCodeOffsetAndLineOffset`: one operand, code delta in the low 4 bits, line delta above.
    public static let changeCodeOffsetAndLineOffset = BinaryAnnotationOpcode(rawValue: 11)
    /// `BA_OP_ChangeCodeLengthAndCodeOffset`: two operands, length then code delta.
    public static let changeCodeLengthAndCodeOffset = BinaryAnnotationOpcode(rawValue: 12)
    /// `BA_OP_ChangeColumnEnd`.
    public static let changeColumnEnd = BinaryAnnotationOpcode(rawValue: 13)
}

/// One decoded annotation: the opcode and its operands.
public struct BinaryAnnotation: Sendable, Equatable {
    public var opcode: BinaryAnnotationOpcode
    /// The first operand (for `ChangeCodeOffsetAndLineOffset`, the code delta).
    public var operand1: UInt32
    /// The second operand (`ChangeCodeLengthAndCodeOffset`'s code delta), or the signed line delta.
    public var operand2: Int64
}

/// A code range of an inline site, relative to its procedure's start, with the source line it maps to.
public struct InlineRange: Sendable, Equatable {
    /// Start offset in the procedure.
    public var start: UInt32
    /// End offset (exclusive).
    public var end: UInt32
    /// Line offset from the inlinee's `sourceLineNum`.
    public var lineOffset: Int32
    /// File checksum offset set by `ChangeFile`, nil for the inlinee's own file.
    public var fileChecksumOffset: UInt32?
}

/// Decoder of the compressed annotation program (`CVUncompressData` in cvinfo.h).
public enum BinaryAnnotations {
    /// Upper bound on ranges kept per site: every range costs at least one operand byte, so this
    /// only matters for hostile input.
    public static let maxRanges = 1 << 16

    /// Reads one compressed unsigned integer: 1, 2 or 4 bytes selected by the top bits of the first.
    static func readCompressed(_ reader: inout ByteReader) throws(ParseError) -> UInt32 {
        let first = try reader.read(UInt8.self, "binary annotation")
        if first & 0x80 == 0 { return UInt32(first) }
        if first & 0xC0 == 0x80 {
            let second = try reader.read(UInt8.self, "binary annotation")
            return (UInt32(first & 0x3F) << 8) | UInt32(second)
        }
        if first & 0xE0 == 0xC0 {
            let rest = try reader.readBytes(3, "binary annotation").array
            return (UInt32(first & 0x1F) << 24) | (UInt32(rest[0]) << 16) | (UInt32(rest[1]) << 8) | UInt32(rest[2])
        }
        throw ParseError(
            offset: reader.fileOffset - 1, field: "binary annotation",
            kind: .invalidValue("bad compressed integer lead byte 0x" + String(first, radix: 16)))
    }

    /// Signed values are stored with the sign in bit 0 (`DecodeSignedInt32`).
    static func decodeSigned(_ value: UInt32) -> Int64 {
        value & 1 != 0 ? -Int64(value >> 1) : Int64(value >> 1)
    }

    /// Decodes the annotation program into its operations.
    public static func decode(_ bytes: ByteView) throws(ParseError) -> [BinaryAnnotation] {
        var reader = bytes.reader()
        var list = [BinaryAnnotation]()
        while !reader.isAtEnd {
            let opcode = BinaryAnnotationOpcode(rawValue: try readCompressed(&reader))
            switch opcode {
            case .invalid:
                // Zero bytes pad the program to 4 bytes.
                return list
            case .changeCodeOffsetAndLineOffset:
                let packed = try readCompressed(&reader)
                list.append(BinaryAnnotation(opcode: opcode, operand1: packed & 0xF, operand2: decodeSigned(packed >> 4)))
            case .changeCodeLengthAndCodeOffset:
                let length = try readCompressed(&reader)
                let delta = try readCompressed(&reader)
                list.append(BinaryAnnotation(opcode: opcode, operand1: length, operand2: Int64(delta)))
            case .changeLineOffset, .changeColumnEndDelta:
                let value = try readCompressed(&reader)
                list.append(BinaryAnnotation(opcode: opcode, operand1: value, operand2: decodeSigned(value)))
            default:
                guard opcode.rawValue <= 13 else {
                    throw ParseError(
                        offset: reader.fileOffset, field: "binary annotation opcode",
                        kind: .invalidValue("\(opcode.rawValue)"))
                }
                let value = try readCompressed(&reader)
                list.append(BinaryAnnotation(opcode: opcode, operand1: value, operand2: Int64(value)))
            }
        }
        return list
    }

    /// The code ranges and line offsets the program describes.
    ///
    /// Each code-offset change starts a range at the new offset with the line and file in force;
    /// a range ends where the next starts, or after an explicit length (`ChangeCodeLength`,
    /// which also moves the code offset past the range; `ChangeCodeLengthAndCodeOffset` does not).
    /// A range still open at the end has no
    /// known end and is dropped, as LLVM and DIA do.
    public static func ranges(_ bytes: ByteView) throws(ParseError) -> [InlineRange] {
        var ranges = [InlineRange]()
        var code: UInt64 = 0
        var line: Int64 = 0
        var file: UInt32?
        var open: InlineRange?

        func start(at offset: UInt64) {
            if var previous = open {
                previous.end = UInt32(truncatingIfNeeded: offset)
                if previous.end > previous.start, ranges.count < maxRanges { ranges.append(previous) }
            }
            open = InlineRange(
                start: UInt32(truncatingIfNeeded: offset), end: 0, lineOffset: Int32(truncatingIfNeeded: line),
                fileChecksumOffset: file)
        }
        func close(length: UInt64) {
            guard var current = open else { return }
            let end = UInt64(current.start) + length
            current.end = UInt32(truncatingIfNeeded: min(end, UInt64(UInt32.max)))
            if current.end > current.start, ranges.count < maxRanges { ranges.append(current) }
            open = nil
            code = end
        }

        for annotation in try decode(bytes) {
            switch annotation.opcode {
            case .codeOffset:
                code = UInt64(annotation.operand1)
                start(at: code)
            case .changeCodeOffset:
                code += UInt64(annotation.operand1)
                start(at: code)
            case .changeCodeOffsetAndLineOffset:
                line += annotation.operand2
                code += UInt64(annotation.operand1)
                start(at: code)
            case .changeCodeLength:
                close(length: UInt64(annotation.operand1))
            case .changeCodeLengthAndCodeOffset:
                // Unlike ChangeCodeLength, this one leaves the code offset at the range's start
                // (the next delta counts from there: MSVC's output in CrashWithException.pdb,
                // and llvm-pdbutil's decoding of it, agree).
                code += UInt64(annotation.operand2)
                start(at: code)
                close(length: UInt64(annotation.operand1))
                code -= UInt64(annotation.operand1)
            case .changeLineOffset:
                line += annotation.operand2
            case .changeFile:
                file = annotation.operand1
            default:
                break
            }
            code = min(code, UInt64(UInt32.max))
        }
        return ranges
    }
}
