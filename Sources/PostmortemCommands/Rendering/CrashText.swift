import Analysis
import BinaryReading
import StackWalk

/// The human report of `postmortem analyze`, laid out like minidump_stackwalk's: system, crash reason,
/// the crashing thread first, each frame with `module!function [file : line]`, its registers and how it
/// was found, then the modules and whether their symbols were found.
func renderCrash(_ crash: ProcessedCrash) -> String {
    var out = ""
    let system = crash.systemInfo
    out += "Operating system: \(system.os)\n"
    if let version = system.osVer, !version.isEmpty { out += "                  \(version)\n" }
    out += "CPU: \(system.cpuArch)\n"
    if let info = system.cpuInfo, !info.isEmpty { out += "     \(info)\n" }
    if let count = system.cpuCount { out += "     \(count) CPU\(count == 1 ? "" : "s")\n" }
    out += "\n"
    if let type = crash.crashInfo.type {
        out += "Crash reason:  \(type)\n"
        out += "Crash address: \(crash.crashInfo.address ?? "")\n"
    } else {
        out += "No crash: the dump holds no exception\n"
    }
    if let assertion = crash.crashInfo.assertion { out += "Assertion: \(assertion)\n" }
    if let unloaded = crash.crashInfo.addressInUnloadedModules, !unloaded.isEmpty {
        out += "Crash address lies in unloaded module(s): \(unloaded.joined(separator: ", "))\n"
    }
    if !crash.signature.isEmpty { out += "Signature:     \(crash.signature)\n" }
    if let bucket = crash.werBucket { out += "WER bucket:    \(bucket.description)\n" }
    out += "\n"

    var order = Array(crash.threads.indices)
    if let crashing = crash.crashInfo.crashingThread, order.contains(crashing) {
        order.removeAll { $0 == crashing }
        order.insert(crashing, at: 0)
    }
    for index in order {
        let thread = crash.threads[index]
        let name = thread.threadName.map { " \($0)" } ?? " "
        let crashed = index == crash.crashInfo.crashingThread ? " (crashed)" : ""
        out += "Thread \(index)\(name)\(crashed) - tid: \(thread.threadId)\n"
        for warning in thread.warnings ?? [] { out += "    (\(warning))\n" }
        var number = 0
        for frame in thread.frames {
            for inline in frame.inlines ?? [] {
                out += frameNumber(number) + "  " + (frame.module.map { $0 + "!" } ?? "") + inline.function
                out += sourceLocation(file: inline.file, line: inline.line) + "\n"
                out += "    Found by: \(FrameTrust.inline.description)\n"
                number += 1
            }
            out += frameNumber(number) + "  " + frameTitle(frame) + "\n"
            out += registerLines(frame.registers ?? [:], architecture: system.cpuArch)
            out += "    Found by: \(FrameTrust(rawValue: frame.trust)?.description ?? frame.trust)\n"
            number += 1
        }
        out += "\n"
    }

    out += "Loaded modules:\n"
    for (index, module) in crash.modules.enumerated() {
        let end = (UInt64(module.endAddr.dropFirst(2), radix: 16) ?? 1) &- 1
        let endText = hex0x(end, width: module.endAddr.count - 2)
        var line = "\(module.baseAddr) - \(endText)  \(module.filename)  \(module.version ?? "???")"
        if index == crash.mainModule { line += "  (main)" }
        if module.loadedSymbols {
            line += "  (symbols: \(module.symbolFile ?? "loaded"))"
        } else if module.corruptSymbols {
            line += "  (corrupt symbols)"
        } else {
            line += "  (no symbols)"
        }
        out += line + "\n"
    }
    if !crash.unloadedModules.isEmpty {
        out += "\nUnloaded modules:\n"
        for module in crash.unloadedModules { out += "\(module.baseAddr) - \(module.endAddr)  \(module.filename)\n" }
    }
    if !crash.warnings.isEmpty {
        out += "\nWarnings:\n"
        for warning in crash.warnings { out += "  \(warning)\n" }
    }
    return out
}

private func frameNumber(_ number: Int) -> String {
    number < 10 ? " \(number)" : "\(number)"
}

private func frameTitle(_ frame: FrameReport) -> String {
    guard let module = frame.module else { return frame.offset }
    guard let function = frame.function else { return "\(module) + \(shortHex(frame.moduleOffset ?? frame.offset))" }
    var title = "\(module)!\(function)"
    if frame.file == nil, let offset = frame.functionOffset { title += " + \(shortHex(offset))" }
    return title + sourceLocation(file: frame.file, line: frame.line)
}

private func sourceLocation(file: String?, line: UInt64?) -> String {
    guard let file else { return "" }
    let name = file.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? file
    return " [\(name) : \(line.map(String.init) ?? "?")]"
}

/// `0x0000000e` → `0xe`.
private func shortHex(_ text: String) -> String {
    let digits = text.dropFirst(2).drop { $0 == "0" }
    return "0x" + (digits.isEmpty ? "0" : digits)
}

private func registerLines(_ registers: [String: String], architecture: String) -> String {
    guard !registers.isEmpty, let arch = StackArchitecture(rawValue: architecture) else { return "" }
    let perLine = arch.wordSize == 4 ? 4 : 2
    var out = ""
    var onLine = 0
    for name in arch.registerNames {
        guard let value = registers[name] else { continue }
        out += onLine == 0 ? "  " : " "
        out += String(repeating: " ", count: max(0, 6 - name.utf8.count)) + name + " = " + value
        onLine += 1
        if onLine == perLine {
            out += "\n"
            onLine = 0
        }
    }
    if onLine > 0 { out += "\n" }
    return out
}
