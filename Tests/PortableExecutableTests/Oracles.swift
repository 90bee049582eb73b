import BinaryReading
import Foundation
import PortableExecutable
import TestSupport

/// Every PE image in the shared fixtures, found by content (`MZ`, then `PE\0\0` at `e_lfanew`), sorted.
let peFixtures: [String] = {
    TestEnvironment.sharedFiles(suffixes: [""]).filter { path in
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let handle = FileHandle(forReadingAtPath: path)
        else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 4096)
        guard head.count >= 64, head[0] == 0x4D, head[1] == 0x5A else { return false }
        let lfanew = Int(head[0x3C]) | Int(head[0x3D]) << 8 | Int(head[0x3E]) << 16 | Int(head[0x3F]) << 24
        handle.seek(toFileOffset: UInt64(lfanew))
        return handle.readData(ofLength: 4) == Data([0x50, 0x45, 0, 0])
    }
}()

/// A fixture path relative to the shared fixtures folder, for readable test names.
func relative(_ path: String) -> String {
    let root = TestEnvironment.sharedFixtures.path + "/"
    return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
}

func peFixtures(machine: UInt16) -> [String] {
    peFixtures.filter { path in (try? PEImage(path: path).machine.rawValue) == machine }
}

/// Runs the pefile oracle on `path` and returns its JSON as a dictionary (cached per file).
func pefileOracle(_ path: String) throws -> [String: Any] {
    let data = try OracleCache.shared.value(for: "pefile:" + path) {
        let result = try runProcess(TestEnvironment.python, ["-c", pefileScript, path])
        guard result.status == 0 else {
            throw OracleFailure("pefile oracle failed on \(path): \(result.stderrText)")
        }
        return result.stdout
    }
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw OracleFailure("pefile oracle printed no JSON object for \(path)")
    }
    return object
}

/// Runs `llvm-readobj` with `options` on `path` and parses its text output (cached).
///
/// LLVM 14 aborts on some images' unwind data (C++ EH handler data in the dump_syms DLLs); the
/// output printed before the abort is still parsed, and `complete` says whether it finished.
func llvmReadobj(_ options: [String], _ path: String) throws -> (root: ReadobjNode, complete: Bool) {
    let key = "llvm:" + options.joined(separator: " ") + ":" + path
    var complete = true
    let data = try OracleCache.shared.value(for: key) {
        let result = try runProcess("/usr/bin/llvm-readobj", options + [path])
        var out = result.stdout
        if result.status != 0 { out.append(Data("\n#INCOMPLETE\n".utf8)) }
        return out
    }
    let text = String(decoding: data, as: UTF8.self)
    if text.contains("#INCOMPLETE") { complete = false }
    return (ReadobjNode.parse(text), complete)
}

/// Results of oracle runs, shared by the tests of one process.
final class OracleCache: @unchecked Sendable {
    static let shared = OracleCache()
    private let lock = NSLock()
    private var values = [String: Data]()

    func value(for key: String, compute: () throws -> Data) throws -> Data {
        lock.lock()
        if let value = values[key] {
            lock.unlock()
            return value
        }
        lock.unlock()
        let value = try compute()
        lock.lock()
        values[key] = value
        lock.unlock()
        return value
    }
}

/// One line or block of llvm-readobj's indented text output.
final class ReadobjNode {
    var name: String
    var value: String
    var children: [ReadobjNode] = []
    /// Whether the block was closed (false for the last block of an aborted run).
    var closed = false

