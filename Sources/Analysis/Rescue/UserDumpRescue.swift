import BinaryReading
import Foundation
import KernelDump
import Minidump
import PortableExecutable

extension ModuleRescue {
    /// Rescues the modules of a legacy full user-mode dump (`USERDUMP`/`USERDU64`).
    ///
    /// Such dumps record only each module's name, base and size; the rest of its identity
    /// (TimeDateStamp, CheckSum, machine, CodeView record) is read from the module's own header
    /// page, which a full-memory dump holds. The image is then laid out from the captured pages,
    /// with the real headers, so it carries the module's real code and debug directory.
    public static func rescue(
        userDump: UserDumpFile, path: String, outputFolder: String, all: Bool, layout: RescueLayout,
        searchPath: ExecutableSearchPath, policy: MatchPolicy = .windbg
    ) -> RescueReport {
        var report = RescueReport(dump: path, outputFolder: outputFolder, layout: layout, modules: [], errors: [])
        let modules: [UserDumpModule]
        let memory: UserDumpMemory
        do {
            modules = try userDump.modules()
            memory = try userDump.memory()
        } catch {
            report.errors.append("\(error)")
            return report
        }
        do {
            try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        } catch {
            report.errors.append("cannot create \(outputFolder): \(error.localizedDescription)")
            return report
        }
        let width = userDump.header.is64Bit ? 16 : 8
        for module in modules {
            let fileName = Module.baseName(module.imageName)
            var row = RescuedModule(
                filename: fileName, codeFile: module.imageName, baseAddr: hex0x(module.baseOfImage, width: width),
                status: .failed, path: nil, headersFromMemory: false, bytesFromMemory: 0, rebuiltFromRecord: [], notes: [],
                error: nil)
            do {
                guard let headerPage = memory.read(module.baseOfImage, count: min(0x1000, Int(module.sizeOfImage))) else {
                    throw ParseError(
                        offset: 0, field: "module header page",
                        kind: .invalidValue(
                            "the dump holds no memory at \(hex0x(module.baseOfImage)), so the module's identity is unknown"))
                }
                let headers = try PEImage(bytes: MappedFile(bytes: headerPage, name: fileName).bytes)
                if !all,
                    let found = locate(
                        fileName: fileName, headers: headers, dumpPath: path, searchPath: searchPath, policy: policy)
                {
                    row.status = .skipped
                    row.path = found
                    report.modules.append(row)
                    continue
                }
                let captured = memory.regions.compactMap { region -> (rva: UInt32, bytes: [UInt8])? in
                    let start = max(region.baseAddress, module.baseOfImage)
                    let end = min(region.endAddress, module.baseOfImage &+ UInt64(module.sizeOfImage))
                    guard start < end, let bytes = memory.read(start, count: Int(end - start)) else { return nil }
                    return (UInt32(start - module.baseOfImage), bytes)
                }
                let spec = RescueImageSpec(
                    machine: headers.machine, imageBase: module.baseOfImage, sizeOfImage: headers.optionalHeader.sizeOfImage,
                    timeDateStamp: headers.fileHeader.timeDateStamp, checkSum: headers.optionalHeader.checkSum,
                    isDLL: !fileName.lowercased().hasSuffix(".exe"), capturedMemory: captured)
                let image = try RescueImageBuilder.build(spec)
                try write(image, spec: spec, fileName: fileName, outputFolder: outputFolder, layout: layout, into: &row)
                row.rebuiltFromRecord = ["name"] + (image.headersFromMemory ? [] : ["headers and section table"])
            } catch {
                row.error = "\(error)"
            }
            report.modules.append(row)
        }
        return report
    }

    /// A file on the search path that matches the identity read from captured headers.
    static func locate(
        fileName: String, headers: PEImage, dumpPath: String, searchPath: ExecutableSearchPath, policy: MatchPolicy
    ) -> String? {
        let wanted = ModuleIdentity(image: headers, name: fileName)
        for candidate in searchPath.candidates(recordedPath: fileName, dumpPath: dumpPath) {
            guard let file = existingFile(matching: candidate), let image = try? PEImage(path: file) else { continue }
            let found = ModuleIdentity(image: image, name: URL(fileURLWithPath: file).lastPathComponent)
            // The header page carries no CodeView record of its own; compare what it does carry.
            if wanted.differences(from: found, policy: policy == .strict ? .windbg : policy).isEmpty { return file }
        }
        return nil
    }
}
