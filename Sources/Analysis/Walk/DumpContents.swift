import BinaryReading
import Foundation
import KernelDump
import Minidump
import PortableExecutable
import StackWalk

/// A thread as analysis needs it: its id, name and the context to walk from.
public struct DumpThread: Sendable {
    public var threadId: UInt32
    public var name: String?
    /// The context to walk from (the exception's context for the crashing thread); nil when unreadable.
    public var context: ThreadContext?
    /// Why the thread is not walked, or what was wrong with it.
    public var note: String?
    /// The thread environment block's address (Windows), where the thread's last error is kept.
    public var teb: UInt64? = nil
}

/// The exception that ended the process, whatever dump format recorded it.
public struct DumpException: Sendable {
    public var threadId: UInt32
    public var code: UInt32
    public var flags: UInt32
    public var address: UInt64
    public var parameters: [UInt64]
}

/// What analysis reads from a dump, independent of its format (minidump, full user-mode dump).
public struct DumpContents: Sendable {
    /// The format, as reports name it.
    public var format: String
    public var processor: ProcessorArchitecture?
    public var platform: PlatformID?
    public var system: SystemDescription
    public var modules: [Module]
    public var unloaded: [UnloadedModule]
    public var threads: [DumpThread]
    public var exception: DumpException?
    /// Captured memory: stacks, and module images where the writer kept them.
    public var memory: any StackMemory
    /// Hex digits of a pointer: 8 or 16.
    public var pointerWidth: Int
    /// The bugcheck of a kernel dump, with its four parameters.
    public var bugCheck: (code: BugCheckCode, parameters: [UInt64])?
    /// The minidump itself, for streams only minidumps have (assertions, Crashpad annotations).
    public var minidump: MinidumpFile?
    /// Streams or tables that could not be read.
    public var warnings: [String]
}

extension DumpContents {
    /// Reads what analysis needs from a minidump; unreadable streams become warnings.
    public init(minidump dump: MinidumpFile) {
        var warnings = [String]()
        func read<S: MinidumpStream>(_ type: S.Type) -> S? {
            do {
                return try dump.stream(type)
            } catch {
                warnings.append("\(S.streamType): \(error)")
                return nil
            }
        }
        let system = read(SystemInfo.self)
        let modules = read(ModuleList.self)?.modules ?? []
        let unloaded = read(UnloadedModuleList.self)?.modules ?? []
        let threadList = read(ThreadList.self)?.threads ?? read(ThreadExList.self)?.threads ?? []
        let exceptionStream = read(ExceptionStream.self)
        let breakpadInfo = read(BreakpadInfo.self)
        let names = Dictionary(
            (read(ThreadNameList.self)?.names ?? []).map { ($0.threadId, $0.name) }, uniquingKeysWith: { first, _ in first })
        let memoryIndex = dump.memoryIndex()
        warnings += memoryIndex.warnings

        let processor = system?.processorArchitecture
        let crashedThreadID = exceptionStream?.threadId
        let dumpThreadID = breakpadInfo?.validDumpThreadId
        var threads = [DumpThread]()
        for thread in threadList {
            var entry = DumpThread(
                threadId: thread.threadId, name: names[thread.threadId], context: nil, note: nil,
                teb: system?.platformId.isWindows == true && thread.teb != 0 ? thread.teb : nil)
            if thread.threadId == dumpThreadID, thread.threadId != crashedThreadID {
                entry.note = "the thread that wrote the dump; its stack shows the dump writer, not the crash"
            } else {
                let location =
                    thread.threadId == crashedThreadID
                    ? exceptionStream?.threadContext ?? thread.threadContext : thread.threadContext
                do {
                    entry.context = try dump.threadContext(at: location, architecture: processor)
                } catch {
                    entry.note = "its context cannot be read: \(error)"
                }
            }
            threads.append(entry)
        }
        self.init(
            format: "minidump", processor: processor, platform: system?.platformId,
            system: SystemDescription(
                os: system?.platformId.description ?? "unknown",
                osVer: system.map {
                    [$0.osVersion, $0.csdVersion].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
                },
                cpuArch: processor?.description ?? "unknown", cpuInfo: system?.cpuDescription,
                cpuCount: system.map { Int($0.numberOfProcessors) }),
            modules: modules, unloaded: unloaded, threads: threads,
            exception: exceptionStream.map {
                DumpException(
                    threadId: $0.threadId, code: $0.exceptionRecord.exceptionCode, flags: $0.exceptionRecord.exceptionFlags,
                    address: $0.exceptionRecord.exceptionAddress, parameters: $0.exceptionRecord.parameters)
            },
            memory: CapturedMemory(memoryIndex),
            pointerWidth: Analysis.pointerWidth(system: system, addresses: modules.map(\.endAddress)), bugCheck: nil,
            minidump: dump,
            warnings: warnings)
    }

