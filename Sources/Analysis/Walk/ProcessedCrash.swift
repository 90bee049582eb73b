/// A processed crash: what `postmortem analyze --json` prints, the server stores and its API serves.
///
/// Field names follow the minidump-stackwalk JSON schema (the one Socorro and Sentry read) where the
/// concept is the same; pointers are `0x` hex strings padded to the pointer width. Fields the schema
/// has that we do not compute are left out rather than faked; consumers treat every field as optional.
/// Our additions (`signature`, `wer_bucket`, `warnings`, per-module `symbol_file`) are documented in
/// docs/json-schema.md.
public struct ProcessedCrash: Sendable, Codable, Equatable {
    /// `OK`, or why the dump could not be fully processed.
    public var status: String
    public var crashInfo: CrashInfo
    public var systemInfo: SystemDescription
    public var threadCount: Int
    public var threads: [ThreadReport]
    /// The crashing thread again, with its index in `threads`.
    public var crashingThread: CrashingThread?
    /// Index in `modules` of the main executable.
    public var mainModule: Int?
    public var modules: [ModuleReport]
    public var unloadedModules: [UnloadedModuleReport]
    /// The Socorro-style signature of the crash.
    public var signature: String
    /// How each frame of the crashing thread counted towards the signature.
    public var signatureFrames: [SignatureFrameDecision]?
    /// The Windows Error Reporting bucket parameters.
    public var werBucket: WERBucket?
    /// Problems met while processing (unreadable streams, stopped walks, symbol files that failed).
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case status, crashInfo = "crash_info", systemInfo = "system_info", threadCount = "thread_count", threads,
            crashingThread = "crashing_thread", mainModule = "main_module", modules, unloadedModules = "unloaded_modules",
            signature, signatureFrames = "signature_frames", werBucket = "wer_bucket", warnings
    }
}

/// Why and where the process crashed.
public struct CrashInfo: Sendable, Codable, Equatable {
    /// The crash reason (`EXCEPTION_ACCESS_VIOLATION_WRITE`, `SIGSEGV / SEGV_MAPERR`, ...); nil when the dump has no exception.
    public var type: String?
    /// The crash address (the faulting data address for access violations, else the exception address).
    public var address: String?
    /// Index in `threads` of the crashing thread.
    public var crashingThread: Int?
    /// The assertion, for dumps with an assertion stream.
    public var assertion: String?
    /// The raw exception code, `0x` hex (8 digits).
    public var exceptionCode: String?
    /// The exception's parameters, `0x` hex.
    public var exceptionParameters: [String]?
    /// Unloaded modules the crash address falls into (a call into code that was unloaded).
    public var addressInUnloadedModules: [String]?

    enum CodingKeys: String, CodingKey {
        case type, address, crashingThread = "crashing_thread", assertion, exceptionCode = "exception_code",
            exceptionParameters = "exception_parameters", addressInUnloadedModules = "address_in_unloaded_modules"
    }

    public init(
        type: String? = nil, address: String? = nil, crashingThread: Int? = nil, assertion: String? = nil,
        exceptionCode: String? = nil, exceptionParameters: [String]? = nil, addressInUnloadedModules: [String]? = nil
    ) {
        self.type = type
        self.address = address
        self.crashingThread = crashingThread
        self.assertion = assertion
        self.exceptionCode = exceptionCode
        self.exceptionParameters = exceptionParameters
        self.addressInUnloadedModules = addressInUnloadedModules
    }
}

/// The machine and operating system the dump was written on.
public struct SystemDescription: Sendable, Codable, Equatable {
    /// `Windows NT`, `Linux`, `Mac OS X`, ...
    public var os: String
    /// Version and build, e.g. `5.1.2600 Service Pack 2`.
    public var osVer: String?
    /// `x86`, `amd64`, `arm`, `arm64`.
    public var cpuArch: String
    /// The CPU's vendor and model.
    public var cpuInfo: String?
    public var cpuCount: Int?

