import BinaryReading
import KernelDump

/// Opens the bytes as a kernel or full user-mode dump and reads every part the reader knows:
/// the header and its runs, the bitmap/RDMP headers, the page index, page reads, virtual
/// translation, the loaded-module list, the triage contents, and the USERDUMP threads, modules and memory.
@Sendable public func fuzzKernelDump(_ bytes: ByteView) {
    if let dump = try? KernelDumpFile(bytes: bytes) {
        let header = dump.header
        _ = try? header.physicalMemoryDescriptor()
        _ = header.bugCheckCode?.parameterMeanings
        _ = try? dump.bitmapHeader()
        _ = try? dump.rdmpHeader()
        if let memory = try? dump.physicalMemory() {
            for extent in memory.extents.prefix(32) {
                let address = extent.firstPage << 12
                _ = memory.page(physical: address)
                _ = memory.read(physical: address &+ 0xFF8, count: 16)
                _ = memory.load(UInt64.self, physical: address &+ 0xFFC)
            }
            let base = header.directoryTableBase ?? 0
            let probes = [
                header.psLoadedModuleList, header.psActiveProcessHead, header.kdDebuggerDataBlock,
                header.exception?.exceptionAddress, 0xFFFF_8000_0000_0000, 0x1000,
            ].compactMap { $0 }
            for mode in [PagingMode.x64, .x86PAE, .x86] {
                let virtual = VirtualMemory(physical: memory, directoryTableBase: base, mode: mode)
                for address in probes {
                    _ = virtual.read(address, count: 16)
                }
            }
            // The loaded-module walk follows pointers the file controls: it must stay bounded.
            if let virtual = try? dump.virtualMemory(memory) { _ = try? dump.loadedModules(in: virtual) }
        }
        if let triage = try? dump.triage() {
            _ = triage.drivers.first?.fileName
            if let stack = triage.stack { _ = triage.read(stack.address, count: 64) }
            for block in triage.dataBlocks.prefix(32) {
                _ = triage.read(block.address, count: 32)
            }
        }
    }
    if let user = try? UserDumpFile(bytes: bytes) {
        _ = try? user.threads()
        _ = try? user.modules()
        _ = try? user.debugEvent()
        if let memory = try? user.memory() {
            for region in memory.regions.prefix(32) {
                _ = memory.read(region.baseAddress, count: 32)
                _ = memory.read(region.endAddress &- 8, count: 16)
            }
        }
    }
}