    /// Reads what analysis needs from a legacy full user-mode dump (`USERDUMP`/`USERDU64`): its
    /// threads and their contexts, the exception of its debug event, and each module's identity from
    /// the PE headers and CodeView record in the captured memory.
    public init(userDump dump: UserDumpFile) {
        var warnings = [String]()
        let memory: UserDumpMemory
        do {
            memory = try dump.memory()
        } catch {
            memory = UserDumpMemory(regions: [])
            warnings.append("memory regions: \(error)")
        }
        let captured = UserDumpStackMemory(memory)
        let processor: ProcessorArchitecture? =
            switch dump.header.machineImageType {
            case .x86: .x86
            case .amd64: .amd64
            case .arm64: .arm64
            case .arm, .armNT: .arm
            default: nil
            }
        var modules = [Module]()
        do {
            for record in try dump.modules() {
                modules.append(Self.module(record, memory: captured))
            }
        } catch {
            warnings.append("module table: \(error)")
        }
        var event: UserDumpDebugEvent?
        do {
            event = try dump.debugEvent()
        } catch {
            warnings.append("debug event: \(error)")
        }
        var threads = [DumpThread]()
        do {
            for thread in try dump.threads() {
                var entry = DumpThread(
                    threadId: thread.threadId, name: nil, context: nil, note: nil, teb: thread.teb == 0 ? nil : thread.teb)
                do {
                    entry.context = try MinidumpFile.decodeContext(thread.context, architecture: processor)
                } catch {
                    entry.note = "its context cannot be read: \(error)"
                }
                threads.append(entry)
            }
        } catch {
            warnings.append("thread table: \(error)")
        }
        let is64 = dump.header.is64Bit
        self.init(
            format: is64 ? "full user-mode dump (USERDU64)" : "full user-mode dump (USERDUMP)", processor: processor,
            platform: .win32NT,
            system: SystemDescription(
                os: "Windows NT", osVer: "\(dump.header.majorVersion).\(dump.header.minorVersion)",
                cpuArch: processor?.description ?? "unknown", cpuInfo: nil, cpuCount: nil),
            modules: modules, unloaded: [], threads: threads,
            exception: event.flatMap { event in
                event.exception.map {
                    DumpException(
                        threadId: event.threadId, code: $0.exceptionCode, flags: $0.exceptionFlags, address: $0.exceptionAddress,
                        parameters: Array($0.exceptionInformation.prefix(min(Int($0.numberParameters), 15))))
                }
            },
            memory: captured, pointerWidth: is64 ? 16 : 8, bugCheck: nil, minidump: nil, warnings: warnings)
    }

