import KernelDump

/// The drivers of a full, kernel, bitmap or RDMP kernel dump, from the kernel's loaded-module
/// list, or why they could not be listed.
struct KernelDriverList {
    /// The kernel address space, when the dump's pages and paging mode allow reading it.
    var memory: VirtualMemory?
    /// Drivers in load order.
    var drivers: [LoadedModule] = []
    /// Why the walk could not start (no pages, no paging mode, the list head missing).
    var failure: String?
    /// Problems met during the walk; the drivers before them are still listed.
    var warnings: [String] = []

    /// Walks `dump`'s list through `memory`, or through a fresh view of its pages when nil.
    init(dump: KernelDumpFile, memory given: VirtualMemory? = nil) {
        do {
            let memory = try given ?? dump.virtualMemory(dump.physicalMemory())
            self.memory = memory
            let list = try dump.loadedModules(in: memory)
            drivers = list.modules
            warnings = list.warnings
        } catch {
            failure = "\(error)"
        }
    }
}