    init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// Parses `Key: value` lines and `Name {`/`Name [`/`Name (` blocks.
    static func parse(_ text: String) -> ReadobjNode {
        let root = ReadobjNode(name: "", value: "")
        var stack = [root]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line == "#INCOMPLETE" { continue }
            if line == "}" || line == "]" || line == ")" {
                if stack.count > 1 {
                    stack.last!.closed = true
                    stack.removeLast()
                }
                continue
            }
            if line.hasSuffix(" {") || line.hasSuffix(" [") || line.hasSuffix(" (") || line.contains(" [ (") {
                let cut = line.firstIndex(where: { $0 == "{" || $0 == "[" || $0 == "(" })!
                let name = line[..<cut].trimmingCharacters(in: .whitespaces)
                let node = ReadobjNode(
                    name: name, value: String(line[line.index(after: cut)...]).trimmingCharacters(in: .whitespaces))
                stack.last!.children.append(node)
                stack.append(node)
                continue
            }
            if let colon = line.range(of: ": ") {
                stack.last!.children.append(
                    ReadobjNode(name: String(line[..<colon.lowerBound]), value: String(line[colon.upperBound...])))
            } else if line.hasSuffix(":") {
                stack.last!.children.append(ReadobjNode(name: String(line.dropLast()), value: ""))
            } else {
                stack.last!.children.append(ReadobjNode(name: line, value: ""))
            }
        }
        return root
    }

    func first(_ name: String) -> ReadobjNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [ReadobjNode] { children.filter { $0.name == name } }
    subscript(_ name: String) -> String? { first(name)?.value }

    /// The last `(0x…)` or leading `0x…` number of the value.
    func number(_ name: String) -> UInt64? {
        guard let value = self[name] else { return nil }
        return ReadobjNode.number(in: value)
    }

    static func number(in value: String) -> UInt64? {
        if let open = value.range(of: "(0x", options: .backwards) {
            let digits = value[open.upperBound...].prefix { $0.isHexDigit }
            return UInt64(digits, radix: 16)
        }
        let word = value.split(separator: " ").first.map(String.init) ?? value
        if word.hasPrefix("0x") { return UInt64(word.dropFirst(2), radix: 16) }
        return UInt64(word)
    }
}