    enum CodingKeys: String, CodingKey {
        case os, osVer = "os_ver", cpuArch = "cpu_arch", cpuInfo = "cpu_info", cpuCount = "cpu_count"
    }
}

/// One thread and its walked, symbolized stack.
public struct ThreadReport: Sendable, Codable, Equatable {
    public var threadId: UInt32
    public var threadName: String?
    public var frameCount: Int
    public var frames: [FrameReport]
    /// The thread's last Win32 error, when the dump records its TEB.
    public var lastErrorValue: String?
    /// Why the walk stopped early or was not done.
    public var warnings: [String]?

    enum CodingKeys: String, CodingKey {
        case threadId = "thread_id", threadName = "thread_name", frameCount = "frame_count", frames,
            lastErrorValue = "last_error_value", warnings
    }
}

/// The crashing thread, repeated at the top level as the schema has it.
public struct CrashingThread: Sendable, Codable, Equatable {
    public var threadsIndex: Int
    public var threadId: UInt32
    public var frames: [FrameReport]

    enum CodingKeys: String, CodingKey {
        case threadsIndex = "threads_index", threadId = "thread_id", frames
    }
}

/// One physical frame, with the inlined calls symbolization found at its address.
public struct FrameReport: Sendable, Codable, Equatable {
    /// Position in the stack, innermost 0.
    public var frame: Int
    /// How the frame was found: context, cfi, cfi_scan, frame_pointer, scan.
    public var trust: String
    /// The instruction address: for callers the return address minus one (the call itself).
    public var offset: String
    /// The module's file name.
    public var module: String?
    public var moduleOffset: String?
    /// The outermost function at the address (the physical function; inlined calls are in `inlines`).
    public var function: String?
    public var functionOffset: String?
    public var file: String?
    public var line: UInt64?
    /// Inlined calls at this address, innermost first.
    public var inlines: [InlineFrame]?
    /// Whether the frame's module has no symbols.
    public var missingSymbols: Bool
    /// Registers recovered for this frame (all of them for the context frame).
    public var registers: [String: String]?
    /// Unloaded modules the address falls into, when it is in no loaded module.
    public var unloadedModules: [String]?

    enum CodingKeys: String, CodingKey {
        case frame, trust, offset, module, moduleOffset = "module_offset", function, functionOffset = "function_offset", file,
            line, inlines, missingSymbols = "missing_symbols", registers, unloadedModules = "unloaded_modules"
    }
}

/// An inlined call inside a physical frame.
public struct InlineFrame: Sendable, Codable, Equatable {
    public var function: String
    public var file: String?
    public var line: UInt64?
}

/// A loaded module and what was found for it.
public struct ModuleReport: Sendable, Codable, Equatable {
    public var baseAddr: String
    public var endAddr: String
    public var filename: String
    public var codeId: String?
    public var debugFile: String?
    public var debugId: String?
    public var version: String?
    /// No symbol file (PDB or .sym) was found.
    public var missingSymbols: Bool
    /// A symbol file was found and loaded.
    public var loadedSymbols: Bool
    /// A symbol file was found but could not be read.
    public var corruptSymbols: Bool
    /// Where the symbols came from (a path or URL), when loaded.
    public var symbolFile: String?
    /// The binary used for unwind data and exports, when found.
    public var binaryFile: String?

    enum CodingKeys: String, CodingKey {
        case baseAddr = "base_addr", endAddr = "end_addr", filename, codeId = "code_id", debugFile = "debug_file",
            debugId = "debug_id", version, missingSymbols = "missing_symbols", loadedSymbols = "loaded_symbols",
            corruptSymbols = "corrupt_symbols", symbolFile = "symbol_file", binaryFile = "binary_file"
    }
}

/// A module the process had unloaded before the crash.
public struct UnloadedModuleReport: Sendable, Codable, Equatable {
    public var baseAddr: String
    public var endAddr: String
    public var filename: String
    public var codeId: String?

    enum CodingKeys: String, CodingKey {
        case baseAddr = "base_addr", endAddr = "end_addr", filename, codeId = "code_id"
    }
}
