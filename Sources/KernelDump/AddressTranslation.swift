/// Virtual-to-physical translation through the page tables captured in a dump.
///
/// x64: 4-level paging (PML4, PDPT, PD, PT) with 1 GiB and 2 MiB large pages.
/// x86: PAE (3-level, 2 MiB large pages) and classic 2-level paging (4 MiB large pages).
/// Only present entries are followed; transition and prototype PTEs (paged-out or shared
/// pages Windows still tracks) are not resolved.
extension PhysicalMemory {
    /// Bits 12...51 of a 64-bit paging entry: the next table's or the page's physical address.
    static let frameMask: UInt64 = 0x000F_FFFF_FFFF_F000
    static let present: UInt64 = 1
    static let largePage: UInt64 = 1 << 7

    /// The physical address `virtualAddress` maps to under x64 4-level paging rooted at
    /// `directoryTableBase` (CR3; its low 12 bits, the PCID, are ignored), or nil when unmapped.
    public func translateX64(virtual virtualAddress: UInt64, directoryTableBase: UInt64) -> UInt64? {
        let pml4 = directoryTableBase & Self.frameMask
        guard let pml4e = entry(table: pml4, index: (virtualAddress >> 39) & 0x1FF) else { return nil }
        guard let pdpte = entry(table: pml4e & Self.frameMask, index: (virtualAddress >> 30) & 0x1FF) else { return nil }
        if pdpte & Self.largePage != 0 {
            return (pdpte & 0x000F_FFFF_C000_0000) | (virtualAddress & 0x3FFF_FFFF)
        }
        guard let pde = entry(table: pdpte & Self.frameMask, index: (virtualAddress >> 21) & 0x1FF) else { return nil }
        if pde & Self.largePage != 0 {
            return (pde & 0x000F_FFFF_FFE0_0000) | (virtualAddress & 0x1F_FFFF)
        }
        guard let pte = entry(table: pde & Self.frameMask, index: (virtualAddress >> 12) & 0x1FF) else { return nil }
        return (pte & Self.frameMask) | (virtualAddress & 0xFFF)
    }

    /// The physical address `virtualAddress` maps to under x86 PAE paging (CR3 points at a
    /// 32-byte-aligned table of four PDPTEs), or nil when unmapped.
    public func translateX86PAE(virtual virtualAddress: UInt32, directoryTableBase: UInt64) -> UInt64? {
        let address = UInt64(virtualAddress)
        guard let pdpte = entry(table: directoryTableBase & 0xFFFF_FFE0, index: (address >> 30) & 0x3) else { return nil }
        guard let pde = entry(table: pdpte & Self.frameMask, index: (address >> 21) & 0x1FF) else { return nil }
        if pde & Self.largePage != 0 {
            return (pde & 0x000F_FFFF_FFE0_0000) | (address & 0x1F_FFFF)
        }
        guard let pte = entry(table: pde & Self.frameMask, index: (address >> 12) & 0x1FF) else { return nil }
        return (pte & Self.frameMask) | (address & 0xFFF)
    }

    /// The physical address `virtualAddress` maps to under classic 2-level x86 paging (no PAE).
    public func translateX86(virtual virtualAddress: UInt32, directoryTableBase: UInt64) -> UInt64? {
        let table = directoryTableBase & 0xFFFF_F000
        guard let pde = load(UInt32.self, physical: table + UInt64(virtualAddress >> 22) * 4), pde & 1 != 0 else { return nil }
        if pde & 0x80 != 0 {
            return UInt64(pde & 0xFFC0_0000) | UInt64(virtualAddress & 0x3F_FFFF)
        }
        let pageTable = UInt64(pde & 0xFFFF_F000)
        guard let pte = load(UInt32.self, physical: pageTable + UInt64((virtualAddress >> 12) & 0x3FF) * 4), pte & 1 != 0 else {
            return nil
        }
        return UInt64(pte & 0xFFFF_F000) | UInt64(virtualAddress & 0xFFF)
    }

    /// A present 8-byte entry of the table at physical address `table`.
    private func entry(table: UInt64, index: UInt64) -> UInt64? {
        guard let value = load(UInt64.self, physical: table + index * 8), value & Self.present != 0 else { return nil }
        return value
    }
}

/// How to walk a dump's page tables.
public enum PagingMode: Sendable, Equatable {
    /// x64 4-level paging.
    case x64
    /// x86 with PAE.
    case x86PAE
    /// x86 without PAE.
    case x86
}

/// Translates and reads virtual addresses of one address space of a dump.
public struct VirtualMemory: Sendable {
    /// The dump's physical pages.
    public let physical: PhysicalMemory
    /// The page-table root.
    public let directoryTableBase: UInt64
    /// The paging mode.
    public let mode: PagingMode

    public init(physical: PhysicalMemory, directoryTableBase: UInt64, mode: PagingMode) {
        self.physical = physical
        self.directoryTableBase = directoryTableBase
        self.mode = mode
    }

    /// The physical address `virtualAddress` maps to, or nil.
    public func translate(_ virtualAddress: UInt64) -> UInt64? {
        switch mode {
        case .x64:
            return physical.translateX64(virtual: virtualAddress, directoryTableBase: directoryTableBase)
        case .x86PAE:
            guard let address = UInt32(exactly: virtualAddress) ?? Self.truncatedSignExtended(virtualAddress) else { return nil }
            return physical.translateX86PAE(virtual: address, directoryTableBase: directoryTableBase)
        case .x86:
            guard let address = UInt32(exactly: virtualAddress) ?? Self.truncatedSignExtended(virtualAddress) else { return nil }
            return physical.translateX86(virtual: address, directoryTableBase: directoryTableBase)
        }
    }

    /// Debuggers write 32-bit kernel addresses sign-extended (0xFFFFFFFF80000000 for 0x80000000).
    private static func truncatedSignExtended(_ address: UInt64) -> UInt32? {
        address >> 31 == 0x1_FFFF_FFFF ? UInt32(truncatingIfNeeded: address) : nil
    }

    /// `count` bytes from `virtualAddress`, crossing pages; nil when any page is unmapped or missing.
    public func read(_ virtualAddress: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        var result = [UInt8]()
        var address = virtualAddress
        var left = count
        while left > 0 {
            let inPage = Int(address % PhysicalMemory.pageSize)
            let take = min(left, Int(PhysicalMemory.pageSize) - inPage)
            guard let physicalAddress = translate(address), let part = physical.read(physical: physicalAddress, count: take)
            else {
                return nil
            }
            result.append(contentsOf: part)
            left -= take
            let (next, overflow) = address.addingReportingOverflow(UInt64(take))
            if overflow && left > 0 { return nil }
            address = next
        }
        return result
    }
}
