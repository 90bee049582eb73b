import StackWalk
import TestSupport
import Testing

@testable import Analysis

/// A thread's last error comes from its TEB, at the offset of `LastErrorValue` for the pointer size.
@Suite(.ownThread) struct LastErrorTests {
    struct Words: StackMemory {
        var values: [UInt64: UInt32]

        func bytes(at address: UInt64, count: Int) -> [UInt8]? {
            guard count == 4, let value = values[address] else { return nil }
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
        }
    }

    @Test func readsLastErrorValueAtTheTEBOffset() {
        let memory = Words(values: [0x7000_0068: 5, 0x3000_0034: 2])
        #expect(CrashAnalyzer.lastError(teb: 0x7000_0000, memory: memory, pointerWidth: 16) == "ERROR_ACCESS_DENIED")
        #expect(CrashAnalyzer.lastError(teb: 0x3000_0000, memory: memory, pointerWidth: 8) == "ERROR_FILE_NOT_FOUND")
        // Not captured, or an address that would wrap: nothing, rather than a guess.
        #expect(CrashAnalyzer.lastError(teb: 0x1000, memory: memory, pointerWidth: 16) == nil)
        #expect(CrashAnalyzer.lastError(teb: UInt64.max - 4, memory: memory, pointerWidth: 16) == nil)
    }
}
