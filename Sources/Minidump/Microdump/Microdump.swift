import BinaryReading

/// A Breakpad microdump: the text dump Android's (and Chrome/WebView's) crash handler writes to
/// logcat, between `-----BEGIN BREAKPAD MICRODUMP-----` and `-----END BREAKPAD MICRODUMP-----`.
///
/// Each line of the dump is a log line tagged `google-breakpad` whose message starts with a one-letter
/// key: `V` product and version, `O` OS and CPU, `P` process type, `R` crash signal, `G` GPU,
/// `H` heap summary, `S` stack (a `S 0 <sp> <start> <size>` header, then `S <address> <hex bytes>`
/// chunks), `C` the crashing thread's context (Breakpad's `MDRawContext*` in hex), `M` modules. Only the
/// first dump in the text is read, as Breakpad's microdump_stackwalk does. Malformed lines become
/// warnings; a text without a dump is an error.
public struct Microdump: Sendable {
    /// The `O` line.
    public var systemInfo: MicrodumpSystemInfo?
    /// The `V` line (`product:version`).
    public var product: String?
    /// The `P` line (process type, e.g. `webview`).
    public var processType: String?
    /// The `R` line.
    public var crashReason: MicrodumpCrashReason?
    /// The `G` line; nil when absent, empty or `UNKNOWN`.
    public var gpu: MicrodumpGPU?
    /// The crashing thread's registers; nil when the line is missing, malformed or of an architecture
    /// the Minidump contexts do not model (MIPS, LoongArch).
    public var threadContext: ThreadContext?
    /// The `S 0` line.
    public var stackHeader: MicrodumpStackHeader?
    /// The captured stack, addressed like a minidump's memory.
    public var memory: MemoryIndex
    /// The modules in file order, overlaps resolved (see `init`).
    public var modules: [MicrodumpModule]
    /// What was skipped or looked wrong.
    public var warnings: [String]

    /// Stack bytes kept at most; real microdumps hold a few pages.
    public static let maximumStackBytes = 16 << 20
    /// Modules kept at most.
    public static let maximumModules = 65_536

    static let beginMarker = Array("-----BEGIN BREAKPAD MICRODUMP-----".utf8)
    static let endMarker = Array("-----END BREAKPAD MICRODUMP-----".utf8)
    static let tag = Array("google-breakpad".utf8)