/// The pefile oracle: prints what pefile reads from one image as JSON.
let pefileScript = #"""
    import json, sys, pefile
    path = sys.argv[1]
    pe = pefile.PE(path, fast_load=True)
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY[n] for n in (
        'IMAGE_DIRECTORY_ENTRY_EXPORT', 'IMAGE_DIRECTORY_ENTRY_DEBUG', 'IMAGE_DIRECTORY_ENTRY_RESOURCE',
        'IMAGE_DIRECTORY_ENTRY_EXCEPTION')])
    oh = pe.OPTIONAL_HEADER
    def text(b):
        return b.rstrip(b'\0').decode('utf-8', 'replace') if b is not None else None
    out = {
        'machine': pe.FILE_HEADER.Machine, 'timestamp': pe.FILE_HEADER.TimeDateStamp,
        'numberOfSymbols': pe.FILE_HEADER.NumberOfSymbols, 'characteristics': pe.FILE_HEADER.Characteristics,
        'magic': oh.Magic, 'linker': [oh.MajorLinkerVersion, oh.MinorLinkerVersion],
        'sizeOfCode': oh.SizeOfCode, 'baseOfCode': oh.BaseOfCode, 'baseOfData': getattr(oh, 'BaseOfData', None),
        'sizeOfImage': oh.SizeOfImage, 'checksum': oh.CheckSum, 'entry': oh.AddressOfEntryPoint,
        'imageBase': oh.ImageBase, 'subsystem': oh.Subsystem, 'dllCharacteristics': oh.DllCharacteristics,
        'sectionAlignment': oh.SectionAlignment, 'fileAlignment': oh.FileAlignment,
        'osVersion': [oh.MajorOperatingSystemVersion, oh.MinorOperatingSystemVersion],
        'subsystemVersion': [oh.MajorSubsystemVersion, oh.MinorSubsystemVersion],
        'sizeOfHeaders': oh.SizeOfHeaders, 'stackHeap': [oh.SizeOfStackReserve, oh.SizeOfStackCommit,
        oh.SizeOfHeapReserve, oh.SizeOfHeapCommit], 'numberOfRvaAndSizes': oh.NumberOfRvaAndSizes,
        'directories': [[d.VirtualAddress, d.Size] for d in oh.DATA_DIRECTORY],
        'generatedChecksum': pe.generate_checksum(),
        'sections': [{'name': text(s.Name), 'va': s.VirtualAddress, 'vsize': s.Misc_VirtualSize,
                      'rawSize': s.SizeOfRawData, 'rawPointer': s.PointerToRawData,
                      'characteristics': s.Characteristics} for s in pe.sections],
    }
    debug = []
    for d in getattr(pe, 'DIRECTORY_ENTRY_DEBUG', []):
        e = {'type': d.struct.Type, 'timestamp': d.struct.TimeDateStamp, 'size': d.struct.SizeOfData,
             'rva': d.struct.AddressOfRawData, 'pointer': d.struct.PointerToRawData}
        cv = d.entry
        if d.struct.Type == 2 and cv is not None and hasattr(cv, 'Signature_Data1'):
            g = '%08X%04X%04X' % (cv.Signature_Data1, cv.Signature_Data2, cv.Signature_Data3) + \
                bytes([cv.Signature_Data4, cv.Signature_Data5]).hex().upper() + bytes(cv.Signature_Data6).hex().upper()
            e['cv'] = {'guid': g, 'age': cv.Age, 'name': text(cv.PdbFileName)}
        elif d.struct.Type == 2 and cv is not None and hasattr(cv, 'Signature'):
            e['cv'] = {'signature': cv.Signature, 'age': cv.Age, 'name': text(cv.PdbFileName)}
        debug.append(e)
    out['debug'] = debug
    if hasattr(pe, 'DIRECTORY_ENTRY_EXPORT'):
        ex = pe.DIRECTORY_ENTRY_EXPORT
        out['exports'] = {'name': text(pe.get_string_at_rva(ex.struct.Name)), 'base': ex.struct.Base,
                          'symbols': [{'ordinal': s.ordinal, 'rva': s.address, 'name': text(s.name),
                                       'forwarder': text(s.forwarder)} for s in ex.symbols]}
    if getattr(pe, 'VS_FIXEDFILEINFO', None):
        f = pe.VS_FIXEDFILEINFO[0]
        v = {'fixed': [f.Signature, f.StrucVersion, f.FileVersionMS, f.FileVersionLS, f.ProductVersionMS,
                       f.ProductVersionLS, f.FileFlagsMask, f.FileFlags, f.FileOS, f.FileType, f.FileSubtype,
                       f.FileDateMS, f.FileDateLS], 'strings': {}}
        for fi in (pe.FileInfo[0] if getattr(pe, 'FileInfo', None) else []):
            if getattr(fi, 'Key', b'') == b'VarFileInfo':
                v['translations'] = [t for var in fi.Var for t in var.entry.get(b'Translation', '').split()]
            if getattr(fi, 'Key', b'') == b'StringFileInfo':
                for st in fi.StringTable:
                    v['strings'][st.LangID.decode()] = {k.decode('utf-8', 'replace'): val.decode('utf-8', 'replace')
                                                        for k, val in st.entries.items()}
        out['version'] = v
    if pe.FILE_HEADER.Machine == 0x8664:
        out['pdata'] = [[e.struct.BeginAddress, e.struct.EndAddress, e.struct.UnwindData]
                        for e in getattr(pe, 'DIRECTORY_ENTRY_EXCEPTION', [])]
        unwind = []
        for e in getattr(pe, 'DIRECTORY_ENTRY_EXCEPTION', []):
            u = e.unwindinfo
            if u is None:
                unwind.append(None)
                continue
            chained = u.get_chained_function_entry()
            unwind.append({'header': [u.Version, u.Flags, u.SizeOfProlog, u.CountOfCodes, u.FrameRegister, u.FrameOffset],
                           # pefile names the first byte of a UWOP_EPILOG code Size or OffsetLow.
                           'codes': [[getattr(c.struct, 'CodeOffset', getattr(c.struct, 'Size', getattr(c.struct, 'OffsetLow', None))),
                                      c.struct.UnwindOp] for c in (u.UnwindCodes or [])],
                           'handler': getattr(u, 'ExceptionHandler', None),
                           'chained': chained.struct.BeginAddress if chained else None})
        out['unwind'] = unwind
    json.dump(out, sys.stdout)
    """#

/// Reads a JSON number as `UInt64`.
func u64(_ value: Any?) -> UInt64? {
    (value as? NSNumber)?.uint64Value
}

/// An oracle that ran but did not give a usable answer.
struct OracleFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
