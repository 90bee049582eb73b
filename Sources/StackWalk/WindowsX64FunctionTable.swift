import PortableExecutable

/// A module's x64 function table (`.pdata`), located once through the image's own headers and
/// shared by every walk over the module set.
struct WindowsX64FunctionTable: Sendable {
    enum Source: Sendable {
        /// No image, or an image that is not an amd64 PE32+ (an ELF or Mach-O module, say).
        case notWindows
        /// A PE image without an exception directory: nothing to say about its functions.
        case noDirectory
        /// The table, read whole.
        case table(X64FunctionTable)
        /// The table could not be read whole (a dump may hold only some of its pages): entries are
        /// read on demand.
        case byEntry(DataDirectory)
    }

    /// What a lookup found.
    enum Lookup {
        case function(RuntimeFunction)
        /// No entry covers the address: a leaf function, which returns with `[rsp]`.
        case leaf
        /// The table cannot say.
        case unknown
    }

    let image: X64UnwindImage?
    let source: Source

    init(module: WalkModule) {
        guard let moduleImage = module.image else {
            image = nil
            source = .notWindows
            return
        }
        let image = X64UnwindImage { rva, count in moduleImage.bytes(atRVA: rva, count: count) }
        self.image = image
        let found: DataDirectory?
        do {
            found = try image.exceptionDirectory()
        } catch {
            source = .notWindows
            return
        }
        guard let directory = found else {
            source = .noDirectory
            return
        }
        source = image.functionTable(directory).map(Source.table) ?? .byEntry(directory)
    }

    /// Whether the module is a Windows x64 image.
    var isWindows: Bool {
        if case .notWindows = source { return false }
        return true
    }

    /// The entry covering `rva`.
    func lookup(rva: UInt64) -> Lookup {
        guard let rva32 = UInt32(exactly: rva) else { return .unknown }
        switch source {
        case .notWindows, .noDirectory:
            return .unknown
        case .table(let table):
            return table.function(containing: rva32).map(Lookup.function) ?? .leaf
        case .byEntry(let directory):
            guard let image else { return .unknown }
            do {
                return try image.function(containing: rva32, in: directory).map(Lookup.function) ?? .leaf
            } catch {
                return .unknown
            }
        }
    }
}

extension StackWalker {
    /// The function table of the module at `index` of the module set, parsed on first use.
    func windowsX64FunctionTable(module index: Int) -> WindowsX64FunctionTable {
        modules.parsed.value(module: index) { WindowsX64FunctionTable(module: modules.modules[index]) }
    }

    /// Whether any module of the set is a Windows x64 image, i.e. the process ran Windows.
    var hasWindowsX64Modules: Bool {
        modules.parsed.value(module: -1) {
            WindowsProcess(value: modules.modules.indices.contains { windowsX64FunctionTable(module: $0).isWindows })
        }.value
    }
}

/// The cached answer of `hasWindowsX64Modules` (a type of its own, since the cache is keyed by type).
private struct WindowsProcess: Sendable {
    var value: Bool
}