    /// Reads the first microdump in `bytes` (a logcat capture or the bare dump lines).
    ///
    /// When the `BEGIN` line carries the `google-breakpad` tag, lines without it are other log output
    /// interleaved by logcat and are skipped; otherwise every line up to `END` belongs to the dump.
    /// On Android a module overlapping the one before it shrinks that one (the loader maps
    /// relocation-packed libraries over a reserved range), as Breakpad's reader does; elsewhere the
    /// later module is dropped.
    public init(parsing bytes: ByteView) throws(ParseError) {
        let text = bytes.array
        var state = ParseState()
        var lineStart = 0
        var began = false
        var tagged = false
        var ended = false
        while lineStart < text.count {
            var lineEnd = lineStart
            while lineEnd < text.count, text[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let next = lineEnd + 1
            if lineEnd > lineStart, text[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = text[lineStart..<lineEnd]
            let offset = bytes.fileOffset + Int64(lineStart)
            lineStart = next
            let tagAt = Self.find(Self.tag, in: line)
            if !began {
                guard Self.find(Self.beginMarker, in: line) != nil else { continue }
                began = true
                tagged = tagAt != nil
                continue
            }
            if tagged && tagAt == nil { continue }
            if Self.find(Self.endMarker, in: line) != nil {
                ended = true
                break
            }
            var payload = line[...]
            if let tagAt {
                // `W/google-breakpad( 3745): O ...` or `... F google-breakpad: O ...`: the message follows
                // the first ": " after the tag.
                guard let colon = Self.find(Array(": ".utf8), in: line[(tagAt + Self.tag.count)...]) else { continue }
                payload = line[(colon + 2)...]
            }
            state.parse(Array(payload), at: offset)
        }
        guard began else {
            throw ParseError(
                offset: bytes.fileOffset, field: "microdump",
                kind: .badSignature(expected: "a -----BEGIN BREAKPAD MICRODUMP----- line", found: "none"))
        }
        if !ended { state.warnings.append("the microdump has no END line: the text was cut short") }
        systemInfo = state.systemInfo
        product = state.product
        processType = state.processType
        crashReason = state.crashReason
        gpu = state.gpu
        stackHeader = state.stackHeader
        modules = state.modules
        var warnings = state.warnings
        threadContext = state.context.flatMap {
            Self.decodeContext($0.bytes, cpu: state.systemInfo?.cpu, at: $0.offset, warnings: &warnings)
        }
        let regions = state.stackChunks.map { chunk in
            MemoryRegion(
                address: chunk.address, bytes: MappedFile(bytes: chunk.bytes, name: "microdump stack").bytes,
                source: "microdump stack")
        }
        memory = MemoryIndex(regions: regions)
        self.warnings = warnings + memory.warnings
    }

    /// The first index of `needle` in `haystack`.
    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == needle[0] {
                var matched = 1
                while matched < needle.count, haystack[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }
}

/// What the lines of one microdump have said so far.
struct ParseState {
    var systemInfo: MicrodumpSystemInfo?
    var product: String?
    var processType: String?
    var crashReason: MicrodumpCrashReason?
    var gpu: MicrodumpGPU?
    var stackHeader: MicrodumpStackHeader?
    var stackChunks: [(address: UInt64, bytes: [UInt8])] = []
    var stackByteCount = 0
    var context: (bytes: [UInt8], offset: Int64)?
    var modules: [MicrodumpModule] = []
    var warnings: [String] = []

    mutating func parse(_ payload: [UInt8], at offset: Int64) {
        guard let key = payload.first else { return }
        // A key is one letter followed by a space or by the end of the line (`G` alone: no GPU strings).
        guard payload.count == 1 || payload[1] == UInt8(ascii: " ") else {
            warn("an unrecognized line", at: offset)
            return
        }
        let rest = payload.count > 2 ? Array(payload[2...]) : []
        switch key {
        case UInt8(ascii: "O"): parseSystem(rest, at: offset)
        case UInt8(ascii: "V"): product = String(decoding: rest, as: UTF8.self)
        case UInt8(ascii: "P"): processType = String(decoding: rest, as: UTF8.self)
        case UInt8(ascii: "R"): parseCrashReason(rest, at: offset)
        case UInt8(ascii: "G"): parseGPU(rest)
        case UInt8(ascii: "S"): parseStack(rest, at: offset)
        case UInt8(ascii: "C"):
            guard let bytes = Self.hexBytes(rest[...]) else {
                warn("a C line that is not hex", at: offset)
                return
            }
            if context != nil { warn("a second C line (the first is kept)", at: offset) } else { context = (bytes, offset) }
        case UInt8(ascii: "M"): parseModule(rest, at: offset)
        case UInt8(ascii: "H"): break  // heap summary: not used for analysis
        default: warn("an unknown key '\(Character(Unicode.Scalar(key)))'", at: offset)
        }
    }

    mutating func warn(_ message: String, at offset: Int64) {
        // One line of garbage must not turn into millions of warnings.
        guard warnings.count < 100 else { return }
        warnings.append("line at offset 0x\(String(offset, radix: 16)): \(message)")
    }

    mutating func parseSystem(_ rest: [UInt8], at offset: Int64) {
        let (tokens, tail) = Self.tokens(rest, count: 4)
        guard tokens.count == 4, let cpus = Self.hexValue(tokens[2]), let cpuCount = Int(exactly: cpus) else {
            warn("an O line without OS, architecture, CPU count and hardware", at: offset)
            return
        }
        systemInfo = MicrodumpSystemInfo(
            osIdentifier: String(decoding: tokens[0], as: UTF8.self), cpu: String(decoding: tokens[1], as: UTF8.self),
            cpuCount: cpuCount, hardwareArchitecture: String(decoding: tokens[3], as: UTF8.self),
            osVersion: String(decoding: tail, as: UTF8.self))
    }

    mutating func parseCrashReason(_ rest: [UInt8], at offset: Int64) {
        let (tokens, _) = Self.tokens(rest, count: 3)
        guard tokens.count == 3, let signal = Self.hexValue(tokens[0]), let address = Self.hexValue(tokens[2]) else {
            warn("an R line without signal number, name and address", at: offset)
            return
        }
        crashReason = MicrodumpCrashReason(
            signal: UInt32(truncatingIfNeeded: signal), name: String(decoding: tokens[1], as: UTF8.self), address: address)
    }

    mutating func parseGPU(_ rest: [UInt8]) {
        let text = String(decoding: rest, as: UTF8.self)
        guard !text.isEmpty, text != "UNKNOWN" else { return }
        let parts = text.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        gpu = MicrodumpGPU(
            version: parts[0], vendor: parts.count > 1 ? parts[1] : "", renderer: parts.count > 2 ? parts[2] : "")
    }

    mutating func parseStack(_ rest: [UInt8], at offset: Int64) {
        let (tokens, _) = Self.tokens(rest, count: 4)
        if tokens.count == 4, tokens[0] == [UInt8(ascii: "0")] {
            guard let sp = Self.hexValue(tokens[1]), let start = Self.hexValue(tokens[2]), let size = Self.hexValue(tokens[3])
            else {
                warn("an S 0 header that is not hex", at: offset)
                return
            }
            stackHeader = MicrodumpStackHeader(stackPointer: sp, start: start, size: size)
            return
        }
        guard tokens.count == 2, let address = Self.hexValue(tokens[0]), let bytes = Self.hexBytes(tokens[1]) else {
            warn("an S line that is not an address and hex bytes", at: offset)
            return
        }
        guard stackByteCount + bytes.count <= Microdump.maximumStackBytes else {
            warn("stack beyond \(Microdump.maximumStackBytes) bytes ignored", at: offset)
            return
        }
        stackByteCount += bytes.count
        // Chunks follow each other; one that does not continue the last starts a region of its own.
        if let last = stackChunks.last, last.address &+ UInt64(last.bytes.count) == address {
            stackChunks[stackChunks.count - 1].bytes += bytes
        } else {
            stackChunks.append((address, bytes))
        }
    }

    mutating func parseModule(_ rest: [UInt8], at offset: Int64) {
        let (tokens, _) = Self.tokens(rest, count: 5)
        guard tokens.count == 5, let base = Self.hexValue(tokens[0]), let fileOffset = Self.hexValue(tokens[1]),
            let size = Self.hexValue(tokens[2])
        else {
            warn("an M line without base, offset, size, identifier and name", at: offset)
            return
        }
        let name = String(decoding: tokens[4], as: UTF8.self)
        guard size > 0, base <= UInt64.max - size else {
            warn("module \(name) has an empty or wrapping range", at: offset)
            return
        }
        guard modules.count < Microdump.maximumModules else {
            warn("modules beyond \(Microdump.maximumModules) ignored", at: offset)
            return
        }
        var module = MicrodumpModule(
            base: base, fileOffset: fileOffset, size: size, debugIdentifier: String(decoding: tokens[3], as: UTF8.self),
            name: name)
        let android = systemInfo?.osIdentifier == "A"
        for index in modules.indices where modules[index].base < module.endAddress && module.base < modules[index].endAddress {
            let other = modules[index]
            guard android, other.base != module.base else {
                warn("module \(name) overlaps \(other.name) and is left out", at: offset)
                return
            }
            // Shrink whichever of the two starts lower so that it ends where the other begins.
            if other.base < module.base {
                modules[index].size = module.base - other.base
            } else {
                module.size = other.base - module.base
            }
        }
        modules.append(module)
    }

    /// The first `count` space-separated tokens and what follows the last one (after one space).
    static func tokens(_ bytes: [UInt8], count: Int) -> (tokens: [ArraySlice<UInt8>], tail: ArraySlice<UInt8>) {
        var tokens = [ArraySlice<UInt8>]()
        var index = 0
        while tokens.count < count {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            guard index < bytes.count else { break }
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: " ") { index += 1 }
            tokens.append(bytes[start..<index])
        }
        if index < bytes.count { index += 1 }
        return (tokens, bytes[min(index, bytes.count)...])
    }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A hex number of at most 16 digits.
    static func hexValue(_ token: ArraySlice<UInt8>) -> UInt64? {
        guard !token.isEmpty, token.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in token {
            guard let digit = hexDigit(byte) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// Bytes from pairs of hex digits; an odd trailing digit is ignored.
    static func hexBytes(_ token: ArraySlice<UInt8>) -> [UInt8]? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(token.count / 2)
        var index = token.startIndex
        while index + 1 < token.endIndex {
            guard let high = hexDigit(token[index]), let low = hexDigit(token[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
