import BinaryReading

/// `MinidumpAnnotation::Type` values; unknown values survive.
public struct CrashpadAnnotationType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `kInvalid`.
    public static let invalid = CrashpadAnnotationType(rawValue: 0)
    /// `kString`: the value is UTF-8 text.
    public static let string = CrashpadAnnotationType(rawValue: 1)
    /// `kUserDefined` and above: application-defined formats.
    public static let userDefined = CrashpadAnnotationType(rawValue: 0x8000)

    public var description: String {
        switch rawValue {
        case 0: return "invalid"
        case 1: return "string"
        case 0x8000...: return "user-defined(" + hex0x(rawValue) + ")"
        default: return hex0x(rawValue)
        }
    }
}

/// Crashpad's `MinidumpAnnotation` (12 bytes): a typed, named annotation object.
public struct CrashpadAnnotation: Sendable, Equatable, Codable {
    /// `name`: RVA of a `MinidumpUTF8String`.
    public var nameRva: UInt32
    /// `type`.
    public var type: CrashpadAnnotationType
    /// `reserved`.
    public var reserved: UInt16
    /// `value`: RVA of a `MinidumpByteArray`.
    public var valueRva: UInt32
    /// The name (empty when unreadable).
    public var name: String
    /// The value bytes (empty when unreadable).
    public var value: [UInt8]

    /// Size on disk.
    public static let size = 12

    /// The value as text when the annotation is a string.
    public var stringValue: String? {
        type == .string ? String(decoding: value, as: UTF8.self) : nil
    }
}

/// Crashpad's `MinidumpModuleCrashpadInfo` (20 bytes, 28 with `annotation_objects`): annotations of one module.
public struct CrashpadModuleInfo: Sendable, Equatable, Codable {
    /// `version`.
    public var version: UInt32
    /// `list_annotations`: a `MinidumpRVAList` of `MinidumpUTF8String`s.
    public var listAnnotationsLocation: LocationDescriptor
    /// `simple_annotations`: a `MinidumpSimpleStringDictionary`.
    public var simpleAnnotationsLocation: LocationDescriptor
    /// `annotation_objects`: a `MinidumpAnnotationList` (nil in records written before it existed).
    public var annotationObjectsLocation: LocationDescriptor?

    /// The list annotations in order.
    public var listAnnotations: [String]
    /// The simple annotations in order.
    public var simpleAnnotations: [MinidumpKeyValue]
    /// The annotation objects in order.
    public var annotationObjects: [CrashpadAnnotation]
}

/// Crashpad's `MinidumpModuleCrashpadInfoLink` (12 bytes): ties a module info record to a module.
public struct CrashpadModuleInfoLink: Sendable, Equatable, Codable {
    /// `minidump_module_list_index`: index into the ModuleList stream.
    public var minidumpModuleListIndex: UInt32
    /// `location`: where the `MinidumpModuleCrashpadInfo` is.
    public var location: LocationDescriptor
    /// The record at `location` (nil when it could not be read; see the stream's warnings).
    public var info: CrashpadModuleInfo?

    /// Size on disk.
    public static let size = 12
}

/// Crashpad's `MinidumpCrashpadInfo` (52 bytes; 60 with `address_mask`): report and client ids and annotations.
///
/// Damage below the fixed structure (a dictionary, list or string out of bounds) leaves the
/// affected part empty and is described in `warnings`; the rest is still read.
public struct CrashpadInfo: MinidumpStream, Equatable, Codable {
    public static let streamType = StreamType.crashpadInfo

    /// `version`: 1.
    public var version: UInt32
    /// `report_id`: the report's UUID.
    public var reportId: GUID
    /// `client_id`: the installation's UUID.
    public var clientId: GUID
    /// `simple_annotations`: a `MinidumpSimpleStringDictionary` of process annotations.
    public var simpleAnnotationsLocation: LocationDescriptor
    /// `module_list`: a `MinidumpModuleCrashpadInfoList`.
    public var moduleListLocation: LocationDescriptor
    /// `address_mask` (newer writers): pointer authentication mask on arm64.
    public var addressMask: UInt64?

    /// The process's simple annotations in order.
    public var simpleAnnotations: [MinidumpKeyValue]
    /// The per-module records in order.
    public var modules: [CrashpadModuleInfoLink]
    /// Parts that could not be read.
    public var warnings: [String]

    /// Size of the structure without `address_mask`.
    public static let size = 52

    public init(parsing bytes: ByteView, in dump: MinidumpFile) throws(ParseError) {
        let field = "MinidumpCrashpadInfo"
        var reader = dump.reader(bytes)
        version = try reader.read(UInt32.self, field + ".version")
        reportId = try reader.readGUID(field + ".report_id")
        clientId = try reader.readGUID(field + ".client_id")
        simpleAnnotationsLocation = try LocationDescriptor(parsing: &reader, field + ".simple_annotations")
        moduleListLocation = try LocationDescriptor(parsing: &reader, field + ".module_list")
        if reader.remaining >= 8 {
            addressMask = try reader.read(UInt64.self, field + ".address_mask")
        }

        var warnings = [String]()
        simpleAnnotations = Self.dictionary(
            at: simpleAnnotationsLocation, in: dump, field: field + ".simple_annotations", warnings: &warnings)
        var modules = [CrashpadModuleInfoLink]()
        if moduleListLocation.dataSize > 0 {
            do {
                let list = try dump.bytes(at: moduleListLocation, field: field + ".module_list")
                var listReader = dump.reader(list)
                let count = Int(try listReader.read(UInt32.self, "MinidumpModuleCrashpadInfoList.count"))
                try listReader.checkCount(count, elementSize: CrashpadModuleInfoLink.size, "MinidumpModuleCrashpadInfoList.count")
                for index in 0..<count {
                    let linkField = "MinidumpModuleCrashpadInfoLink[\(index)]"
                    let moduleIndex = try listReader.read(UInt32.self, linkField + ".minidump_module_list_index")
                    let location = try LocationDescriptor(parsing: &listReader, linkField + ".location")
                    var link = CrashpadModuleInfoLink(minidumpModuleListIndex: moduleIndex, location: location, info: nil)
                    do {
                        link.info = try Self.moduleInfo(at: location, in: dump, warnings: &warnings)
                    } catch {
                        warnings.append(error.description)
                    }
                    modules.append(link)
                }
            } catch {
                warnings.append(error.description)
            }
        }
        self.modules = modules
        self.warnings = warnings
    }

