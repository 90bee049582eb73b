import BinaryReading
import Minidump

/// Writes little- or big-endian bytes at explicit offsets, so the tests state each layout from
/// the specification (winnt.h, Breakpad's minidump_cpu_*.h) without reusing the parser's code.
struct ContextBytes {
    var bytes: [UInt8]
    var endianness: Endianness

    init(size: Int, endianness: Endianness = .little) {
        bytes = [UInt8](repeating: 0, count: size)
        self.endianness = endianness
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let size = MemoryLayout<T>.size
        for index in 0..<size {
            let shift = endianness == .little ? index * 8 : (size - 1 - index) * 8
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> shift)
        }
    }

    /// A 128-bit value: low half first in a little-endian file, high half first in a big-endian one.
    mutating func put128(low: UInt64, high: UInt64, at offset: Int) {
        if endianness == .little {
            put(low, at: offset)
            put(high, at: offset + 8)
        } else {
            put(high, at: offset)
            put(low, at: offset + 8)
        }
    }
}

/// Builds a minimal minidump: header, directory, SystemInfo, a one-thread ThreadList and the context.
enum SyntheticDump {
    static func make(
        context: [UInt8], architecture: UInt16, endianness: Endianness = .little,
        contextSize: UInt32? = nil, contextRva: UInt32? = nil
    ) -> [UInt8] {
        let headerSize = 32
        let directoryOffset = headerSize
        let systemInfoOffset = directoryOffset + 2 * 12
        let threadListOffset = systemInfoOffset + 56
        let contextOffset = threadListOffset + 4 + 48 + 4  // 8-aligned: 168
        var out = ContextBytes(size: contextOffset + context.count, endianness: endianness)
        // MINIDUMP_HEADER: Signature reads as 'MDMP' in the file's byte order.
        out.put(UInt32(0x504D_444D), at: 0)
        out.put(UInt32(0xA793), at: 4)
        out.put(UInt32(2), at: 8)
        out.put(UInt32(directoryOffset), at: 12)
        // MINIDUMP_DIRECTORY: SystemInfoStream (7), ThreadListStream (3).
        out.put(UInt32(7), at: directoryOffset)
        out.put(UInt32(56), at: directoryOffset + 4)
        out.put(UInt32(systemInfoOffset), at: directoryOffset + 8)
        out.put(UInt32(3), at: directoryOffset + 12)
        out.put(UInt32(52), at: directoryOffset + 16)
        out.put(UInt32(threadListOffset), at: directoryOffset + 20)
        // MINIDUMP_SYSTEM_INFO.ProcessorArchitecture.
        out.put(architecture, at: systemInfoOffset)
        // MINIDUMP_THREAD_LIST with one MINIDUMP_THREAD (ThreadContext at +40).
        out.put(UInt32(1), at: threadListOffset)
        out.put(UInt32(0x1234), at: threadListOffset + 4)
        out.put(contextSize ?? UInt32(context.count), at: threadListOffset + 4 + 40)
        out.put(contextRva ?? UInt32(contextOffset), at: threadListOffset + 4 + 44)
        out.bytes.replaceSubrange(contextOffset..<(contextOffset + context.count), with: context)
        return out.bytes
    }

    /// Opens the bytes as a dump and decodes its one thread's context.
    static func decode(_ bytes: [UInt8]) throws(ParseError) -> ThreadContext {
        let dump = try MinidumpFile(bytes: MappedFile(bytes: bytes).bytes)
        let architecture = try dump.stream(SystemInfo.self)?.processorArchitecture
        guard let thread = try dump.stream(ThreadList.self)?.threads.first else {
            throw ParseError(offset: 0, field: "test", kind: .invalidValue("no thread"))
        }
        return try dump.threadContext(at: thread.threadContext, architecture: architecture)
    }

    /// Parses a hex string (as in lldb's yaml2obj minidump descriptions).
    static func hexBytes(_ text: some StringProtocol) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let byte = UInt8(String(decoding: digits[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
            index += 2
        }
        return bytes
    }
}

/// Contexts of every layout with distinct values, written at the offsets the specifications give.
enum SyntheticContexts {
    /// `CONTEXT` x86: Edi 0x9C, Esi 0xA0, Ebx 0xA4, Edx 0xA8, Ecx 0xAC, Eax 0xB0, Ebp 0xB4, Eip 0xB8,
    /// SegCs 0xBC, EFlags 0xC0, Esp 0xC4, SegSs 0xC8, ExtendedRegisters 0xCC (xmm0 at +0xA0).
    static func x86(_ endianness: Endianness = .little, size: Int = 716, flags: UInt32 = 0x0001_003F) -> [UInt8] {
        var c = ContextBytes(size: size, endianness: endianness)
        c.put(flags, at: 0)
        for (offset, value) in [
            (0x9C, 0xED1), (0xA0, 0xE51), (0xA4, 0xEB8), (0xA8, 0xED8), (0xAC, 0xEC8), (0xB0, 0xEA8), (0xB4, 0xEB9),
            (0xB8, 0x0040_429E), (0xC0, 0x246), (0xC4, 0x0012_FE84),
        ] as [(Int, UInt32)] {
            c.put(value, at: offset)
        }
        c.put128(low: 0x1111, high: 0x2222, at: 0xCC + 0xA0)
        return c.bytes
    }

