import BinaryReading
import Foundation
import KernelDump
import Minidump
import PortableExecutable
import SymbolStore

/// The outcome of looking for one module's binary.
public struct ModuleMatch: Sendable, Codable, Equatable {
    /// `matched`, `mismatched` (found, but fields differ) or `missing`.
    public enum Status: String, Sendable, Codable {
        case matched, mismatched, missing
    }

    /// A file that was found but does not match.
    public struct Rejected: Sendable, Codable, Equatable {
        public var path: String
        public var differences: [FieldDifference]
        /// Set when the file is not a readable PE image.
        public var error: String?
    }

    /// File name of the module.
    public var filename: String
    /// The recorded path.
    public var codeFile: String
    /// Load address.
    public var baseAddr: String
    /// The dump's identity of the module.
    public var identity: ModuleIdentity
    public var status: Status
    /// The matching file, when matched.
    public var path: String?
    /// Files found that did not match, with what differs.
    public var rejected: [Rejected]
    /// Every place looked at, in order.
    public var searched: [String]

    enum CodingKeys: String, CodingKey {
        case filename, codeFile = "code_file", baseAddr = "base_addr", identity, status, path, rejected, searched
    }
}

/// `postmortem match`: every module of a dump looked up on the search path.
public struct MatchReport: Sendable, Codable, Equatable {
    public var dump: String
    public var policy: MatchPolicy
    public var modules: [ModuleMatch]
    /// Symbol-server entries that were not searched (the symbol-store layer resolves them).
    public var deferredEntries: [String]
    /// Streams that could not be read.
    public var errors: [String]

    enum CodingKeys: String, CodingKey {
        case dump, policy, modules, deferredEntries = "deferred_entries", errors
    }

    /// Whether every module matched.
    public var allMatched: Bool { modules.allSatisfy { $0.status == .matched } && errors.isEmpty }

    /// Looks up every module of a full user-mode dump (`USERDUMP`/`USERDU64`), each identified from the
    /// PE headers and CodeView record its memory holds, along `searchPath`.
    public init(userDump: UserDumpFile, path: String, searchPath: ExecutableSearchPath, policy: MatchPolicy) {
        let contents = DumpContents(userDump: userDump)
        dump = path
        self.policy = policy
        modules = contents.modules.map { module in
            ModuleLocator.locate(
                module: module, dumpPath: path, searchPath: searchPath, policy: policy, pointerWidth: contents.pointerWidth)
        }
        deferredEntries = searchPath.entries.compactMap {
            if case .symbolServer(let entry) = $0 { return entry }
            return nil
        }
        errors = contents.warnings + contents.modules.flatMap { module in module.warnings.map { "\(module.fileName): \($0)" } }
    }

    /// Looks up every module of `minidump` along `searchPath` and judges each file found with `policy`.
    public init(minidump: MinidumpFile, path: String, searchPath: ExecutableSearchPath, policy: MatchPolicy) {
        dump = path
        self.policy = policy
        var errors = [String]()
        var modules = [Module]()
        do {
            modules = try minidump.stream(ModuleList.self)?.modules ?? []
        } catch {
            errors.append("ModuleListStream: \(error)")
        }
        let system = try? minidump.stream(SystemInfo.self)
        let width = (system?.processorArchitecture.pointerSize ?? 8) * 2
        self.modules = modules.map { module in
            ModuleLocator.locate(module: module, dumpPath: path, searchPath: searchPath, policy: policy, pointerWidth: width)
        }
        deferredEntries = searchPath.entries.compactMap {
            if case .symbolServer(let entry) = $0 { return entry }
            return nil
        }
        self.errors = errors
    }
}

/// Finds and judges the binary of one module.
public enum ModuleLocator {
    /// Looks for `module` along the search path; the first file that matches wins.
    public static func locate(
        module: Module, dumpPath: String, searchPath: ExecutableSearchPath, policy: MatchPolicy, pointerWidth: Int = 16
    ) -> ModuleMatch {
        let identity = ModuleIdentity(module: module)
        var rejected = [ModuleMatch.Rejected]()
        var searched = [String]()
        var seen = Set<String>()
        for candidate in searchPath.candidates(recordedPath: module.name, dumpPath: dumpPath) {
            searched.append(candidate)
            guard let file = existingFile(matching: candidate), seen.insert(file).inserted else { continue }
            // ELF modules (Breakpad's BpEL record) are identified by their GNU build id alone.
            if case .elf(let buildID) = module.codeView {
                let found: [UInt8]?
                if case .elf(let fileBuildID, _)? = (try? FileIdentity.read(path: file))?.identifier {
                    found = fileBuildID
                } else {
                    found = nil
                }
                if found == buildID {
                    return ModuleMatch(
                        filename: module.fileName, codeFile: module.name,
                        baseAddr: hex0x(module.baseOfImage, width: pointerWidth),
                        identity: identity, status: .matched, path: file, rejected: rejected, searched: searched)
                }
                let hexID = { (bytes: [UInt8]) in bytes.map { hex($0, width: 2) }.joined().lowercased() }
                rejected.append(
                    .init(
                        path: file,
                        differences: [
                            FieldDifference(
                                field: "build id", dump: hexID(buildID),
                                file: found.map(hexID) ?? "(not an ELF file with a build id)")
                        ],
                        error: nil))
                continue
            }
            do {
                let image = try PEImage(path: file)
                let found = ModuleIdentity(image: image, name: URL(fileURLWithPath: file).lastPathComponent)
                let differences = identity.differences(from: found, policy: policy)
                if differences.isEmpty {
                    return ModuleMatch(
                        filename: module.fileName, codeFile: module.name,
                        baseAddr: hex0x(module.baseOfImage, width: pointerWidth),
                        identity: identity, status: .matched, path: file, rejected: rejected, searched: searched)
                }
                rejected.append(.init(path: file, differences: differences, error: nil))
            } catch {
                rejected.append(.init(path: file, differences: [], error: error.description))
            }
        }
        return ModuleMatch(
            filename: module.fileName, codeFile: module.name, baseAddr: hex0x(module.baseOfImage, width: pointerWidth),
            identity: identity, status: rejected.isEmpty ? .missing : .mismatched, path: nil, rejected: rejected,
            searched: searched)
    }
}
