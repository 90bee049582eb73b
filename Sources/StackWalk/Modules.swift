import BinaryReading
import BreakpadSymbols
import Foundation

/// Unwind rules a module's symbol file provides (Breakpad `STACK CFI` and `STACK WIN`, or the same
/// converted from a PDB), looked up by RVA.
public protocol ModuleUnwindRules: Sendable {
    /// The CFI record covering `rva`, with its deltas.
    func cfi(at rva: UInt64) -> CFIRecord?
    /// The STACK WIN (FPO or FrameData) record covering `rva`.
    func stackWin(at rva: UInt64) -> StackWinRecord?
    /// Whether the symbols place a function (or public symbol) at `rva`; nil when they cannot say.
    func hasFunction(at rva: UInt64) -> Bool?
}

extension SymbolFile: ModuleUnwindRules {
    public func hasFunction(at rva: UInt64) -> Bool? {
        if functions.isEmpty && publics.isEmpty { return nil }
        if function(at: rva) != nil { return true }
        guard let symbol = publicSymbol(at: rva) else { return false }
        // A PUBLIC has no size: it names `rva` only when no FUNC starts between the two (Breakpad's
        // and rust-minidump's rule; without it a scan of the macOS fixture's threads accepts a
        // pointer into data past the last function).
        var low = 0
        var high = functions.count
        while low < high {
            let middle = (low + high) / 2
            if functions[middle].address <= rva { low = middle + 1 } else { high = middle }
        }
        return low == 0 || functions[low - 1].address <= symbol.address
    }
}

/// The bytes of a module's image as loaded (addressed by RVA): the PE file on disk, mapped section by
/// section, or the module's pages captured in the dump. Windows unwind data (`.pdata`, `.xdata`) is
/// read through it.
public protocol ModuleImage: Sendable {
    /// `count` bytes at `rva`, nil when not available.
    func bytes(atRVA rva: UInt64, count: Int) -> [UInt8]?
}

/// A loaded module as the walker sees it: where it lies and what can unwind through it.
public struct WalkModule: Sendable {
    public var base: UInt64
    public var size: UInt64
    public var name: String
    /// CFI and STACK WIN rules from the module's symbols, if found.
    public var rules: (any ModuleUnwindRules)?
    /// The module's image, for Windows unwind data, if found on disk or captured in the dump.
    public var image: (any ModuleImage)?

    public init(base: UInt64, size: UInt64, name: String, rules: (any ModuleUnwindRules)? = nil, image: (any ModuleImage)? = nil)
    {
        self.base = base
        self.size = size
        self.name = name
        self.rules = rules
        self.image = image
    }

    /// Whether `address` lies inside the module.
    public func contains(_ address: UInt64) -> Bool { address >= base && address - base < size }
}

/// The modules of a process, sorted by base address for lookups.
public struct ModuleSet: Sendable {
    public let modules: [WalkModule]
    /// Data parsed from the modules on first use (function tables), shared by every walk over this set.
    public let parsed = ModuleDataCache()

    /// Sorts `modules` by base; overlapping modules are kept, the lookup answers with the later base.
    public init(_ modules: [WalkModule]) {
        self.modules = modules.enumerated().sorted { ($0.element.base, $0.offset) < ($1.element.base, $1.offset) }.map(\.element)
    }

    /// The index (into `modules`) of the module containing `address`.
    public func index(containing address: UInt64) -> Int? {
        guard let index = lastIndex(in: modules, atMost: address, key: \.base), modules[index].contains(address) else {
            return nil
        }
        return index
    }

    /// The module containing `address`.
    public func module(containing address: UInt64) -> WalkModule? {
        index(containing: address).map { modules[$0] }
    }
}

/// Values derived from one module (a parsed function table, say), made once and shared by the walks
/// of all threads, which may run concurrently.
///
/// A lock rather than an actor: the walker is synchronous, and a value is cheap to make twice when
/// two walks race for it (the first stored wins).
public final class ModuleDataCache: @unchecked Sendable {
    private struct Key: Hashable {
        var module: Int
        var kind: ObjectIdentifier
    }

    private let lock = NSLock()
    private var values: [Key: any Sendable] = [:]

    public init() {}

    /// The value of type `Value` for the module at `index` of the set, made by `make` the first time.
    public func value<Value: Sendable>(module index: Int, _ make: () -> Value) -> Value {
        let key = Key(module: index, kind: ObjectIdentifier(Value.self))
        if let value = lock.withLock({ values[key] }) as? Value { return value }
        let made = make()
        return lock.withLock {
            if let existing = values[key] as? Value { return existing }
            values[key] = made
            return made
        }
    }
}
