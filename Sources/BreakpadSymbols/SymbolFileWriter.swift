import BinaryReading

extension SymbolFile {
    /// The file as .sym text, in the record order dump_syms writes: MODULE, INFO, FILE,
    /// INLINE_ORIGIN, each FUNC followed by its INLINE and line records, PUBLIC, STACK WIN, STACK CFI.
    public func text() -> String {
        var out = ""
        out.reserveCapacity(64 * (functions.count * 4 + publics.count + cfi.count))
        if let module { out += "MODULE \(module.os) \(module.arch) \(module.id) \(module.name)\n" }
        if let codeID {
            out += "INFO CODE_ID \(codeID)" + (codeFile.map { " " + $0 } ?? "") + "\n"
        }
        for line in info { out += "INFO \(line)\n" }
        for (index, name) in files.sorted(by: { $0.key < $1.key }) { out += "FILE \(index) \(name)\n" }
        for (index, name) in inlineOrigins.sorted(by: { $0.key < $1.key }) { out += "INLINE_ORIGIN \(index) \(name)\n" }
        for function in functions {
            out += "FUNC " + (function.isMultiple ? "m " : "")
            out += "\(lower(function.address)) \(lower(function.size)) \(lower(function.parameterSize)) \(function.name)\n"
            for record in function.inlines {
                out += "INLINE \(record.depth) \(record.callLine) "
                if let file = record.callFile { out += "\(file) " }
                out += "\(record.origin)"
                for range in record.ranges { out += " \(lower(range.address)) \(lower(range.size))" }
                out += "\n"
            }
            for line in function.lines {
                out += "\(lower(line.address)) \(lower(line.size)) \(line.line) \(line.file)\n"
            }
        }
        for symbol in publics {
            out +=
                "PUBLIC " + (symbol.isMultiple ? "m " : "")
                + "\(lower(symbol.address)) \(lower(symbol.parameterSize)) \(symbol.name)\n"
        }
        for record in stackWin {
            out += "STACK WIN \(lower(UInt64(record.type))) \(lower(record.rva)) \(lower(record.codeSize)) "
            out += "\(lower(record.prologSize)) \(lower(record.epilogSize)) \(lower(record.parameterSize)) "
            out += "\(lower(record.savedRegisterSize)) \(lower(record.localSize)) \(lower(record.maxStackSize)) "
            if let program = record.programString {
                out += "1 \(program)\n"
            } else {
                out += "0 \(record.allocatesBasePointer ? 1 : 0)\n"
            }
        }
        for record in cfi {
            out += "STACK CFI INIT \(lower(record.address)) \(lower(record.size)) \(record.rules)\n"
            for delta in record.deltas { out += "STACK CFI \(lower(delta.address)) \(delta.rules)\n" }
        }
        return out
    }
}

private func lower(_ value: UInt64) -> String {
    String(value, radix: 16)
}
