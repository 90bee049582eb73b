import BinaryReading

/// One frame of the crashing thread, as the signature generator reads it.
///
/// Fields mirror a minidump-stackwalk JSON frame (`module`, `function`, `file`, `line`,
/// `module_offset`, `offset`); inline frames come before the frame they were inlined into.
public struct SignatureFrame: Sendable, Equatable, Codable {
    /// The module's file name (`kernel32.dll`, `libc.so.6`), nil when the address is in no module.
    public var module: String?
    /// The symbolized function name, as the symbol file spells it.
    public var function: String?
    /// The source file.
    public var file: String?
    /// The source line.
    public var line: Int?
    /// The instruction's offset in its module.
    public var moduleOffset: UInt64?
    /// The instruction address.
    public var offset: UInt64
    /// Whether this frame is an inlined call inside the next one.
    public var inlined: Bool

    enum CodingKeys: String, CodingKey {
        case module, function, file, line, moduleOffset = "module_offset", offset, inlined
    }

    /// A frame from its parts; everything but the address is optional.
    public init(
        module: String? = nil, function: String? = nil, file: String? = nil, line: Int? = nil,
        moduleOffset: UInt64? = nil, offset: UInt64 = 0, inlined: Bool = false
    ) {
        self.module = module
        self.function = function
        self.file = file
        self.line = line
        self.moduleOffset = moduleOffset
        self.offset = offset
        self.inlined = inlined
    }
}

/// Turns a frame into the text a signature is made of, the way Socorro's C signature tool does.
///
/// In order of preference: the function name normalized (C++ or Rust rules), else `file#line`
/// with the file's base name, else `@0x<address>` when the frame has no module, else
/// `module@0x<module offset>` (the offset padded to the pointer width as minidump-stackwalk
/// prints it; the generator later drops the offset of `.dll` frames).
public struct FrameNormalizer: Sendable {
    /// Pointer size in bytes, for padding offsets.
    public var pointerSize: Int
    /// Functions whose signature keeps the line number (`name:line`), matched like the lists.
    public var lineNumberFunctions: [SignaturePattern]

    /// A normalizer for a process with `pointerSize`-byte pointers.
    public init(pointerSize: Int = 8, lineNumberFunctions: [SignaturePattern] = []) {
        self.pointerSize = pointerSize
        self.lineNumberFunctions = lineNumberFunctions
    }

    /// The normalized text of `frame`.
    public func normalize(_ frame: SignatureFrame) -> String {
        if let function = frame.function, !function.isEmpty {
            let isRust = frame.file.map { baseName($0).hasSuffix(".rs") } ?? false
            if isRust || FunctionNames.hasRustHash(function) {
                return FunctionNames.normalizeRust(function)
            }
            var normalized = FunctionNames.normalizeCpp(function)
            if let line = frame.line, lineNumberFunctions.contains(where: { $0.matches(normalized) }) {
                normalized += ":\(line)"
            }
            return normalized
        }
        // Socorro treats line 0 as no line.
        if let file = frame.file, !file.isEmpty, let line = frame.line, line != 0 {
            return "\(baseName(file))#\(line)"
        }
        guard let module = frame.module, !module.isEmpty else {
            return "@" + hex0x(frame.offset)
        }
        return module + "@" + hex0x(frame.moduleOffset ?? 0, width: pointerSize * 2)
    }

    /// The last component of a Windows or POSIX path.
    func baseName(_ path: String) -> String {
        let trimmed = path.trimmingSuffix { $0 == "/" || $0 == "\\" }
        guard let slash = trimmed.lastIndex(where: { $0 == "/" || $0 == "\\" }) else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }
}

extension String {
    /// The string without the trailing characters that satisfy `predicate`.
    func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return String(self[..<end])
    }
}
