import BinaryReading

/// `CONTEXT_CHUNK` (8 bytes), from winnt.h: a part of an extended context, relative to `CONTEXT_EX`.
public struct ContextChunk: Sendable, Equatable, Codable {
    /// `Offset`: signed, from the start of `CONTEXT_EX`.
    public var offset: Int32
    /// `Length`.
    public var length: UInt32

    public init(offset: Int32, length: UInt32) {
        self.offset = offset
        self.length = length
    }
}

/// `CONTEXT_EX` (24 bytes), from winnt.h: follows a `CONTEXT` whose flags include `CONTEXT_XSTATE`
/// and says where the legacy context and the XSAVE data are. Newer Windows versions append a
/// `KernelCet` chunk; it is not read.
public struct ContextEx: Sendable, Equatable, Codable {
    /// `All`: the whole extended context (its offset is negative: it starts at the `CONTEXT`).
    public var all: ContextChunk
    /// `Legacy`: the `CONTEXT` itself.
    public var legacy: ContextChunk
    /// `XState`: the `XSAVE_AREA_HEADER` and the extended features after it.
    public var xState: ContextChunk

    /// Size on disk.
    public static let size = 24
}

/// `XSAVE_AREA_HEADER` (64 bytes), from winnt.h: which XSAVE features are present.
public struct XSaveAreaHeader: Sendable, Equatable, Codable {
    /// `Mask` (XSTATE_BV): bit 2 (`XSTATE_AVX`) says the YMM upper halves are saved.
    public var mask: UInt64
    /// `CompactionMask` (XCOMP_BV): bit 63 set for the compacted format.
    public var compactionMask: UInt64
    /// `Reserved2[6]`.
    public var reserved: [UInt64]

    /// Size on disk.
    public static let size = 64
    /// `XSTATE_MASK_AVX`.
    public static let avxMask: UInt64 = 1 << 2
}

/// The XSAVE data after a `CONTEXT` with `CONTEXT_XSTATE`: `CONTEXT_EX`, the XSAVE header and,
/// when saved, the AVX upper halves (`YMMCONTEXT`).
public struct ExtendedState: Sendable, Equatable, Codable {
    /// `CONTEXT_EX`.
    public var contextEx: ContextEx
    /// `XSAVE_AREA_HEADER` at `XState.Offset`.
    public var header: XSaveAreaHeader
    /// Bits 128..255 of ymm0..ymm15 (x86: ymm0..ymm7), when `Mask` has `XSTATE_AVX` and the chunk holds them.
    public var ymmUpperHalves: [Vector128]?

    /// Reads the extended state that follows a `CONTEXT` of `contextSize` bytes in `bytes`.
    ///
    /// The AVX area comes right after the 64-byte header in both the standard and the compacted
    /// XSAVE format (AVX is the first feature after the legacy x87/SSE area, which the `CONTEXT`
    /// itself holds), which is where `RtlLocateExtendedFeature` finds it.
    /// Returns nil with a reason when the bytes after the `CONTEXT` do not describe an XSAVE area.
    static func parse(
        _ bytes: ByteView, contextSize: Int, registerCount: Int, endianness: Endianness
    ) -> (ExtendedState?, String?) {
        guard bytes.count >= contextSize + ContextEx.size else {
            // Wine writes CONTEXT_XSTATE in the flags of a context of exactly sizeof(CONTEXT)
            // (seen in generated/dumps/x64-dll-inproc-cv.dmp), and so do WinDbg's dumps
            // (kdlibcpp targetapp_test_cv_allreg_*): there is no XSAVE data to read.
            return (nil, "no CONTEXT_EX after the \(contextSize)-byte CONTEXT (context is \(bytes.count) bytes)")
        }
        do throws(ParseError) {
            var reader = bytes.reader(at: contextSize, endianness: endianness)
            let field = "CONTEXT_EX"
            func chunk(_ name: String) throws(ParseError) -> ContextChunk {
                ContextChunk(
                    offset: Int32(bitPattern: try reader.read(UInt32.self, field + "." + name + ".Offset")),
                    length: try reader.read(UInt32.self, field + "." + name + ".Length"))
            }
            let contextEx = ContextEx(all: try chunk("All"), legacy: try chunk("Legacy"), xState: try chunk("XState"))
            // Offsets are relative to CONTEXT_EX; Int64 arithmetic cannot overflow here.
            let start = Int64(contextSize) + Int64(contextEx.xState.offset)
            let end = start + Int64(contextEx.xState.length)
            guard start >= Int64(contextSize + ContextEx.size), end <= Int64(bytes.count),
                contextEx.xState.length >= UInt32(XSaveAreaHeader.size)
            else {
                return (
                    nil,
                    "CONTEXT_EX.XState (offset \(contextEx.xState.offset), length \(contextEx.xState.length)) does not fit in the \(bytes.count)-byte context"
                )
            }
            var xsave = bytes.reader(at: Int(start), endianness: endianness)
            let header = XSaveAreaHeader(
                mask: try xsave.read(UInt64.self, "XSAVE_AREA_HEADER.Mask"),
                compactionMask: try xsave.read(UInt64.self, "XSAVE_AREA_HEADER.CompactionMask"),
                reserved: try xsave.readArray(UInt64.self, count: 6, "XSAVE_AREA_HEADER.Reserved2"))
            var upper: [Vector128]? = nil
            let avxBytes = Int64(registerCount * 16)
            if header.mask & XSaveAreaHeader.avxMask != 0,
                Int64(contextEx.xState.length) >= Int64(XSaveAreaHeader.size) + avxBytes
            {
                upper = try xsave.readVectors(count: registerCount, "YMMCONTEXT.Ymm")
            }
            return (ExtendedState(contextEx: contextEx, header: header, ymmUpperHalves: upper), nil)
        } catch {
            return (nil, error.description)
        }
    }
}
