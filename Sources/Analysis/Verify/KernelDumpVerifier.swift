import BinaryReading
import Foundation
import KernelDump
import Minidump

/// The checks for a Windows kernel dump (`PAGEDUMP`/`PAGEDU64`) of any dump type.
enum KernelDumpVerifier {
    static let pageSize = KernelDumpFormat.pageSize

    static func verify(bytes: ByteView, path: String, binaries: BinarySearch?) -> VerificationReport {
        var list = CheckList()
        let fileSize = UInt64(bytes.count)
        let dump: KernelDumpFile
        do {
            dump = try KernelDumpFile(bytes: bytes)
            list.pass(
                CheckName.header,
                "\(dump.header.is64Bit ? "PAGEDU64" : "PAGEDUMP"), build \(dump.header.minorVersion), \(dump.header.machineImageType?.description ?? "machine unset")"
            )
        } catch {
            list.fail(CheckName.header, "\(error)")
            return VerificationReport(dump: path, kind: "kernel", checks: list.checks)
        }
        let header = dump.header
        let kind = "kernel (\(header.is64Bit ? "64" : "32")-bit, \(header.dumpType?.description ?? "type unset"))"
        let dumpTypeOffset = header.is64Bit ? 0xF98 : 0xF88
        let known: Set<DumpType> = [
            .full, .kernel, .small, .bitmap, .liveKernelBitmap, .kernelMemory, .kernelAndUserMemory, .complete,
        ]
        guard let type = header.dumpType, known.contains(type) else {
            list.fail(
                CheckName.dumpType,
                "DUMP_HEADER.DumpType at \(hex0x(dumpTypeOffset)) is \(header.dumpType.map { hex0x($0.rawValue) } ?? "never filled in"), not a dump type that holds data"
            )
            return VerificationReport(dump: path, kind: kind, checks: list.checks)
        }
        list.pass(CheckName.dumpType, "\(type) (\(type.rawValue))")

        // What the header says the file must hold, and the parts for the layout check.
        var required: [(what: String, bytes: UInt64)] = []
        var parts = [FilePart(name: "DUMP_HEADER", start: 0, size: UInt64(header.size))]
        var problems = [String]()
        var triage: TriageDump? = nil
        switch type {
        case .small:
            do {
                let decoded = try dump.triage()
                triage = decoded
                let t = decoded.header
                required.append(("TRIAGE_DUMP.SizeOfDump", UInt64(t.sizeOfDump)))
                if !decoded.isValid {
                    problems.append("no TRGD signature at TRIAGE_DUMP.ValidOffset \(hex0x(t.validOffset))")
                }
                parts += triageParts(decoded, is64Bit: header.is64Bit)
                problems += decoded.warnings.map { "\($0)" }
            } catch {
                problems.append("TRIAGE_DUMP: \(error)")
            }
        case .full:
            do {
                guard let descriptor = try header.physicalMemoryDescriptor() else {
                    throw ParseError(
                        offset: header.physicalMemoryBlock.fileOffset, field: "PhysicalMemoryBlockBuffer",
                        kind: .invalidValue("never filled in"))
                }
                let pages = descriptor.runs.reduce(UInt64(0)) { $0 &+ $1.pageCount }
                if pages != descriptor.numberOfPages {
                    problems.append("the runs hold \(pages) pages but NumberOfPages is \(descriptor.numberOfPages)")
                }
                required.append(("the header and \(pages) pages of runs", UInt64(header.size) &+ pages &* pageSize))
                let sorted = descriptor.runs.sorted { $0.basePage < $1.basePage }
                for (a, b) in zip(sorted, sorted.dropFirst()) where a.basePage &+ a.pageCount > b.basePage {
                    problems.append("physical runs at page \(hex0x(a.basePage)) and \(hex0x(b.basePage)) overlap")
                }
            } catch {
                problems.append("\(error)")
            }
        case .bitmap, .liveKernelBitmap:
            do {
                let bitmap = try dump.bitmapHeader()
                parts.append(FilePart(name: "BITMAP_DUMP", start: UInt64(header.size), size: UInt64(0x38 + bitmap.bitmap.count)))
                required.append(
                    ("BITMAP_DUMP.HeaderSize + Pages", bitmap.firstPageOffset &+ bitmap.presentPages &* pageSize))
                if bitmap.firstPageOffset < UInt64(header.size + 0x38 + bitmap.bitmap.count) {
                    problems.append("the first page (\(hex0x(bitmap.firstPageOffset))) starts inside the bitmap header")
                }
            } catch {
                problems.append("\(error)")
            }
        case .kernel:
            do {
                let summary = try dump.summaryHeader()
                required.append(("SUMMARY_DUMP.HeaderSize", UInt64(summary.headerSize)))
            } catch {
                problems.append("\(error)")
            }
        default:
            do {
                let rdmp = try dump.rdmpHeader()
                let pages = rdmp.ranges.reduce(UInt64(0)) { $0 &+ $1.pageCount }
                required.append(("RDMP FirstPageOffset + pages", rdmp.firstPageOffset &+ pages &* pageSize))
            } catch {
                problems.append("\(error)")
            }
        }
        if type != .small {
            do {
                let physical = try dump.physicalMemory()
                problems += physical.warnings.map { "\($0)" }
            } catch {
                problems.append("\(error)")
            }
        }

        // File size: what the type-specific header needs, and RequiredDumpSpace.
        var sizeProblems = required.filter { $0.bytes > fileSize }.map {
            "\($0.what): \($0.bytes) bytes needed, the file is \(fileSize)"
        }
        var sizeWarnings = [String]()
        if let space = header.requiredDumpSpace, space > fileSize {
            // Both kdlibcpp small dumps (ARM64, ARM32) are written 224 and 188 bytes shorter
            // than RequiredDumpSpace: the writer reserves the space before trimming the triage
            // data. Less than a page short is that quirk; more is a truncated file.
            if type == .small && space - fileSize < pageSize {
                sizeWarnings.append(
                    "RequiredDumpSpace is \(space), \(space - fileSize) bytes more than the file (small-dump writers round up)")
            } else {
                sizeProblems.append("DUMP_HEADER.RequiredDumpSpace is \(space) bytes but the file is \(fileSize)")
            }
        }
        if !sizeProblems.isEmpty {
            list.fail(CheckName.fileSize, sizeProblems.joined(separator: "; "))
        } else if !sizeWarnings.isEmpty {
            list.warn(CheckName.fileSize, sizeWarnings.joined(separator: "; "))
        } else {
            list.pass(
                CheckName.fileSize,
                "the file is \(fileSize) bytes; RequiredDumpSpace \(header.requiredDumpSpace.map(String.init) ?? "unset")")
        }

        problems += layoutProblems(parts, fileSize: fileSize)
        if problems.isEmpty {
            list.pass(
                CheckName.layout,
                type == .small
                    ? "\(parts.count) triage parts lie inside the file without overlapping"
                    : "every page the header indexes lies inside the file")
        } else {
            list.fail(CheckName.layout, problems.prefix(6).joined(separator: "; "))
        }

        // Bugcheck, context, exception.
        if header.bugCheckCode?.rawValue == 0 {
            // BugCheckCode 0 with a breakpoint exception: a dump written from the debugger, not by
            // a bugcheck (seen in the kdlibcpp Raspberry Pi 3 ARM32 small dump).
            list.warn(
                CheckName.bugcheck,
                "BugCheckCode is 0: no bugcheck; the dump was written from a debugger\(header.exception.map { ", exception \(hex0x($0.exceptionCode, width: 8))" } ?? "")"
            )
        } else if let code = header.bugCheckCode {
            let parameters = header.bugCheckParameters.map { $0.map { hex0x($0) } ?? "-" }.joined(separator: ", ")
            let name =
                "0x" + String(code.rawValue, radix: 16, uppercase: true) + (code.name.map { " " + $0 } ?? " (unnamed code)")
            list.pass(CheckName.bugcheck, "\(name) (\(parameters))")
        } else {
            list.fail(CheckName.bugcheck, "DUMP_HEADER.BugCheckCode was never filled in")
        }
        let contextFilled =
            header.contextRecord.count >= 4
            && (try? header.contextRecord.load(UInt32.self, at: 0, field: "")) != 0x4547_4150  // 'PAGE': never filled in
        if type == .small {
            if let context = triage?.context {
                list.pass(CheckName.context, "\(context.count) bytes of CONTEXT at \(hex0x(context.fileOffset))")
            } else if contextFilled {
                list.pass(CheckName.context, "the header's ContextRecord")
            } else {
                list.fail(CheckName.context, "neither TRIAGE_DUMP.ContextOffset nor the header's ContextRecord holds a context")
            }
        } else if contextFilled {
            list.pass(CheckName.context, "the header's ContextRecord is filled in")
        } else {
            list.fail(CheckName.context, "DUMP_HEADER.ContextRecord was never filled in")
        }
        if let exception = header.exception {
            list.pass(
                CheckName.exception, required: false,
                "code \(hex0x(exception.exceptionCode, width: 8)) at \(hex0x(exception.exceptionAddress))")
        } else {
            list.warn(CheckName.exception, "the header's exception record was never filled in")
        }

        // Memory and drivers.
        if type == .small {
            if let stack = triage?.stack, stack.bytes.count > 0 {
                list.pass(CheckName.stack, "\(stack.bytes.count) bytes of stack from \(hex0x(stack.address))")
            } else {
                list.fail(CheckName.stack, "the small dump holds no call stack (TRIAGE_DUMP.CallStackOffset)")
            }
            let drivers = triage?.drivers ?? []
            let unnamed = drivers.filter { $0.name.isEmpty }.count
            if drivers.isEmpty {
                list.fail(CheckName.modules, "the driver list is empty or unreadable")
            } else if unnamed > 0 {
                list.fail(CheckName.modules, "\(unnamed) of \(drivers.count) drivers have no name")
            } else if let kernel = drivers.first(where: { isKernel($0.fileName) }) {
                list.pass(
                    CheckName.modules,
                    "\(drivers.count) drivers, \(kernel.fileName) at \(hex0x(kernel.baseAddress, width: header.is64Bit ? 16 : 8))"
                )
            } else {
                list.fail(CheckName.modules, "\(drivers.count) drivers but no ntoskrnl among them")
            }
            if let binaries {
                var keys = [TriageDriver]()
                if let kernel = drivers.first(where: { isKernel($0.fileName) }) { keys.append(kernel) }
                if let address = header.exception?.exceptionAddress,
                    let faulting = drivers.first(where: {
                        address >= $0.baseAddress && address - $0.baseAddress < UInt64($0.sizeOfImage)
                    }), !keys.contains(faulting)
                {
                    keys.append(faulting)
                }
                binaries.record(
                    keys.map { driver in
                        let identity = ModuleIdentity(
                            name: driver.fileName, sizeOfImage: driver.sizeOfImage, timeDateStamp: driver.timeDateStamp,
                            checkSum: driver.checkSum)
                        let result = binaries.locate(identity: identity, recordedPath: driver.name, dumpPath: path)
                        return (driver.fileName, result.found, result.rejected)
                    }, into: &list)
            }
        } else {
            list.warn(CheckName.stack, "not checked: reading the crashing thread's stack needs the page-table walk and symbols")
            // The drivers come from the kernel's loaded-module list, read through the page tables.
            let walk = KernelDriverList(dump: dump)
            let names = walk.drivers.map { $0.baseName ?? $0.fullName.map(Module.baseName) ?? "" }
            if let failure = walk.failure {
                list.warn(CheckName.modules, "the driver list could not be walked: \(failure)")
            } else if let kernel = names.firstIndex(where: isKernel) {
                let base = hex0x(walk.drivers[kernel].baseAddress, width: header.is64Bit ? 16 : 8)
                let damaged = walk.warnings.isEmpty ? "" : " (\(walk.warnings.count) problems in the list)"
                list.pass(
                    CheckName.modules,
                    "\(walk.drivers.count) drivers from PsLoadedModuleList, \(names[kernel]) at \(base)\(damaged)")
            } else {
                list.warn(
                    CheckName.modules,
                    "\(walk.drivers.count) drivers from PsLoadedModuleList but no ntoskrnl among them"
                        + (walk.warnings.first.map { ": \($0)" } ?? ""))
            }
            if binaries != nil {
                list.warn(CheckName.binaries, "not checked: binaries are looked up for small dumps' drivers only")
            }
        }
        return VerificationReport(dump: path, kind: kind, checks: list.checks)
    }

