import BinaryReading

/// What a rescued image is made from: a module's identity as a crash dump records it, and the
/// module's memory the dump captured.
///
/// The identity fields come from `MINIDUMP_MODULE` (and its CodeView and Misc records); the
/// rescued image repeats them exactly, so that debuggers take it for the lost binary.
public struct RescueImageSpec: Sendable {
    /// `IMAGE_FILE_HEADER.Machine`; 32-bit machines get a PE32 image, 64-bit ones PE32+.
    public var machine: Machine
    /// `IMAGE_OPTIONAL_HEADER.ImageBase`: where the module was loaded.
    public var imageBase: UInt64
    /// `IMAGE_OPTIONAL_HEADER.SizeOfImage`, written as given.
    public var sizeOfImage: UInt32
    /// `IMAGE_FILE_HEADER.TimeDateStamp` (also the debug directory entries' stamp).
    public var timeDateStamp: UInt32
    /// `IMAGE_OPTIONAL_HEADER.CheckSum`, written as given (never recomputed: debuggers compare it with the dump's).
    public var checkSum: UInt32
    /// Whether the module is a DLL (`IMAGE_FILE_DLL`).
    public var isDLL: Bool
    /// The raw CodeView record (`RSDS`/`NB10`), written byte for byte; empty when the dump has none (Wine).
    public var codeViewRecord: [UInt8]
    /// The raw `IMAGE_DEBUG_MISC` record, if the dump has one.
    public var miscRecord: [UInt8]?
    /// The 13 DWORDs of `VS_FIXEDFILEINFO`; nil, fewer than 13, or a signature other than
    /// 0xFEEF04BD means the image gets no version resource.
    public var fixedFileInfo: [UInt32]?
    /// Module memory the dump captured, by RVA. Ranges may overlap (later ones win) and may
    /// reach past `sizeOfImage` (they are clipped).
    public var capturedMemory: [(rva: UInt32, bytes: [UInt8])]

    public init(
        machine: Machine, imageBase: UInt64, sizeOfImage: UInt32, timeDateStamp: UInt32, checkSum: UInt32,
        isDLL: Bool, codeViewRecord: [UInt8] = [], miscRecord: [UInt8]? = nil, fixedFileInfo: [UInt32]? = nil,
        capturedMemory: [(rva: UInt32, bytes: [UInt8])] = []
    ) {
        self.machine = machine
        self.imageBase = imageBase
        self.sizeOfImage = sizeOfImage
        self.timeDateStamp = timeDateStamp
        self.checkSum = checkSum
        self.isDLL = isDLL
        self.codeViewRecord = codeViewRecord
        self.miscRecord = miscRecord
        self.fixedFileInfo = fixedFileInfo
        self.capturedMemory = capturedMemory
    }
}

/// A rescued image and what went into it.
public struct RescuedImage: Sendable {
    /// The image file, laid out as in memory: the byte at file offset N is the byte at RVA N.
    public var bytes: [UInt8]
    /// Whether the headers are the module's own, taken from its captured header page.
    public var headersFromMemory: Bool
    /// Where captured memory was placed (clipped to `SizeOfImage`), merged and sorted by RVA.
    public var rangesFromMemory: [(rva: UInt32, size: UInt32)]
    /// The parts of `rangesFromMemory` that rebuilt headers or metadata then replaced, merged and sorted.
    public var rangesOverwritten: [(rva: UInt32, size: UInt32)]
    /// What was rebuilt, what came from memory, and what was adjusted, one sentence each.
    public var notes: [String]

    public init(
        bytes: [UInt8], headersFromMemory: Bool, rangesFromMemory: [(rva: UInt32, size: UInt32)],
        rangesOverwritten: [(rva: UInt32, size: UInt32)], notes: [String]
    ) {
        self.bytes = bytes
        self.headersFromMemory = headersFromMemory
        self.rangesFromMemory = rangesFromMemory
        self.rangesOverwritten = rangesOverwritten
        self.notes = notes
    }
}
