import BinaryReading
import KernelDump
import StackWalk

/// A legacy full user-mode dump's memory (`USERDUMP`/`USERDU64`) as the stack walker reads it.
public struct UserDumpStackMemory: StackMemory {
    public let memory: UserDumpMemory

    public init(_ memory: UserDumpMemory) { self.memory = memory }

    public func bytes(at address: UInt64, count: Int) -> [UInt8]? { memory.read(address, count: count) }
}