    static func isKernel(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasPrefix("ntoskrnl") || lower.hasPrefix("ntkrnl") || lower.hasPrefix("ntkrpamp")
    }

    /// The parts of a small dump whose sizes are known, as file ranges.
    static func triageParts(_ triage: TriageDump, is64Bit: Bool) -> [FilePart] {
        let t = triage.header
        var parts = [
            FilePart(
                name: is64Bit ? "TRIAGE_DUMP64" : "TRIAGE_DUMP32", start: is64Bit ? 0x2000 : 0x1000, size: is64Bit ? 0x80 : 0x68)
        ]
        let headerSize: UInt32 = is64Bit ? 0x2000 : 0x1000
        func add(_ name: String, _ offset: UInt32, _ size: UInt64) {
            // Writers point ContextOffset at the dump header's own ContextRecord (both kdlibcpp
            // small dumps): a part inside the header is not a separate part of the file.
            guard offset >= headerSize, size > 0 else { return }
            parts.append(FilePart(name: name, start: UInt64(offset), size: size))
        }
        if let context = triage.context { add("context", t.contextOffset, UInt64(context.count)) }
        add("call stack", t.callStackOffset, UInt64(t.sizeOfCallStack))
        add("driver list", t.driverListOffset, UInt64(t.driverCount) * UInt64(TriageDriverLayout.entrySize(is64Bit: is64Bit)))
        add("string pool", t.stringPoolOffset, UInt64(t.stringPoolSize))
        add("debugger data", t.debuggerDataOffset, UInt64(t.debuggerDataSize))
        add("data block table", t.dataBlocksOffset, UInt64(t.dataBlocksCount) * 16)
        add("valid signature", t.validOffset, 4)
        for (index, block) in triage.dataBlocks.enumerated() where block.bytes.count > 0 {
            parts.append(
                FilePart(
                    name: "data block \(index) (\(hex0x(block.address)))", start: UInt64(block.bytes.fileOffset),
                    size: UInt64(block.bytes.count)))
        }
        return parts
    }
}

/// `DUMP_DRIVER_ENTRY32` (0x4C bytes) or `DUMP_DRIVER_ENTRY64` (0x90 bytes).
enum TriageDriverLayout {
    static func entrySize(is64Bit: Bool) -> Int { is64Bit ? 0x90 : 0x4C }
}

extension ModuleIdentity {
    /// An identity from a record without a debug id (kernel drivers, header pages without CodeView).
    init(name: String, sizeOfImage: UInt32, timeDateStamp: UInt32, checkSum: UInt32, debugID: String? = nil) {
        self.name = name
        self.sizeOfImage = sizeOfImage
        self.timeDateStamp = timeDateStamp
        self.checkSum = checkSum
        self.debugID = debugID
        pdbName = nil
        machine = nil
        codeID = hex(timeDateStamp, width: 8) + String(sizeOfImage, radix: 16)
    }
}
