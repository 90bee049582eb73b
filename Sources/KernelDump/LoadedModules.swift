import BinaryReading

/// A driver as the kernel's loaded-module list records it: one `KLDR_DATA_TABLE_ENTRY`.
///
/// Layouts (the fields read here have kept their offsets from Windows XP to Windows 11):
///
/// | field | x64 | x86 |
/// |---|---|---|
/// | `InLoadOrderLinks` (`LIST_ENTRY`) | 0x00 | 0x00 |
/// | `DllBase` | 0x30 | 0x18 |
/// | `EntryPoint` | 0x38 | 0x1C |
/// | `SizeOfImage` | 0x40 | 0x20 |
/// | `FullDllName` (`UNICODE_STRING`) | 0x48 | 0x24 |
/// | `BaseDllName` (`UNICODE_STRING`) | 0x58 | 0x2C |
public struct LoadedModule: Sendable, Equatable {
    /// Virtual address of the entry (its `InLoadOrderLinks`).
    public var entryAddress: UInt64
    /// `DllBase`: where the image is mapped.
    public var baseAddress: UInt64
    /// `EntryPoint`.
    public var entryPoint: UInt64
    /// `SizeOfImage`.
    public var sizeOfImage: UInt32
    /// `FullDllName`, when its buffer could be read.
    public var fullName: String?
    /// `BaseDllName`, when its buffer could be read.
    public var baseName: String?

    /// The full name, else the base name, else an empty string.
    public var name: String { fullName ?? baseName ?? "" }
}

/// The drivers found by walking `PsLoadedModuleList`, and what stopped or damaged the walk.
public struct LoadedModuleList: Sendable {
    /// Drivers in load order.
    public var modules: [LoadedModule]
    /// Problems met on the way (a cycle, an entry outside the dump, an unreadable name), in plain words.
    public var warnings: [String]
}

extension KernelDumpFile {
    /// The most entries the walk follows; real systems load a few hundred drivers.
    public static let loadedModuleLimit = 8192
    /// The longest name (in bytes of UTF-16) read from a `UNICODE_STRING`; paths are far shorter.
    static let moduleNameLimit = 2048

    /// Walks the kernel's `PsLoadedModuleList` (the header's pointer to the list head) through `memory`.
    ///
    /// Throws when the head is unset or not in the dump; later problems end or skip entries and
    /// become warnings, so a damaged list still yields the drivers before the damage.
    public func loadedModules(in memory: VirtualMemory) throws(ParseError) -> LoadedModuleList {
        let is64Bit = memory.mode == .x64
        let field = "DUMP_HEADER.PsLoadedModuleList"
        let fieldOffset: Int64 = header.is64Bit ? 0x20 : 0x18
        guard let rawHead = header.psLoadedModuleList, rawHead != 0 else {
            throw ParseError(offset: fieldOffset, field: field, kind: .invalidValue("never filled in"))
        }
        let reader = PointerReader(memory: memory, is64Bit: is64Bit)
        let head = reader.normalize(rawHead)
        guard var next = reader.pointer(at: head) else {
            throw ParseError(
                offset: fieldOffset, field: field,
                kind: .invalidValue("the list head at \(hexAddress(head)) is not in the dump"))
        }
        let layout = is64Bit ? EntryLayout.x64 : .x86
        var modules = [LoadedModule]()
        var warnings = [String]()
        var seen: Set<UInt64> = [head]
        while next != head {
            guard modules.count < Self.loadedModuleLimit else {
                warnings.append("the list holds more than \(Self.loadedModuleLimit) entries; the rest are not read")
                break
            }
            guard seen.insert(next).inserted else {
                warnings.append("the list loops back to the entry at \(hexAddress(next)) without reaching its head")
                break
            }
            guard let raw = memory.read(next, count: layout.size) else {
                warnings.append("the entry at \(hexAddress(next)) is not in the dump; the list ends there")
                break
            }
            let entry = EntryBytes(bytes: raw, is64Bit: is64Bit)
            var module = LoadedModule(
                entryAddress: next, baseAddress: reader.normalize(entry.pointer(at: layout.dllBase)),
                entryPoint: reader.normalize(entry.pointer(at: layout.entryPoint)),
                sizeOfImage: entry.uint32(at: layout.sizeOfImage), fullName: nil, baseName: nil)
            for (offset, label) in [(layout.fullDllName, "FullDllName"), (layout.baseDllName, "BaseDllName")] {
                switch readName(entry, at: offset, reader: reader) {
                case .success(let name):
                    if offset == layout.fullDllName { module.fullName = name } else { module.baseName = name }
                case .failure(let problem):
                    warnings.append("the entry at \(hexAddress(next)): \(label) \(problem.message)")
                }
            }
            modules.append(module)
            next = reader.normalize(entry.pointer(at: 0))
        }
        return LoadedModuleList(modules: modules, warnings: warnings)
    }

