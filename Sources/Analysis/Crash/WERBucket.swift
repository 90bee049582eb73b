import BinaryReading
import Minidump

/// A Windows Error Reporting bucket: the eight parameters of an `APPCRASH` problem signature.
///
/// The order is WER's, as the Application Error event (id 1000) and the problem report show
/// them: P1 AppName, P2 AppVer, P3 AppStamp, P4 ModName, P5 ModVer, P6 ModStamp, P7 ExceptionCode,
/// P8 Offset. The values are spelled as WER spells them: versions `a.b.c.d` from
/// `VS_FIXEDFILEINFO` (`0.0.0.0` when a module has none), time stamps as the PE `TimeDateStamp`
/// in 8 lowercase hex digits, the exception code in 8 lowercase hex digits, and the offset of
/// the faulting address in the faulting module in lowercase hex padded to the pointer width
/// (8 or 16 digits, as [MS-CER] 2.2.3.1 requires). When the address is in no module, ModName is
/// `unknown`, ModVer `0.0.0.0`, ModStamp `00000000` and the offset is the absolute address.
///
/// Rebuilding a module changes its ModStamp and so starts a new bucket; signatures do not.
public struct WERBucket: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// P1: the main executable's file name.
    public var appName: String
    /// P2: its file version.
    public var appVersion: String
    /// P3: its PE time stamp.
    public var appStamp: String
    /// P4: the faulting module's file name.
    public var moduleName: String
    /// P5: its file version.
    public var moduleVersion: String
    /// P6: its PE time stamp.
    public var moduleStamp: String
    /// P7: the exception code.
    public var exceptionCode: String
    /// P8: the faulting address's offset in the faulting module.
    public var offset: String

    enum CodingKeys: String, CodingKey {
        case appName = "app_name", appVersion = "app_version", appStamp = "app_stamp", moduleName = "module_name",
            moduleVersion = "module_version", moduleStamp = "module_stamp", exceptionCode = "exception_code", offset
    }

    /// A module as the bucket needs it.
    public struct Module: Sendable, Equatable {
        /// The path or file name the dump recorded.
        public var name: String
        /// Load address.
        public var base: UInt64
        /// `SizeOfImage`.
        public var size: UInt64
        /// The PE `TimeDateStamp`.
        public var timeDateStamp: UInt32
        /// The file version `a.b.c.d`, nil when the module has no version resource.
        public var version: String?

        /// A module from its parts.
        public init(name: String, base: UInt64, size: UInt64, timeDateStamp: UInt32, version: String?) {
            self.name = name
            self.base = base
            self.size = size
            self.timeDateStamp = timeDateStamp
            self.version = version
        }

        /// A minidump module record.
        public init(_ module: Minidump.Module) {
            self.init(
                name: module.name, base: module.baseOfImage, size: UInt64(module.sizeOfImage),
                timeDateStamp: module.timeDateStamp, version: module.versionInfo.fileVersion)
        }

        /// Whether `address` falls inside the module's image.
        public func contains(_ address: UInt64) -> Bool {
            address >= base && address - base < size
        }
    }

    /// The bucket from its eight parameters, as written.
    public init(
        appName: String, appVersion: String, appStamp: String, moduleName: String, moduleVersion: String,
        moduleStamp: String, exceptionCode: String, offset: String
    ) {
        self.appName = appName
        self.appVersion = appVersion
        self.appStamp = appStamp
        self.moduleName = moduleName
        self.moduleVersion = moduleVersion
        self.moduleStamp = moduleStamp
        self.exceptionCode = exceptionCode
        self.offset = offset
    }

    /// The bucket of a crash at `faultAddress` with `exceptionCode`, in a process whose main
    /// module is `main`; the faulting module is the one of `modules` that contains the address.
    public init(
        main: Module?, modules: [Module], exceptionCode: UInt32, faultAddress: UInt64, pointerSize: Int
    ) {
        let width = pointerSize * 2
        appName = main.map { Self.fileName($0.name) } ?? "unknown"
        appVersion = main?.version ?? Self.noVersion
        appStamp = hex(main?.timeDateStamp ?? 0, width: 8).lowercased()
        self.exceptionCode = hex(exceptionCode, width: 8).lowercased()
        if let faulting = modules.first(where: { $0.contains(faultAddress) }) {
            moduleName = Self.fileName(faulting.name)
            moduleVersion = faulting.version ?? Self.noVersion
            moduleStamp = hex(faulting.timeDateStamp, width: 8).lowercased()
            offset = hex(faultAddress - faulting.base, width: width).lowercased()
        } else {
            moduleName = "unknown"
            moduleVersion = Self.noVersion
            moduleStamp = hex(0, width: 8)
            offset = hex(faultAddress, width: width).lowercased()
        }
    }

    /// The bucket of a minidump's exception: the first module is the application, and the
    /// faulting address is the instruction that faulted, not the data it touched.
    ///
    /// On Windows that is `ExceptionAddress`, as WER uses it. Breakpad and Crashpad store the
    /// signal's `si_addr` or the Mach fault address there on Linux and macOS, so for those the
    /// instruction pointer of the exception's context is used (and `ExceptionAddress` only when
    /// the context cannot be read). Nil when the dump has no exception stream.
    public init?(minidump dump: MinidumpFile) throws(ParseError) {
        guard let exception = try dump.stream(ExceptionStream.self) else { return nil }
        let system = try dump.stream(SystemInfo.self)
        let architecture = system?.processorArchitecture ?? .unknown
        let pointerSize = architecture.pointerSize ?? 8
        let modules = (try dump.stream(ModuleList.self)?.modules ?? []).map(Module.init)
        var address = exception.exceptionRecord.exceptionAddress
        if system.map({ !$0.platformId.isWindows }) ?? false,
            let context = try? dump.threadContext(at: exception.threadContext, architecture: architecture)
        {
            address = context.instructionPointer
        }
        // The same high-half garbage as in the crash address (see CrashReason).
        if pointerSize == 4 { address &= 0xFFFF_FFFF }
        self.init(
            main: modules.first, modules: modules, exceptionCode: exception.exceptionRecord.exceptionCode,
            faultAddress: address, pointerSize: pointerSize)
    }

    /// WER's version for a module without a version resource.
    public static let noVersion = "0.0.0.0"

    /// The parameters in P1…P8 order.
    public var parameters: [String] {
        [appName, appVersion, appStamp, moduleName, moduleVersion, moduleStamp, exceptionCode, offset]
    }

    /// One line: P1…P8 joined with `_`, like
    /// `test_app.exe_0.0.0.0_45d35f6c_test_app.exe_0.0.0.0_45d35f6c_c0000005_0000429e`.
    public var description: String { parameters.joined(separator: "_") }

    /// The file name of a Windows or POSIX path.
    static func fileName(_ path: String) -> String {
        guard let slash = path.lastIndex(where: { $0 == "\\" || $0 == "/" }) else { return path }
        return String(path[path.index(after: slash)...])
    }
}