    /// Reads a `MinidumpModuleCrashpadInfo`; its lists that cannot be read become warnings.
    static func moduleInfo(
        at location: LocationDescriptor, in dump: MinidumpFile, warnings: inout [String]
    ) throws(ParseError) -> CrashpadModuleInfo {
        let field = "MinidumpModuleCrashpadInfo"
        let bytes = try dump.bytes(at: location, field: field)
        var reader = dump.reader(bytes)
        let version = try reader.read(UInt32.self, field + ".version")
        let listLocation = try LocationDescriptor(parsing: &reader, field + ".list_annotations")
        let simpleLocation = try LocationDescriptor(parsing: &reader, field + ".simple_annotations")
        // annotation_objects was appended later; older records end before it.
        let objectsLocation =
            reader.remaining >= 8 ? try LocationDescriptor(parsing: &reader, field + ".annotation_objects") : nil

        var listAnnotations = [String]()
        if listLocation.dataSize > 0 {
            do {
                let list = try dump.bytes(at: listLocation, field: field + ".list_annotations")
                var listReader = dump.reader(list)
                let count = Int(try listReader.read(UInt32.self, "MinidumpRVAList.count"))
                let rvas = try listReader.readArray(UInt32.self, count: count, "MinidumpRVAList.rvas")
                for (index, rva) in rvas.enumerated() {
                    do {
                        listAnnotations.append(try dump.utf8String(at: rva, field: "MinidumpRVAList[\(index)]"))
                    } catch {
                        listAnnotations.append("")
                        warnings.append(error.description)
                    }
                }
            } catch {
                warnings.append(error.description)
            }
        }
        let simple = dictionary(at: simpleLocation, in: dump, field: field + ".simple_annotations", warnings: &warnings)
        var objects = [CrashpadAnnotation]()
        if let objectsLocation, objectsLocation.dataSize > 0 {
            do {
                let list = try dump.bytes(at: objectsLocation, field: field + ".annotation_objects")
                var listReader = dump.reader(list)
                let count = Int(try listReader.read(UInt32.self, "MinidumpAnnotationList.count"))
                try listReader.checkCount(count, elementSize: CrashpadAnnotation.size, "MinidumpAnnotationList.count")
                for index in 0..<count {
                    let entryField = "MinidumpAnnotation[\(index)]"
                    let nameRva = try listReader.read(UInt32.self, entryField + ".name")
                    let type = CrashpadAnnotationType(rawValue: try listReader.read(UInt16.self, entryField + ".type"))
                    let reserved = try listReader.read(UInt16.self, entryField + ".reserved")
                    let valueRva = try listReader.read(UInt32.self, entryField + ".value")
                    var annotation = CrashpadAnnotation(
                        nameRva: nameRva, type: type, reserved: reserved, valueRva: valueRva, name: "", value: [])
                    do {
                        annotation.name = try dump.utf8String(at: nameRva, field: entryField + ".name")
                        annotation.value = try dump.lengthPrefixedBytes(at: valueRva, field: entryField + ".value").array
                    } catch {
                        warnings.append(error.description)
                    }
                    objects.append(annotation)
                }
            } catch {
                warnings.append(error.description)
            }
        }
        return CrashpadModuleInfo(
            version: version, listAnnotationsLocation: listLocation, simpleAnnotationsLocation: simpleLocation,
            annotationObjectsLocation: objectsLocation, listAnnotations: listAnnotations, simpleAnnotations: simple,
            annotationObjects: objects)
    }

    /// Reads a `MinidumpSimpleStringDictionary`: a count, then `MinidumpSimpleStringDictionaryEntry`
    /// (8 bytes: key and value RVAs of `MinidumpUTF8String`s). An empty location is an empty dictionary.
    static func dictionary(
        at location: LocationDescriptor, in dump: MinidumpFile, field: String, warnings: inout [String]
    ) -> [MinidumpKeyValue] {
        guard location.dataSize > 0 else { return [] }
        var entries = [MinidumpKeyValue]()
        do {
            let bytes = try dump.bytes(at: location, field: field)
            var reader = dump.reader(bytes)
            let count = Int(try reader.read(UInt32.self, "MinidumpSimpleStringDictionary.count"))
            try reader.checkCount(count, elementSize: 8, "MinidumpSimpleStringDictionary.count")
            for index in 0..<count {
                let entryField = "MinidumpSimpleStringDictionaryEntry[\(index)]"
                let keyRva = try reader.read(UInt32.self, entryField + ".key")
                let valueRva = try reader.read(UInt32.self, entryField + ".value")
                var entry = MinidumpKeyValue(key: "", value: "")
                do {
                    entry.key = try dump.utf8String(at: keyRva, field: entryField + ".key")
                    entry.value = try dump.utf8String(at: valueRva, field: entryField + ".value")
                } catch {
                    warnings.append(error.description)
                }
                entries.append(entry)
            }
        } catch {
            warnings.append(error.description)
        }
        return entries
    }
}
