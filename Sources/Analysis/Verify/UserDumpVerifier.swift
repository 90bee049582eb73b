import BinaryReading
import Foundation
import KernelDump

/// The checks for a legacy full user-mode dump (`USERDUMP`/`USERDU64`).
enum UserDumpVerifier {
    static func verify(bytes: ByteView, path: String, binaries: BinarySearch?) -> VerificationReport {
        var list = CheckList()
        let fileSize = UInt64(bytes.count)
        let dump: UserDumpFile
        do {
            dump = try UserDumpFile(bytes: bytes)
            list.pass(
                CheckName.header,
                "\(dump.header.is64Bit ? "USERDU64" : "USERDUMP"), \(dump.header.threadCount) threads, \(dump.header.moduleCount) modules, \(dump.header.memoryRegionCount) memory regions"
            )
        } catch {
            list.fail(CheckName.header, "\(error)")
            return VerificationReport(dump: path, kind: "user dump", checks: list.checks)
        }
        let header = dump.header
        let kind = "user dump (\(header.is64Bit ? "64" : "32")-bit)"
        guard let contextSize = dump.contextSize else {
            list.fail(CheckName.dumpType, "machine \(header.machineImageType) has no known CONTEXT size")
            return VerificationReport(dump: path, kind: kind, checks: list.checks)
        }
        list.pass(CheckName.dumpType, "full user-mode dump of a \(header.machineImageType) process")

        // The tables the header locates, and the memory data after them.
        let regionSize: UInt64 = header.is64Bit ? 48 : 28
        var parts = [
            FilePart(
                name: "thread contexts", start: header.threadOffset, size: UInt64(header.threadCount) &* UInt64(contextSize)),
            FilePart(
                name: "thread states", start: header.threadStateOffset,
                size: UInt64(header.threadCount) &* (header.is64Bit ? 0x50 : 0x30)),
            FilePart(
                name: "memory region table", start: header.memoryRegionOffset,
                size: UInt64(header.memoryRegionCount) &* regionSize),
        ]
        var problems = [String]()
        var modules = [UserDumpModule]()
        do {
            modules = try dump.modules()
            // The module table's records are variable-sized: its end is where the last name ends.
            let fixed: UInt64 = header.is64Bit ? 16 : 12
            let tableSize = modules.reduce(UInt64(0)) { $0 &+ fixed &+ UInt64($1.imageName.utf8.count + 1) }
            parts.append(
                FilePart(
                    name: "module table", start: header.moduleOffset,
                    size: min(tableSize, fixed * UInt64(modules.count) + 0x10000)))
        } catch {
            problems.append("module table: \(error)")
        }
        var regions = [UserDumpMemoryRegion]()
        var dataSize: UInt64 = 0
        do {
            regions = try dump.memoryRegions()
            dataSize = regions.reduce(UInt64(0)) { $0 &+ $1.regionSize }
        } catch {
            problems.append("memory regions: \(error)")
        }
        let dataPart = FilePart(name: "memory data", start: header.dataOffset, size: dataSize)
        let requiredEnd = (parts + [dataPart]).map(\.end).max() ?? 0
        if requiredEnd <= fileSize {
            list.pass(
                CheckName.fileSize,
                "the file is \(fileSize) bytes; the tables and \(regions.count) regions' data need \(requiredEnd)")
        } else {
            let short = (parts + [dataPart]).filter { $0.end > fileSize }.map(\.name)
            list.fail(
                CheckName.fileSize,
                "the file is \(fileSize) bytes but the header requires \(requiredEnd): \(short.joined(separator: ", ")) past the end"
            )
        }
        problems += layoutProblems(parts + [dataPart], fileSize: fileSize)
        if problems.isEmpty {
            list.pass(
                CheckName.layout,
                "the thread, module and memory tables and the memory data lie inside the file without overlapping")
        } else {
            list.fail(CheckName.layout, problems.prefix(6).joined(separator: "; "))
        }

        // Exception and context of the crashing thread.
        var threads = [UserDumpThread]()
        do {
            threads = try dump.threads()
        } catch {
            list.fail(CheckName.streams, "threads: \(error)")
        }
        var crashingThread = threads.first
        var exceptionAddress: UInt64? = nil
        do {
            if let event = try dump.debugEvent(), let exception = event.exception {
                exceptionAddress = exception.exceptionAddress
                crashingThread = threads.first { $0.threadId == event.threadId } ?? crashingThread
                list.pass(
                    CheckName.exception,
                    "code \(hex0x(exception.exceptionCode, width: 8)) at \(hex0x(exception.exceptionAddress)) in thread \(event.threadId)"
                )
            } else {
                list.warn(CheckName.exception, "no exception debug event: the dump records no crash")
            }
        } catch {
            list.fail(CheckName.exception, "the debug event does not decode: \(error)")
        }
        var registers: (pc: UInt64, sp: UInt64)? = nil
        if let thread = crashingThread {
            registers = pcAndSP(thread.context, machine: header.machineImageType)
            if let registers {
                list.pass(
                    CheckName.context,
                    "thread \(thread.threadId): pc \(hex0x(registers.pc)), sp \(hex0x(registers.sp))")
            } else {
                list.fail(CheckName.context, "thread \(thread.threadId)'s CONTEXT does not decode")
            }
        } else if header.threadCount == 0 {
            list.warn(CheckName.context, "the dump holds no threads")
        } else {
            list.fail(CheckName.context, "the threads could not be read")
        }

        let memory = try? dump.memory()
        if let registers, let memory {
            if memory.read(registers.sp, count: 8) != nil {
                list.pass(CheckName.stack, "the stack at sp \(hex0x(registers.sp)) is captured")
            } else {
                list.fail(CheckName.stack, "the stack at sp \(hex0x(registers.sp)) is not captured")
            }
            if memory.read(registers.pc, count: 1) != nil {
                list.pass(CheckName.instructionPage, required: false, "the code at pc \(hex0x(registers.pc)) is captured")
            } else {
                list.warn(CheckName.instructionPage, "the code at pc \(hex0x(registers.pc)) is not captured")
            }
        } else {
            list.fail(CheckName.stack, "no context or no memory to read the stack from")
        }

        // Modules: names from the table, identities from the captured header pages.
        var identities = [CapturedImageIdentity?]()
        if modules.isEmpty {
            list.fail(CheckName.modules, "the module table is empty or unreadable")
        } else {
            identities = modules.map { module in
                memory.map { CapturedImageIdentity(memory: $0, base: module.baseOfImage, size: module.sizeOfImage) }
            }
            let unnamed = modules.filter { $0.imageName.isEmpty }.count
            let unidentified = identities.filter { $0?.timeDateStamp == nil }.count
            if unnamed > 0 {
                list.fail(CheckName.modules, "\(unnamed) of \(modules.count) modules have no name")
            } else if unidentified > 0 {
                list.warn(CheckName.modules, "\(unidentified) of \(modules.count) modules have no captured header page")
            } else {
                list.pass(CheckName.modules, "\(modules.count) modules, each named and identified from its captured header page")
            }
        }

        if let binaries {
            var keys = [Int]()
            if !modules.isEmpty { keys.append(0) }
            if let ntdll = modules.firstIndex(where: { DumpModuleRow.baseName($0.imageName).lowercased() == "ntdll.dll" }) {
                keys.append(ntdll)
            }
            if let address = exceptionAddress ?? registers?.pc,
                let faulting = modules.firstIndex(where: {
                    address >= $0.baseOfImage && address - $0.baseOfImage < UInt64($0.sizeOfImage)
                }), !keys.contains(faulting)
            {
                keys.append(faulting)
            }
            binaries.record(
                keys.map { index in
                    let module = modules[index]
                    let name = DumpModuleRow.baseName(module.imageName)
                    guard let captured = identities[index], let stamp = captured.timeDateStamp else {
                        return (name, nil, ["the identity is unknown: header page not captured"])
                    }
                    let identity = ModuleIdentity(
                        name: name, sizeOfImage: module.sizeOfImage, timeDateStamp: stamp, checkSum: captured.checkSum ?? 0,
                        debugID: captured.debugId)
                    let result = binaries.locate(identity: identity, recordedPath: module.imageName, dumpPath: path)
                    return (name, result.found, result.rejected)
                }, into: &list)
        }
        return VerificationReport(dump: path, kind: kind, checks: list.checks)
    }

    /// The program counter and stack pointer from a CONTEXT record of `machine`.
    ///
    /// Offsets of the public CONTEXT layouts: AMD64 Rsp 0x98, Rip 0xF8; x86 Esp 0xC4, Eip 0xB8;
    /// ARM64 Sp 0x100, Pc 0x108; ARM Sp 0x38, Pc 0x40.
    static func pcAndSP(_ context: ByteView, machine: MachineType) -> (pc: UInt64, sp: UInt64)? {
        func load64(_ offset: Int) -> UInt64? { try? context.load(UInt64.self, at: offset, field: "CONTEXT") }
        func load32(_ offset: Int) -> UInt64? { (try? context.load(UInt32.self, at: offset, field: "CONTEXT")).map(UInt64.init) }
        switch machine {
        case .amd64: return load64(0xF8).flatMap { pc in load64(0x98).map { (pc, $0) } }
        case .x86: return load32(0xB8).flatMap { pc in load32(0xC4).map { (pc, $0) } }
        case .arm64: return load64(0x108).flatMap { pc in load64(0x100).map { (pc, $0) } }
        case .armNT, .arm: return load32(0x40).flatMap { pc in load32(0x38).map { (pc, $0) } }
        default: return nil
        }
    }
}
