import BinaryReading

/// Breakpad's `MDRawLinkMap32` (12 bytes) or `MDRawLinkMap64` (24 bytes): one `struct link_map`
/// of the dynamic linker's list of loaded objects.
public struct LinkMapEntry: Sendable, Equatable, Codable {
    /// `addr`: difference between the object's load address and its link-time address.
    public var addr: UInt64
    /// `name`: RVA of a `MINIDUMP_STRING` holding the object's path (0 when none).
    public var nameRva: UInt32
    /// `ld`: address of the object's dynamic section.
    public var ld: UInt64
    /// The path (empty when unreadable or absent).
    public var name: String
    /// Why the name could not be read, if it could not.
    public var warning: String?
}

/// Breakpad's `MDRawDebug32` (24 bytes) or `MDRawDebug64` (40 bytes): the dynamic linker's `r_debug`,
/// followed in the stream by a copy of the executable's dynamic section.
///
/// The 64-bit variant aligns `brk` to 8, leaving 4 bytes of padding after `dso_count`.
/// The variant is chosen by the pointer size of the SystemInfo stream's architecture.
public struct LinuxDsoDebug: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.linuxDsoDebug

    /// Bytes per pointer (4 or 8).
    public var pointerSize: Int
    /// `version`: `r_version`.
    public var version: UInt32
    /// `map`: RVA of `dso_count` link map entries.
    public var mapRva: UInt32
    /// `dso_count`.
    public var dsoCount: UInt32
    /// `brk`: `r_brk`, the address the debugger breaks on to see library loads.
    public var brk: UInt64
    /// `ldbase`: load address of the dynamic linker.
    public var ldbase: UInt64
    /// `dynamic`: address of the executable's dynamic section.
    public var dynamic: UInt64
    /// The link maps, in the linker's order.
    public var linkMaps: [LinkMapEntry]
    /// The bytes of the dynamic section copied after the structure.
    public var dynamicSection: [UInt8]

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        pointerSize = try dump.pointerSize(for: "MD_LINUX_DSO_DEBUG", at: bytes.fileOffset)
        let wide = pointerSize == 8
        let field = wide ? "MDRawDebug64" : "MDRawDebug32"
        var reader = dump.reader(bytes)
        version = try reader.read(UInt32.self, field + ".version")
        mapRva = try reader.read(UInt32.self, field + ".map")
        dsoCount = try reader.read(UInt32.self, field + ".dso_count")
        func word(_ name: String) throws(ParseError) -> UInt64 {
            wide ? try reader.read(UInt64.self, field + "." + name) : UInt64(try reader.read(UInt32.self, field + "." + name))
        }
        if wide { try reader.skip(4, field + " (padding)") }
        brk = try word("brk")
        ldbase = try word("ldbase")
        dynamic = try word("dynamic")
        dynamicSection = bytes.suffix(from: reader.position).array

        let entryField = wide ? "MDRawLinkMap64" : "MDRawLinkMap32"
        let entrySize = wide ? 24 : 12
        guard mapRva <= dump.bytes.count else {
            throw ParseError(
                offset: bytes.fileOffset + 4, field: field + ".map",
                kind: .outOfBounds(offset: Int64(mapRva), size: 0, fileSize: Int64(dump.bytes.count)))
        }
        var mapReader = dump.reader(dump.bytes, at: Int(mapRva))
        try mapReader.checkCount(Int(dsoCount), elementSize: entrySize, field + ".dso_count")
        var linkMaps = [LinkMapEntry]()
        linkMaps.reserveCapacity(Int(dsoCount))
        for _ in 0..<Int(dsoCount) {
            let addr: UInt64
            let nameRva: UInt32
            let ld: UInt64
            if wide {
                addr = try mapReader.read(UInt64.self, entryField + ".addr")
                nameRva = try mapReader.read(UInt32.self, entryField + ".name")
                try mapReader.skip(4, entryField + " (padding)")
                ld = try mapReader.read(UInt64.self, entryField + ".ld")
            } else {
                addr = UInt64(try mapReader.read(UInt32.self, entryField + ".addr"))
                nameRva = try mapReader.read(UInt32.self, entryField + ".name")
                ld = UInt64(try mapReader.read(UInt32.self, entryField + ".ld"))
            }
            var entry = LinkMapEntry(addr: addr, nameRva: nameRva, ld: ld, name: "", warning: nil)
            if nameRva != 0 {
                do {
                    entry.name = try dump.string(at: nameRva, field: entryField + ".name")
                } catch {
                    entry.warning = error.description
                }
            }
            linkMaps.append(entry)
        }
        self.linkMaps = linkMaps
    }
}
