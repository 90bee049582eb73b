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
            var entry = DumpThread(threadId: thread.threadId, name: names[thread.threadId], context: nil, note: nil)
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
            pointerWidth: Analysis.pointerWidth(system: system, addresses: modules.map(\.endAddress)), minidump: dump,
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
        let captured = UserDumpCapturedMemory(memory: memory)
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
                var entry = DumpThread(threadId: thread.threadId, name: nil, context: nil, note: nil)
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
            memory: captured, pointerWidth: is64 ? 16 : 8, minidump: nil, warnings: warnings)
    }

    /// A module record from a user dump's module entry: its identity read from the PE headers and the
    /// debug directory in the captured image, where the writer kept them.
    static func module(_ record: UserDumpModule, memory: any StackMemory) -> Module {
        let image = CapturedImage(memory: memory, base: record.baseOfImage)
        var module = Module(
            baseOfImage: record.baseOfImage, sizeOfImage: record.sizeOfImage, checkSum: 0, timeDateStamp: 0,
            name: record.imageName)
        guard let header = image.bytes(atRVA: 0, count: min(0x1000, Int(record.sizeOfImage))),
            let pe = try? PEImage(bytes: MappedFile(bytes: header, name: record.imageName).bytes)
        else {
            module.warnings.append("the dump holds no PE headers for this module, so its identity is unknown")
            return module
        }
        module.timeDateStamp = pe.fileHeader.timeDateStamp
        module.checkSum = pe.optionalHeader.checkSum
        // The debug directory and the CodeView record are addressed by RVA in the loaded image.
        let directory = pe.optionalHeader.dataDirectories.count > 6 ? pe.optionalHeader.dataDirectories[6] : nil
        if let directory, !directory.isEmpty {
            let count = min(Int(directory.size) / 28, 16)
            for index in 0..<count {
                guard let entry = image.bytes(atRVA: UInt64(directory.virtualAddress) + UInt64(index * 28), count: 28) else {
                    break
                }
                let type = UInt32(entry[12]) | UInt32(entry[13]) << 8 | UInt32(entry[14]) << 16 | UInt32(entry[15]) << 24
                let size = UInt32(entry[16]) | UInt32(entry[17]) << 8 | UInt32(entry[18]) << 16 | UInt32(entry[19]) << 24
                let rva = UInt32(entry[20]) | UInt32(entry[21]) << 8 | UInt32(entry[22]) << 16 | UInt32(entry[23]) << 24
                // IMAGE_DEBUG_TYPE_CODEVIEW.
                guard type == 2, size > 0, Int(size) <= CodeViewRecord.maximumSize,
                    let bytes = image.bytes(atRVA: UInt64(rva), count: Int(size))
                else { continue }
                module.codeView = try? CodeViewRecord(parsing: MappedFile(bytes: bytes, name: "CodeView").bytes)
                module.codeViewBytes = bytes
                break
            }
        }
        return module
    }
}

/// A full user-mode dump's memory as the walker reads it.
public struct UserDumpCapturedMemory: StackMemory {
    public let memory: UserDumpMemory

    public init(memory: UserDumpMemory) { self.memory = memory }

    public func bytes(at address: UInt64, count: Int) -> [UInt8]? { memory.read(address, count: count) }
    public func readUInt32(at address: UInt64) -> UInt32? {
        bytes(at: address, count: 4).map { UInt32($0[0]) | UInt32($0[1]) << 8 | UInt32($0[2]) << 16 | UInt32($0[3]) << 24 }
    }
    public func readUInt64(at address: UInt64) -> UInt64? {
        bytes(at: address, count: 8).map { bytes in bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    }
}
