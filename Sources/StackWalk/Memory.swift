/// Read access to the crashed process's memory, as far as the dump captured it.
public protocol StackMemory: Sendable {
    /// `count` bytes at `address`, or nil when any of them were not captured.
    func bytes(at address: UInt64, count: Int) -> [UInt8]?
    /// A little-endian 32-bit value at `address` (a default reads through `bytes`).
    func readUInt32(at address: UInt64) -> UInt32?
    /// A little-endian 64-bit value at `address` (a default reads through `bytes`).
    func readUInt64(at address: UInt64) -> UInt64?
}

extension StackMemory {
    /// A little-endian 32-bit value at `address`.
    public func readUInt32(at address: UInt64) -> UInt32? {
        guard let bytes = bytes(at: address, count: 4), bytes.count >= 4 else { return nil }
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    /// A little-endian 64-bit value at `address`.
    public func readUInt64(at address: UInt64) -> UInt64? {
        guard let bytes = bytes(at: address, count: 8), bytes.count >= 8 else { return nil }
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    /// A pointer-sized value at `address`, widened to 64 bits.
    public func readWord(at address: UInt64, size: Int) -> UInt64? {
        size == 4 ? readUInt32(at: address).map(UInt64.init) : readUInt64(at: address)
    }
}

/// Memory with nothing captured, for walks that only have a context.
public struct NoMemory: StackMemory {
    public init() {}
    public func bytes(at address: UInt64, count: Int) -> [UInt8]? { nil }
}
