import BinaryReading

/// `FLOATING_SAVE_AREA` (112 bytes), from winnt.h: the x87 state of an x86 `CONTEXT`
/// (Breakpad's `MDFloatingSaveAreaX86`).
public struct FloatingSaveAreaX86: Sendable, Equatable, Codable {
    /// `ControlWord`.
    public var controlWord: UInt32
    /// `StatusWord`.
    public var statusWord: UInt32
    /// `TagWord`.
    public var tagWord: UInt32
    /// `ErrorOffset`.
    public var errorOffset: UInt32
    /// `ErrorSelector`.
    public var errorSelector: UInt32
    /// `DataOffset`.
    public var dataOffset: UInt32
    /// `DataSelector`.
    public var dataSelector: UInt32
    /// `RegisterArea[80]`: st(0)..st(7), 10 bytes each.
    public var registerArea: [UInt8]
    /// `Spare0` (Windows) / `Cr0NpxState` (Breakpad).
    public var cr0NpxState: UInt32

    /// Size on disk.
    public static let size = 112

    init(parsing reader: inout ByteReader, _ field: String) throws(ParseError) {
        controlWord = try reader.read(UInt32.self, field + ".ControlWord")
        statusWord = try reader.read(UInt32.self, field + ".StatusWord")
        tagWord = try reader.read(UInt32.self, field + ".TagWord")
        errorOffset = try reader.read(UInt32.self, field + ".ErrorOffset")
        errorSelector = try reader.read(UInt32.self, field + ".ErrorSelector")
        dataOffset = try reader.read(UInt32.self, field + ".DataOffset")
        dataSelector = try reader.read(UInt32.self, field + ".DataSelector")
        registerArea = try reader.readBytes(80, field + ".RegisterArea").array
        cr0NpxState = try reader.read(UInt32.self, field + ".Cr0NpxState")
    }
}

/// `XMM_SAVE_AREA32` (512 bytes), from winnt.h: the FXSAVE image. It is `FltSave` of the AMD64
/// `CONTEXT` and the layout of `ExtendedRegisters[512]` of the x86 `CONTEXT`.
public struct FXSaveArea: Sendable, Equatable, Codable {
    /// `ControlWord`.
    public var controlWord: UInt16
    /// `StatusWord`.
    public var statusWord: UInt16
    /// `TagWord` (abridged).
    public var tagWord: UInt8
    /// `Reserved1`.
    public var reserved1: UInt8
    /// `ErrorOpcode`.
    public var errorOpcode: UInt16
    /// `ErrorOffset`.
    public var errorOffset: UInt32
    /// `ErrorSelector`.
    public var errorSelector: UInt16
    /// `Reserved2`.
    public var reserved2: UInt16
    /// `DataOffset`.
    public var dataOffset: UInt32
    /// `DataSelector`.
    public var dataSelector: UInt16
    /// `Reserved3`.
    public var reserved3: UInt16
    /// `MxCsr`.
    public var mxCsr: UInt32
    /// `MxCsr_Mask`.
    public var mxCsrMask: UInt32
    /// `FloatRegisters[8]`: st(0)..st(7) / mm0..mm7, each in the low 10 bytes.
    public var floatRegisters: [Vector128]
    /// `XmmRegisters[16]`: xmm0..xmm15 (x86 uses the first 8).
    public var xmmRegisters: [Vector128]
    /// `Reserved4[96]`.
    public var reserved4: [UInt8]

    /// Size on disk.
    public static let size = 512

    init(parsing reader: inout ByteReader, _ field: String) throws(ParseError) {
        controlWord = try reader.read(UInt16.self, field + ".ControlWord")
        statusWord = try reader.read(UInt16.self, field + ".StatusWord")
        tagWord = try reader.read(UInt8.self, field + ".TagWord")
        reserved1 = try reader.read(UInt8.self, field + ".Reserved1")
        errorOpcode = try reader.read(UInt16.self, field + ".ErrorOpcode")
        errorOffset = try reader.read(UInt32.self, field + ".ErrorOffset")
        errorSelector = try reader.read(UInt16.self, field + ".ErrorSelector")
        reserved2 = try reader.read(UInt16.self, field + ".Reserved2")
        dataOffset = try reader.read(UInt32.self, field + ".DataOffset")
        dataSelector = try reader.read(UInt16.self, field + ".DataSelector")
        reserved3 = try reader.read(UInt16.self, field + ".Reserved3")
        mxCsr = try reader.read(UInt32.self, field + ".MxCsr")
        mxCsrMask = try reader.read(UInt32.self, field + ".MxCsr_Mask")
        floatRegisters = try reader.readVectors(count: 8, field + ".FloatRegisters")
        xmmRegisters = try reader.readVectors(count: 16, field + ".XmmRegisters")
        reserved4 = try reader.readBytes(96, field + ".Reserved4").array
    }
}
