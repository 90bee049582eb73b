import BinaryReading
import Foundation
import Minidump

/// The checks for a minidump (`MDMP`).
///
/// Rule of thumb: a stream the writer chose not to write is a warning (many writers omit
/// streams on purpose); a stream it did write that lies outside the file, overlaps another or
/// does not decode is a failure.
enum MinidumpVerifier {
    /// Streams the analysis needs: damage to one of them fails `streams decode`; damage to any
    /// other stream is a warning.
    static let essentialStreams: Set<StreamType> = [
        .threadList, .moduleList, .memoryList, .memory64List, .exception, .systemInfo,
    ]

    static func verify(bytes: ByteView, path: String, binaries: BinarySearch?) -> VerificationReport {
        var list = CheckList()
        let fileSize = UInt64(bytes.count)
        let dump: MinidumpFile
        do {
            dump = try MinidumpFile(bytes: bytes)
            list.pass(
                CheckName.header,
                "MDMP version 0x\(String(dump.header.version & 0xFFFF, radix: 16)), \(dump.directory.count) streams")
        } catch {
            list.fail(CheckName.header, "\(error)")
            return VerificationReport(dump: path, kind: "minidump", checks: list.checks)
        }
        // MINIDUMP_TYPE: MiniDumpValidTypeFlags is 0x01FFFFFF; Breakpad and Crashpad write 0.
        let unknownFlags = dump.header.flags & ~UInt64(0x01FF_FFFF)
        if unknownFlags == 0 {
            list.pass(CheckName.dumpType, "MINIDUMP_TYPE flags \(hex0x(dump.header.flags))")
        } else {
            list.warn(
                CheckName.dumpType, "MINIDUMP_TYPE flags \(hex0x(dump.header.flags)) hold unknown bits \(hex0x(unknownFlags))")
        }

        // The header, the directory and every stream must lie in the file.
        let directorySize = UInt64(dump.directory.count) * 12
        var parts = [
            FilePart(name: "MINIDUMP_HEADER", start: 0, size: UInt64(MinidumpHeader.size)),
            FilePart(name: "stream directory", start: UInt64(dump.header.streamDirectoryRva), size: directorySize),
        ]
        for entry in dump.directory where entry.streamType.rawValue != 0 {
            parts.append(
                FilePart(
                    name: "stream \(entry.index) (\(entry.streamType.name))", start: UInt64(entry.location.rva),
                    size: UInt64(entry.location.dataSize)))
        }
        let required = parts.map(\.end).max() ?? 0
        if required <= fileSize {
            list.pass(CheckName.fileSize, "the file is \(fileSize) bytes; the header, directory and streams need \(required)")
        } else {
            let short = parts.filter { $0.end > fileSize }.map(\.name)
            list.fail(
                CheckName.fileSize,
                "the file is \(fileSize) bytes but the header and directory require \(required): \(short.prefix(3).joined(separator: ", ")) past the end"
            )
        }

        // Streams must not overlap one another, nor memory ranges one another.
        var problems = layoutProblems(parts, fileSize: fileSize)
        var memoryParts = [FilePart]()
        if let memory = try? dump.stream(MemoryList.self) {
            for (index, range) in memory.ranges.enumerated() {
                memoryParts.append(
                    FilePart(
                        name: "MemoryList range \(index) (\(hex0x(range.startOfMemoryRange)))",
                        start: UInt64(range.memory.rva), size: UInt64(range.memory.dataSize)))
            }
        }
        if let memory64 = try? dump.stream(Memory64List.self) {
            var offset = memory64.baseRva
            for (index, range) in memory64.ranges.enumerated() {
                memoryParts.append(
                    FilePart(
                        name: "Memory64List range \(index) (\(hex0x(range.startOfMemoryRange)))", start: offset,
                        size: range.dataSize))
                let (next, overflow) = offset.addingReportingOverflow(range.dataSize)
                offset = overflow ? .max : next
            }
        }
        problems += layoutProblems(memoryParts, fileSize: fileSize)
        // Thread stacks and contexts must lie in the file; a stack may share its bytes with a
        // MemoryList range (Breakpad and dbghelp list thread stacks in both), so no overlap test.
        var threadParts = [FilePart]()
        for (index, thread) in ((try? dump.stream(ThreadList.self))?.threads ?? []).enumerated() {
            threadParts.append(
                FilePart(
                    name: "thread \(index) stack", start: UInt64(thread.stack.memory.rva),
                    size: UInt64(thread.stack.memory.dataSize)))
            threadParts.append(
                FilePart(
                    name: "thread \(index) context", start: UInt64(thread.threadContext.rva),
                    size: UInt64(thread.threadContext.dataSize)))
        }
        problems += layoutProblems(threadParts, fileSize: fileSize, overlaps: false)
        if problems.isEmpty {
            list.pass(
                CheckName.layout,
                "\(parts.count - 2) streams and \(memoryParts.count) memory ranges lie inside the file without overlapping; \(threadParts.count / 2) threads' stacks and contexts lie inside it"
            )
        } else {
            list.fail(CheckName.layout, problems.joined(separator: "; "))
        }

        // Every stream this reader knows decodes.
        var essentialErrors = [String]()
        var otherErrors = [String]()
        var decoded = 0
        for entry in dump.directory where entry.streamType.rawValue != 0 {
            do {
                if try dump.decodeStream(entry) != nil { decoded += 1 }
            } catch {
                let line = "\(entry.streamType.name): \(error)"
                if essentialStreams.contains(entry.streamType) { essentialErrors.append(line) } else { otherErrors.append(line) }
            }
        }
        if !essentialErrors.isEmpty {
            list.fail(CheckName.streams, (essentialErrors + otherErrors).joined(separator: "; "))
        } else if !otherErrors.isEmpty {
            list.warn(
                CheckName.streams,
                "streams the analysis does not need are damaged: " + otherErrors.joined(separator: "; "))
        } else {
            list.pass(CheckName.streams, "\(decoded) known streams decode")
        }

        let system = try? dump.stream(SystemInfo.self)
        if let system {
            list.pass(CheckName.systemInfo, "\(system.processorArchitecture), platform \(system.platformId)")
        } else if dump.entry(of: .systemInfo) == nil {
            list.warn(CheckName.systemInfo, "no SystemInfo stream: the CPU is guessed from the contexts")
        } else {
            list.fail(CheckName.systemInfo, "the SystemInfo stream does not decode")
        }
        let architecture = system?.processorArchitecture

        // The exception and the crashing thread's context.
        let threads = (try? dump.stream(ThreadList.self))?.threads ?? []
        var crashingThread: Minidump.Thread? = threads.first
        var contextLocation = crashingThread?.threadContext
        var exceptionAddress: UInt64? = nil
        do {
            if let exception = try dump.stream(ExceptionStream.self) {
                exceptionAddress = exception.exceptionRecord.exceptionAddress
                list.pass(
                    CheckName.exception,
                    "code \(hex0x(exception.exceptionRecord.exceptionCode, width: 8)) at \(hex0x(exception.exceptionRecord.exceptionAddress)) in thread \(exception.threadId)"
                )
                contextLocation = exception.threadContext
                crashingThread = threads.first { $0.threadId == exception.threadId } ?? crashingThread
            } else {
                list.warn(CheckName.exception, "no Exception stream: the dump records no crash (a snapshot of a live process)")
            }
        } catch {
            list.fail(CheckName.exception, "the Exception stream does not decode: \(error)")
        }
        var context: ThreadContext? = nil
        if let location = contextLocation, location.dataSize > 0 {
            do {
                context = try dump.threadContext(at: location, architecture: architecture)
                list.pass(
                    CheckName.context,
                    "\(context!.architecture) context: pc \(hex0x(context!.instructionPointer)), sp \(hex0x(context!.stackPointer))"
                )
            } catch {
                list.fail(CheckName.context, "the crashing thread's context does not decode: \(error)")
            }
        } else {
            list.warn(CheckName.context, "no thread context: the dump holds no threads")
        }

        // The memory the analysis reads first.
        let memory = dump.memoryIndex()
        if let thread = crashingThread {
            let stack = thread.stack
            if stack.memory.dataSize == 0 {
                list.warn(CheckName.stack, "thread \(thread.threadId) has no stack memory")
            } else if (try? dump.bytes(at: stack.memory, field: "stack")) == nil {
                list.fail(
                    CheckName.stack,
                    "thread \(thread.threadId)'s stack (\(stack.memory.dataSize) bytes at file offset \(hex0x(stack.memory.rva))) lies outside the file"
                )
            } else if let sp = context?.stackPointer, memory.region(containing: sp) == nil {
                list.warn(
                    CheckName.stack,
                    "thread \(thread.threadId)'s stack is captured at \(hex0x(stack.startOfMemoryRange)) but sp \(hex0x(sp)) is outside every captured range"
                )
            } else {
                list.pass(
                    CheckName.stack,
                    "thread \(thread.threadId): \(stack.memory.dataSize) bytes of stack from \(hex0x(stack.startOfMemoryRange))")
            }
        } else {
            list.warn(CheckName.stack, "no thread list: no stack to read")
        }
        if let pc = context?.instructionPointer ?? exceptionAddress {
            if memory.region(containing: pc) != nil {
                list.pass(CheckName.instructionPage, required: false, "the code at pc \(hex0x(pc)) is captured")
            } else {
                list.warn(
                    CheckName.instructionPage,
                    "the code at pc \(hex0x(pc)) is not captured (the binary is needed to disassemble or unwind it)")
            }
        }

        // Module identities.
        var modules = [Module]()
        do {
            if let moduleList = try dump.stream(ModuleList.self) {
                modules = moduleList.modules
                let unnamed = modules.filter { $0.name.isEmpty }.count
                let noCodeID = modules.filter { $0.timeDateStamp == 0 && $0.codeView == nil }.count
                if modules.isEmpty {
                    list.warn(CheckName.modules, "the module list is empty")
                } else if unnamed > 0 {
                    list.fail(CheckName.modules, "\(unnamed) of \(modules.count) modules have no name")
                } else if noCodeID > 0 {
                    list.warn(CheckName.modules, "\(noCodeID) of \(modules.count) modules have no code id")
                } else {
                    list.pass(CheckName.modules, "\(modules.count) modules, each with a name and a code id")
                }
            } else {
                list.warn(CheckName.modules, "no ModuleList stream: frames cannot be attributed to modules")
            }
        } catch {
            list.fail(CheckName.modules, "the ModuleList stream does not decode: \(error)")
        }

        if let binaries {
            var keys = [Module]()
            if let main = modules.first { keys.append(main) }
            if let ntdll = modules.first(where: { $0.fileName.lowercased() == "ntdll.dll" }) { keys.append(ntdll) }
            if let pc = exceptionAddress ?? context?.instructionPointer,
                let faulting = modules.first(where: { pc >= $0.baseOfImage && pc < $0.endAddress })
            {
                keys.append(faulting)
            }
            var seen = Set<UInt64>()
            keys = keys.filter { seen.insert($0.baseOfImage).inserted }
            let width = (architecture?.pointerSize ?? 8) * 2
            let results = keys.map {
                ModuleLocator.locate(
                    module: $0, dumpPath: path, searchPath: binaries.searchPath, policy: binaries.policy, pointerWidth: width)
            }
            binaries.record(results, into: &list)
        }
        return VerificationReport(dump: path, kind: "minidump", checks: list.checks)
    }
}