    /// `CONTEXT` AMD64: ContextFlags 0x30, Rax 0x78 .. R15 0xF0, Rip 0xF8, FltSave 0x100 (xmm0 at
    /// 0x1A0), VectorRegister 0x300, LastExceptionFromRip 0x4C8. With `avx`, a `CONTEXT_EX` at 0x4D0
    /// whose XState chunk starts 48 bytes later (0x500) with header, then 16 YMM upper halves.
    static func amd64(_ endianness: Endianness = .little, flags: UInt32 = 0x0010_000B, avx: Bool = false) -> [UInt8] {
        var c = ContextBytes(size: avx ? 0x500 + 64 + 256 : 1232, endianness: endianness)
        c.put(UInt64(0xDEAD_BEEF), at: 0)  // P1Home: garbage that must not confuse detection
        c.put(flags | (avx ? 0x40 : 0), at: 0x30)
        for index in 0..<16 {
            c.put(UInt64(0x1000 + index), at: 0x78 + 8 * index)
        }
        c.put(UInt64(0x7FF6_6D9F_29E9), at: 0xF8)
        c.put128(low: 0xAAAA, high: 0xBBBB, at: 0x1A0)
        c.put(UInt64(0x4C8), at: 0x4C8)
        if avx {
            c.put(Int32(-1232), at: 0x4D0)  // All.Offset
            c.put(UInt32(1232 + 48 + 320), at: 0x4D4)
            c.put(Int32(-1232), at: 0x4D8)  // Legacy
            c.put(UInt32(1232), at: 0x4DC)
            c.put(Int32(48), at: 0x4E0)  // XState
            c.put(UInt32(320), at: 0x4E4)
            c.put(UInt64(0x7), at: 0x500)  // Mask: x87 | SSE | AVX
            for index in 0..<16 {
                c.put128(low: UInt64(0x5000 + index), high: UInt64(0x6000 + index), at: 0x540 + 16 * index)
            }
        }
        return c.bytes
    }

    /// `MDRawContextARM`: context_flags 0, iregs 4..68, cpsr 68, fpscr 72, regs 80..336, extra 336..368.
    static func armBreakpad(_ endianness: Endianness = .little, flags: UInt32 = 0x4000_0006) -> [UInt8] {
        var c = ContextBytes(size: 368, endianness: endianness)
        c.put(flags, at: 0)
        for index in 0..<16 {
            c.put(UInt32(0xA00 + index), at: 4 + 4 * index)
        }
        c.put(UInt32(0x6000_0010), at: 68)
        c.put(UInt64(0x0300_0000), at: 72)
        c.put(UInt64(0xD31), at: 80 + 31 * 8)
        c.put(UInt32(0xE7), at: 336 + 7 * 4)
        return c.bytes
    }

    /// `CONTEXT` ARM (Windows): R0..R12 4..56, Sp 56, Lr 60, Pc 64, Cpsr 68, Fpscr 72, D 80..336,
    /// Bvr 336, Bcr 368, Wvr 400, Wcr 404, Padding2 408..416.
    static func armWindows(_ endianness: Endianness = .little) -> [UInt8] {
        var c = ContextBytes(size: 416, endianness: endianness)
        c.put(UInt32(0x0020_0007), at: 0)
        for index in 0..<13 {
            c.put(UInt32(0xB00 + index), at: 4 + 4 * index)
        }
        c.put(UInt32(0x0060_F000), at: 56)
        c.put(UInt32(0x7710_0001), at: 60)
        c.put(UInt32(0x7720_0003), at: 64)
        c.put(UInt32(0x30), at: 68)
        c.put(UInt32(0x0300_0000), at: 72)
        c.put(UInt64(0xD00), at: 80)
        c.put(UInt32(0xB7), at: 336 + 7 * 4)
        c.put(UInt32(0xC7), at: 368 + 7 * 4)
        c.put(UInt32(0x400), at: 400)
        c.put(UInt32(0x404), at: 404)
        return c.bytes
    }

    /// `CONTEXT` ARM64: Cpsr 4, X0 8 .. X28 232, Fp 240, Lr 248, Sp 256, Pc 264, V 272..784,
    /// Fpcr 784, Fpsr 788, Bcr 792, Bvr 824, Wcr 888, Wvr 896..912.
    static func arm64(_ endianness: Endianness = .little) -> [UInt8] {
        var c = ContextBytes(size: 912, endianness: endianness)
        c.put(UInt32(0x0040_0007), at: 0)
        c.put(UInt32(0x8000_0000), at: 4)
        for index in 0..<33 {
            c.put(UInt64(0xC000 + index), at: 8 + 8 * index)
        }
        c.put128(low: 0x1F1F, high: 0x2F2F, at: 272 + 31 * 16)
        c.put(UInt32(0x0300_0000), at: 784)
        c.put(UInt32(0x10), at: 788)
        c.put(UInt32(0xBC7), at: 792 + 7 * 4)
        c.put(UInt64(0xB57), at: 824 + 7 * 8)
        c.put(UInt32(0xC1), at: 888 + 4)
        c.put(UInt64(0xF1), at: 896 + 8)
        return c.bytes
    }

    /// `MDRawContextARM64_Old` (packed to 4): context_flags u64 0, iregs 8..272, cpsr 272, fpsr 276,
    /// fpcr 280, regs 284..796.
    static func arm64Old(_ endianness: Endianness = .little) -> [UInt8] {
        var c = ContextBytes(size: 796, endianness: endianness)
        c.put(UInt64(0x8000_0006), at: 0)
        for index in 0..<33 {
            c.put(UInt64(0xD000 + index), at: 8 + 8 * index)
        }
        c.put(UInt32(0x2000_0000), at: 272)
        c.put(UInt32(0x11), at: 276)
        c.put(UInt32(0x22), at: 280)
        c.put128(low: 0x3131, high: 0x3232, at: 284 + 31 * 16)
        return c.bytes
    }
}