    /// Why a name could not be read.
    struct NameProblem: Error {
        var message: String
    }

    /// The text of the `UNICODE_STRING` at `offset` in `entry`: `Length` (bytes, u16),
    /// `MaximumLength` (u16), then `Buffer` at the next pointer-aligned offset.
    private func readName(_ entry: EntryBytes, at offset: Int, reader: PointerReader) -> Result<String?, NameProblem> {
        let length = Int(entry.uint16(at: offset))
        let maximum = Int(entry.uint16(at: offset + 2))
        let buffer = reader.normalize(entry.pointer(at: offset + reader.pointerSize))
        if length == 0 { return .success(nil) }
        guard length % 2 == 0, length <= maximum, length <= Self.moduleNameLimit else {
            return .failure(NameProblem(message: "has an impossible length \(length) (maximum \(maximum))"))
        }
        guard let bytes = reader.memory.read(buffer, count: length) else {
            return .failure(NameProblem(message: "text at \(hexAddress(buffer)) is not in the dump"))
        }
        let units = stride(from: 0, to: length, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
        return .success(String(decoding: units, as: UTF16.self))
    }
}

/// Field offsets of `KLDR_DATA_TABLE_ENTRY` for one pointer size.
private struct EntryLayout {
    /// Bytes read per entry: up to the end of `BaseDllName`.
    var size: Int
    var dllBase: Int
    var entryPoint: Int
    var sizeOfImage: Int
    var fullDllName: Int
    var baseDllName: Int

    static let x64 = EntryLayout(
        size: 0x68, dllBase: 0x30, entryPoint: 0x38, sizeOfImage: 0x40, fullDllName: 0x48, baseDllName: 0x58)
    static let x86 = EntryLayout(
        size: 0x34, dllBase: 0x18, entryPoint: 0x1C, sizeOfImage: 0x20, fullDllName: 0x24, baseDllName: 0x2C)
}

/// One entry's bytes; every offset used is inside `EntryLayout.size`.
private struct EntryBytes {
    let bytes: [UInt8]
    let is64Bit: Bool

    func uint16(at offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    func uint32(at offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) } }
    func pointer(at offset: Int) -> UInt64 {
        is64Bit ? (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) } : UInt64(uint32(at: offset))
    }
}

/// Reads list pointers of one address space.
private struct PointerReader {
    let memory: VirtualMemory
    let is64Bit: Bool
    var pointerSize: Int { is64Bit ? 8 : 4 }

    /// 32-bit kernels' header fields are sign-extended to 64 bits while list pointers hold 32:
    /// compare them as 32-bit values so the walk recognizes its head.
    func normalize(_ address: UInt64) -> UInt64 { is64Bit ? address : address & 0xFFFF_FFFF }

    func pointer(at address: UInt64) -> UInt64? {
        guard let bytes = memory.read(address, count: pointerSize) else { return nil }
        return bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}

private func hexAddress(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
