import BinaryReading

/// Packed ARM64 unwind data (the `UnwindData` word of a `.pdata` entry with `Flag` 1 or 2).
public struct ARM64PackedUnwind: Sendable, Equatable {
    /// `Flag`: 1 packed, 2 packed fragment without a prolog.
    public var flag: UInt8
    /// `Function Length` (bits 2-12), in bytes (stored divided by 4).
    public var functionLength: UInt32
    /// `RegF` (bits 13-15): d8.. saved; 0 none, otherwise RegF + 1 registers.
    public var regF: UInt8
    /// `RegI` (bits 16-19): x19.. saved, 0-10.
    public var regI: UInt8
    /// `H` (bit 20): x0-x7 homed.
    public var homesParameters: Bool
    /// `CR` (bits 21-22): 0 unchained, 1 unchained with lr saved, 2 chained with signed lr, 3 chained.
    public var cr: UInt8
    /// `Frame Size` (bits 23-31), in bytes (stored divided by 16).
    public var frameSize: UInt32

    /// Decodes the word.
    public init(unwindData word: UInt32) {
        flag = UInt8(word & 3)
        functionLength = ((word >> 2) & 0x7FF) * 4
        regF = UInt8((word >> 13) & 0x7)
        regI = UInt8((word >> 16) & 0xF)
        homesParameters = (word >> 20) & 1 != 0
        cr = UInt8((word >> 21) & 0x3)
        frameSize = ((word >> 23) & 0x1FF) * 16
    }

    /// The canonical prolog the packed form stands for, as unwind codes in `.xdata` order
    /// (last prolog instruction first), ending with `end`.
    ///
    /// Follows the steps of Microsoft's "ARM64 exception handling", packed unwind data: save
    /// x19.. (and lr when CR is 1), d8.., home x0-x7, then allocate locals and set up x29.
    public var codes: [ARM64UnwindOperation] {
        let intRegisters = UInt32(regI)
        let intSize = intRegisters * 8 + (cr == 1 ? 8 : 0)
        let fpRegisters = regF == 0 ? 0 : UInt32(regF) + 1
        let fpSize = fpRegisters * 8
        let homeSize: UInt32 = homesParameters ? 64 : 0
        let saveSize = (intSize + fpSize + homeSize + 15) & ~15
        let localSize = frameSize >= saveSize ? frameSize - saveSize : 0
        var prolog = [ARM64UnwindOperation]()  // in execution order
        if cr == 2 { prolog.append(.pacSignLR) }
        var offset: UInt32 = 0
        var first = true
        func stored(_ size: UInt32) -> UInt32 {  // offset for the next store; the first one pre-decrements
            let at = offset
            offset += size
            return at
        }
        var index: UInt32 = 0
        while index + 1 < intRegisters {
            let at = stored(16)
            if first {
                prolog.append(
                    index == 0 && saveSize <= 248
                        ? .saveR19R20PreIndexed(offset: saveSize)
                        : .saveRegisterPairPreIndexed(first: UInt8(index), offset: saveSize))
                first = false
            } else {
                prolog.append(.saveRegisterPair(first: UInt8(index), offset: at))
            }
            index += 2
        }
        if index < intRegisters {
            let at = stored(cr == 1 ? 16 : 8)
            if cr == 1 {
                prolog.append(.saveLRPair(register: UInt8(index / 2), offset: at))
            } else if first {
                prolog.append(.saveRegisterPreIndexed(register: UInt8(index), offset: saveSize))
            } else {
                prolog.append(.saveRegister(register: UInt8(index), offset: at))
            }
            first = false
        } else if cr == 1 {
            let at = stored(8)
            prolog.append(
                first ? .saveRegisterPreIndexed(register: 11, offset: saveSize) : .saveRegister(register: 11, offset: at))
            first = false
        }
        var fpIndex: UInt32 = 0
        while fpIndex < fpRegisters {
            let pair = fpIndex + 1 < fpRegisters
            let at = stored(pair ? 16 : 8)
            if first {
                prolog.append(
                    pair
                        ? .saveFPRegisterPairPreIndexed(first: UInt8(fpIndex), offset: saveSize)
                        : .saveFPRegisterPreIndexed(register: UInt8(fpIndex), offset: saveSize))
                first = false
            } else {
                prolog.append(
                    pair
                        ? .saveFPRegisterPair(first: UInt8(fpIndex), offset: at)
                        : .saveFPRegister(register: UInt8(fpIndex), offset: at))
            }
            fpIndex += pair ? 2 : 1
        }
        if homesParameters {
            // The four `stp x0..x7` stores are described by `nop`s: unwinding ignores them.
            prolog.append(contentsOf: [.nop, .nop, .nop, .nop])
        }
        func allocate(_ size: UInt32) {
            if size > 4080 {
                prolog.append(.allocate(size: 4080))
                prolog.append(.allocate(size: size - 4080))
            } else if size > 0 {
                prolog.append(.allocate(size: size))
            }
        }
        if cr == 2 || cr == 3 {
            if localSize <= 512 {
                prolog.append(.saveFPLRPreIndexed(offset: localSize))
            } else {
                allocate(localSize)
                prolog.append(.saveFPLR(offset: 0))
            }
            prolog.append(.setFP)
        } else {
            allocate(localSize)
        }
        return prolog.reversed() + [.end]
    }
}