    /// Reads what analysis needs from a Windows kernel dump: the bugcheck, the processor's context at
    /// the crash and the drivers. A small (triage) dump holds the faulting thread's stack and its driver
    /// list; other types hold physical memory, read through the page tables of the directory table base,
    /// and list their drivers in the kernel's `PsLoadedModuleList`.
    public init(kernelDump dump: KernelDumpFile) {
        var warnings = [String]()
        let header = dump.header
        let processor: ProcessorArchitecture? =
            switch header.machineImageType {
            case .x86?: .x86
            case .amd64?: .amd64
            case .arm64?: .arm64
            case .arm?, .armNT?: .arm
            default: nil
            }
        var modules = [Module]()
        var unloaded = [UnloadedModule]()
        var contextBytes = header.contextRecord
        var memory: any StackMemory = NoMemory()
        // 32-bit kernels record addresses sign-extended to 64 bits; registers hold 32.
        let addressMask: UInt64 = header.is64Bit ? .max : 0xFFFF_FFFF
        if header.dumpType == .small {
            do {
                let triage = try dump.triage()
                warnings += triage.warnings.map { "triage data: \($0)" }
                modules = triage.drivers.map {
                    Module(
                        baseOfImage: $0.baseAddress & addressMask, sizeOfImage: $0.sizeOfImage, checkSum: $0.checkSum,
                        timeDateStamp: $0.timeDateStamp, name: $0.name)
                }
                unloaded = triage.unloadedDrivers.map {
                    UnloadedModule(
                        baseOfImage: $0.startAddress & addressMask,
                        sizeOfImage: UInt32(clamping: $0.endAddress >= $0.startAddress ? $0.endAddress - $0.startAddress : 0),
                        name: $0.name)
                }
                if let context = triage.context { contextBytes = context }
                memory = TriageMemory(
                    blocks: (([triage.stack, triage.dataPage].compactMap { $0 }) + triage.dataBlocks).map { block in
                        var block = block
                        block.address &= addressMask
                        return block
                    })
            } catch {
                warnings.append("triage data: \(error)")
            }
        } else {
            do {
                let physical = try dump.physicalMemory()
                if let mode = dump.pagingMode, let base = header.directoryTableBase {
                    let virtual = VirtualMemory(physical: physical, directoryTableBase: base, mode: mode)
                    memory = KernelVirtualMemory(memory: virtual)
                    let list = KernelDriverList(dump: dump, memory: virtual)
                    if let failure = list.failure {
                        warnings.append("the loaded-module list could not be walked, so no drivers are listed: \(failure)")
                    }
                    warnings += list.warnings.map { "loaded-module list: \($0)" }
                    modules = list.drivers.map {
                        Self.module(
                            name: $0.name, base: $0.baseAddress & addressMask, size: $0.sizeOfImage, memory: memory)
                    }
                } else {
                    warnings.append(
                        "no paging mode or directory table base: virtual memory and the loaded-module list cannot be read")
                }
            } catch {
                warnings.append("physical memory, so no drivers are listed: \(error)")
            }
        }
        var context: ThreadContext?
        var note: String?
        do {
            context = try MinidumpFile.decodeContext(contextBytes, architecture: processor)
        } catch {
            note = "the processor context cannot be read: \(error)"
        }
        let is64 = header.is64Bit
        // A dump written from a debugger (`.dump`) has no bugcheck: code 0, and the exception explains it.
        let bugCheck = header.bugCheckCode.flatMap { code in
            code.rawValue == 0 ? nil : (code, header.bugCheckParameters.map { $0 ?? 0 })
        }
        self.init(
            format: "kernel dump (\(is64 ? "PAGEDU64" : "PAGEDUMP"))", processor: processor, platform: .win32NT,
            system: SystemDescription(
                os: "Windows NT", osVer: "\(header.majorVersion).\(header.minorVersion)",
                cpuArch: processor?.description ?? "unknown", cpuInfo: nil, cpuCount: header.numberProcessors.map(Int.init)),
            modules: modules, unloaded: unloaded,
            threads: [DumpThread(threadId: 0, name: "faulting processor", context: context, note: note)],
            exception: header.exception.map {
                DumpException(
                    threadId: 0, code: $0.exceptionCode, flags: $0.exceptionFlags, address: $0.exceptionAddress,
                    parameters: $0.parameters)
            },
            memory: memory, pointerWidth: is64 ? 16 : 8, bugCheck: bugCheck, minidump: nil, warnings: warnings)
    }

    /// Reads what analysis needs from an Android microdump: the crashing thread's context and stack,
    /// the modules (identified by their Breakpad debug ids) and the signal, when the dump names one.
    public init(microdump dump: Microdump) {
        let system = dump.systemInfo
        let processor: ProcessorArchitecture? =
            switch system?.cpu {
            case "arm"?: .arm
            case "arm64"?: .arm64
            case "x86"?: .x86
            case "x86_64"?, "amd64"?: .amd64
            default: dump.threadContext?.architecture
            }
        let modules = dump.modules.map { record in
            Module(
                baseOfImage: record.base, sizeOfImage: UInt32(clamping: record.size), checkSum: 0, timeDateStamp: 0,
                name: record.name, codeView: Self.breakpadCodeView(debugID: record.debugIdentifier, name: record.name))
        }
        let platform: PlatformID = system?.osIdentifier == "A" ? .android : .linux
        self.init(
            format: "microdump", processor: processor, platform: platform,
            system: SystemDescription(
                os: system?.osName ?? "unknown", osVer: system?.osVersion, cpuArch: processor?.description ?? "unknown",
                cpuInfo: system?.hardwareArchitecture, cpuCount: system?.cpuCount),
            modules: modules, unloaded: [],
            threads: [
                DumpThread(
                    threadId: 0, name: nil, context: dump.threadContext,
                    note: dump.threadContext == nil ? "the microdump holds no context this reader can decode" : nil)
            ],
            exception: dump.crashReason.map {
                DumpException(threadId: 0, code: $0.signal, flags: 0, address: $0.address, parameters: [])
            },
            memory: CapturedMemory(dump.memory), pointerWidth: processor?.pointerSize.map { $0 * 2 } ?? 16, bugCheck: nil,
            minidump: nil, warnings: dump.warnings)
    }

