import BinaryReading
import KernelDump
import StackWalk

/// A legacy full user-mode dump's memory (`USERDUMP`/`USERDU64`) as the stack walker reads it.
public struct UserDumpStackMemory: StackMemory {
    public let memory: UserDumpMemory

    public init(_ memory: UserDumpMemory) { self.memory = memory }

    public func bytes(at address: UInt64, count: Int) -> [UInt8]? { memory.read(address, count: count) }
}

/// A module's image read from a full user-mode dump, which holds every committed page of it: an RVA
/// is an offset from the module's base.
public struct UserDumpImage: ModuleImage {
    public let memory: UserDumpMemory
    public let base: UInt64

    public init(memory: UserDumpMemory, base: UInt64) {
        self.memory = memory
        self.base = base
    }

    public func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]? {
        let (address, overflow) = base.addingReportingOverflow(rva)
        guard !overflow else { return nil }
        return memory.read(address, count: count)
    }
}

extension RegisterSet {
    /// The integer registers and rip of an amd64 `CONTEXT` record (1232 bytes; fields at the offsets
    /// winnt.h gives: Rax at 0x78 through R15 at 0xF0, Rip at 0xF8), as a user dump stores it per
    /// thread. Nil when the record is too short.
    public init?(amd64Context bytes: ByteView) {
        guard bytes.count >= 0x100 else { return nil }
        self.init(architecture: .amd64)
        // CONTEXT order: Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8-R15, then Rip.
        let names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"] + (8...15).map { "r\($0)" } + ["rip"]
        for (slot, name) in names.enumerated() {
            guard let value = try? bytes.load(UInt64.self, at: 0x78 + slot * 8, field: "CONTEXT." + name) else { return nil }
            self[name] = value
        }
    }
}
