import BinaryReading
import Minidump
import PortableExecutable
import StackWalk

/// A dump's captured memory as the stack walker reads it.
public struct CapturedMemory: StackMemory {
    public let index: MemoryIndex

    public init(_ index: MemoryIndex) { self.index = index }

    public func bytes(at address: UInt64, count: Int) -> [UInt8]? { index.bytes(at: address, count: count)?.array }
    public func readUInt32(at address: UInt64) -> UInt32? { index.read(UInt32.self, at: address) }
    public func readUInt64(at address: UInt64) -> UInt64? { index.read(UInt64.self, at: address) }
}

/// A module's image read from the dump's memory: the loader mapped it at `base`, so an RVA is an
/// offset from there. Present when the writer captured the module's pages (full dumps, USERDU64,
/// code around the crash).
public struct CapturedImage: ModuleImage {
    public let memory: any StackMemory
    public let base: UInt64

    public init(memory: any StackMemory, base: UInt64) {
        self.memory = memory
        self.base = base
    }

    public func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]? {
        let (address, overflow) = base.addingReportingOverflow(rva)
        guard !overflow else { return nil }
        return memory.bytes(at: address, count: count)
    }
}

extension CapturedImage {
    /// The image of the module at `base` in a minidump's memory index.
    public init(memory index: MemoryIndex, base: UInt64) {
        self.init(memory: CapturedMemory(index), base: base)
    }
}

/// A PE file on disk addressed by RVA through its section table, as the loader would map it.
public struct MappedPEImage: ModuleImage {
    public let image: PEImage

    public init(_ image: PEImage) { self.image = image }

    public func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]? {
        guard rva <= UInt64(UInt32.max), count >= 0 else { return nil }
        // Headers are mapped as they are in the file.
        if rva < UInt64(image.optionalHeader.sizeOfHeaders), image.bytes.contains(offset: Int(rva), size: count) {
            return (try? image.bytes.slice(offset: Int(rva), size: count, field: "headers"))?.array
        }
        guard let range = image.fileRange(ofRVA: UInt32(rva)) else { return nil }
        if range.available >= count {
            return (try? image.bytes.slice(offset: range.offset, size: count, field: "section"))?.array
        }
        // The tail of a section past its raw data is zero-filled in memory.
        guard let section = image.section(containing: UInt32(rva)),
            UInt64(section.virtualAddress) + UInt64(max(section.virtualSize, section.sizeOfRawData)) >= rva + UInt64(count)
        else { return nil }
        var bytes = (try? image.bytes.slice(offset: range.offset, size: range.available, field: "section"))?.array ?? []
        bytes += Array(repeating: 0, count: count - bytes.count)
        return bytes
    }
}

extension RegisterSet {
    /// The walker's register set for a dump's thread context; every general register is valid.
    public init(context: ThreadContext) {
        let architecture: StackArchitecture =
            switch context {
            case .x86: .x86
            case .amd64: .amd64
            case .arm: .arm
            case .arm64: .arm64
            }
        self.init(architecture: architecture)
        for register in context.registers {
            self[register.name] = register.value
        }
    }
}