    /// A CodeView record standing for a Breakpad debug id (GUID and age in hex, 33 or more digits), so
    /// the module's symbols are found under `name/ID/name.sym` like any other.
    static func breakpadCodeView(debugID: String, name: String) -> CodeViewRecord? {
        let digits = Array(debugID.utf8)
        guard digits.count > 32,
            digits.allSatisfy({
                UInt8(ascii: "0")...UInt8(ascii: "9") ~= $0 || UInt8(ascii: "A")...UInt8(ascii: "F") ~= $0
                    || UInt8(ascii: "a")...UInt8(ascii: "f") ~= $0
            })
        else { return nil }
        func hexValue(_ range: Range<Int>) -> UInt64 { UInt64(String(decoding: digits[range], as: UTF8.self), radix: 16) ?? 0 }
        guard let age = UInt32(String(decoding: digits[32...], as: UTF8.self), radix: 16) else { return nil }
        let guid = GUID(
            data1: UInt32(hexValue(0..<8)), data2: UInt16(hexValue(8..<12)), data3: UInt16(hexValue(12..<16)),
            data4: (0..<8).map { UInt8(hexValue((16 + 2 * $0)..<(18 + 2 * $0))) })
        return .pdb70(guid: guid, age: age, pdbName: name)
    }

    /// A module record from a user dump's module entry: its identity read from the PE headers and the
    /// debug directory in the captured image, where the writer kept them.
    static func module(_ record: UserDumpModule, memory: any StackMemory) -> Module {
        module(name: record.imageName, base: record.baseOfImage, size: record.sizeOfImage, memory: memory)
    }

    /// A module record for the image `name` mapped at `base`, identified from the PE headers and
    /// debug directory in `memory` where the dump holds them (user dumps, kernel drivers).
    static func module(name: String, base: UInt64, size: UInt32, memory: any StackMemory) -> Module {
        let identity = CapturedImageIdentity(read: { memory.bytes(at: $0, count: $1) }, base: base, size: size)
        var module = Module(
            baseOfImage: base, sizeOfImage: size, checkSum: identity.checkSum ?? 0,
            timeDateStamp: identity.timeDateStamp ?? 0, name: name)
        module.warnings = identity.warnings
        if let bytes = identity.codeViewBytes {
            module.codeView = try? CodeViewRecord(parsing: MappedFile(bytes: bytes, name: "CodeView").bytes)
            module.codeViewBytes = bytes
        }
        return module
    }
}

/// A triage dump's memory blocks (the faulting thread's stack, the data page, the data blocks).
struct TriageMemory: StackMemory {
    let blocks: [TriageMemoryBlock]

    func bytes(at address: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        for block in blocks where address >= block.address && address - block.address <= UInt64(block.bytes.count) {
            let offset = Int(address - block.address)
            guard block.bytes.contains(offset: offset, size: count) else { continue }
            return (try? block.bytes.slice(offset: offset, size: count, field: "triage memory"))?.array
        }
        return nil
    }

    func readUInt32(at address: UInt64) -> UInt32? {
        bytes(at: address, count: 4).map { UInt32($0[0]) | UInt32($0[1]) << 8 | UInt32($0[2]) << 16 | UInt32($0[3]) << 24 }
    }

    func readUInt64(at address: UInt64) -> UInt64? {
        bytes(at: address, count: 8).map { bytes in bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    }
}

/// A full or kernel dump's virtual memory, through the page tables.
struct KernelVirtualMemory: StackMemory {
    let memory: VirtualMemory

    func bytes(at address: UInt64, count: Int) -> [UInt8]? { memory.read(address, count: count) }

    func readUInt32(at address: UInt64) -> UInt32? {
        bytes(at: address, count: 4).map { UInt32($0[0]) | UInt32($0[1]) << 8 | UInt32($0[2]) << 16 | UInt32($0[3]) << 24 }
    }

    func readUInt64(at address: UInt64) -> UInt64? {
        bytes(at: address, count: 8).map { bytes in bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    }
}
