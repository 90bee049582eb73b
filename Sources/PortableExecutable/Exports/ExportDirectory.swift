import BinaryReading

/// `IMAGE_EXPORT_DIRECTORY` (40 bytes), from winnt.h, with the tables it points to decoded.
public struct ExportDirectory: Sendable, Equatable {
    /// `Characteristics`.
    public var characteristics: UInt32
    /// `TimeDateStamp`.
    public var timeDateStamp: UInt32
    /// `MajorVersion`.
    public var majorVersion: UInt16
    /// `MinorVersion`.
    public var minorVersion: UInt16
    /// `Name`: RVA of the DLL name.
    public var nameRVA: UInt32
    /// `Base`: the ordinal of the first entry of the address table.
    public var ordinalBase: UInt32
    /// `NumberOfFunctions`.
    public var numberOfFunctions: UInt32
    /// `NumberOfNames`.
    public var numberOfNames: UInt32
    /// `AddressOfFunctions`: RVA of the export address table.
    public var addressOfFunctions: UInt32
    /// `AddressOfNames`: RVA of the name pointer table.
    public var addressOfNames: UInt32
    /// `AddressOfNameOrdinals`: RVA of the ordinal table.
    public var addressOfNameOrdinals: UInt32

    /// The DLL name the directory gives.
    public var dllName: String
    /// Every non-empty slot of the export address table, in ordinal order.
    public var functions: [ExportedFunction]

    /// Size on disk.
    public static let size = 40

    /// Reads the directory from the bytes of `IMAGE_DIRECTORY_ENTRY_EXPORT` and resolves its tables through `image`.
    public init(parsing data: ByteView, directoryRVA: UInt32, in image: PEImage) throws(ParseError) {
        var reader = data.reader()
        let p = "IMAGE_EXPORT_DIRECTORY"
        characteristics = try reader.read(UInt32.self, p + ".Characteristics")
        timeDateStamp = try reader.read(UInt32.self, p + ".TimeDateStamp")
        majorVersion = try reader.read(UInt16.self, p + ".MajorVersion")
        minorVersion = try reader.read(UInt16.self, p + ".MinorVersion")
        nameRVA = try reader.read(UInt32.self, p + ".Name")
        ordinalBase = try reader.read(UInt32.self, p + ".Base")
        numberOfFunctions = try reader.read(UInt32.self, p + ".NumberOfFunctions")
        numberOfNames = try reader.read(UInt32.self, p + ".NumberOfNames")
        addressOfFunctions = try reader.read(UInt32.self, p + ".AddressOfFunctions")
        addressOfNames = try reader.read(UInt32.self, p + ".AddressOfNames")
        addressOfNameOrdinals = try reader.read(UInt32.self, p + ".AddressOfNameOrdinals")
        let base = data.fileOffset

        dllName = nameRVA == 0 ? "" : try image.cString(atRVA: nameRVA, field: p + ".Name", referencedAt: base + 12)

        // Table sizes are checked against the file bytes behind them before anything is allocated.
        let functionCount = Int(numberOfFunctions)
        let nameCount = Int(numberOfNames)
        let addresses =
            functionCount == 0
            ? ByteView.empty
            : try image.bytes(
                atRVA: addressOfFunctions, size: UInt32(clamping: UInt64(numberOfFunctions) * 4),
                field: p + ".AddressOfFunctions", referencedAt: base + 28)
        guard addresses.count / 4 >= functionCount else {
            throw ParseError(
                offset: base + 20, field: p + ".NumberOfFunctions",
                kind: .countTooLarge(count: Int64(functionCount), limit: Int64(addresses.count / 4)))
        }
        let names =
            nameCount == 0
            ? ByteView.empty
            : try image.bytes(
                atRVA: addressOfNames, size: UInt32(clamping: UInt64(numberOfNames) * 4),
                field: p + ".AddressOfNames", referencedAt: base + 32)
        let ordinals =
            nameCount == 0
            ? ByteView.empty
            : try image.bytes(
                atRVA: addressOfNameOrdinals, size: UInt32(clamping: UInt64(numberOfNames) * 2),
                field: p + ".AddressOfNameOrdinals", referencedAt: base + 36)
        guard names.count / 4 >= nameCount, ordinals.count / 2 >= nameCount else {
            throw ParseError(
                offset: base + 24, field: p + ".NumberOfNames",
                kind: .countTooLarge(count: Int64(nameCount), limit: Int64(min(names.count / 4, ordinals.count / 2))))
        }

        var namesByIndex = [Int: [String]]()
        for index in 0..<nameCount {
            let nameAt = try names.load(UInt32.self, at: index * 4, field: p + ".AddressOfNames[]")
            let slot = Int(try ordinals.load(UInt16.self, at: index * 2, field: p + ".AddressOfNameOrdinals[]"))
            let name = try image.cString(
                atRVA: nameAt, field: p + ".AddressOfNames[]", referencedAt: names.fileOffset + Int64(index * 4))
            namesByIndex[slot, default: []].append(name)
        }

        let directoryEnd = UInt64(directoryRVA) + UInt64(data.count)
        var functions = [ExportedFunction]()
        for index in 0..<functionCount {
            let rva = try addresses.load(UInt32.self, at: index * 4, field: p + ".AddressOfFunctions[]")
            let exportNames = namesByIndex[index] ?? []
            if rva == 0 && exportNames.isEmpty { continue }
            // An address inside the export directory is a forwarder string ("OTHER.Function").
            var forwarder: String?
            if UInt64(rva) >= UInt64(directoryRVA), UInt64(rva) < directoryEnd {
                forwarder = try image.cString(
                    atRVA: rva, field: p + ".Forwarder", referencedAt: addresses.fileOffset + Int64(index * 4))
            }
            functions.append(
                ExportedFunction(
                    ordinal: UInt32(truncatingIfNeeded: UInt64(ordinalBase) + UInt64(index)),
                    rva: rva, names: exportNames, forwarder: forwarder))
        }
        self.functions = functions
    }
}

/// One exported function: an export address table slot with the names that point to it.
public struct ExportedFunction: Sendable, Equatable {
    /// The ordinal (`Base` + slot index).
    public var ordinal: UInt32
    /// The RVA of the function, or of the forwarder string.
    public var rva: UInt32
    /// The names exported for this slot (none for ordinal-only exports; rarely more than one).
    public var names: [String]
    /// The forwarder (`DLL.Function` or `DLL.#ordinal`) when the export is forwarded.
    public var forwarder: String?
}

extension PEImage {
    /// The export directory, or nil when the image exports nothing.
    public func exports() throws(ParseError) -> ExportDirectory? {
        guard let directory = optionalHeader.directory(.export),
            let data = try directoryBytes(.export, field: "IMAGE_DIRECTORY_ENTRY_EXPORT")
        else { return nil }
        return try ExportDirectory(parsing: data, directoryRVA: directory.virtualAddress, in: self)
    }
}
