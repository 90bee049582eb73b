import ArgumentParser
import BinaryReading
import BreakpadSymbols
import Foundation
import PortableExecutable
import Symbolication

/// `postmortem dump-syms FILE.pdb [--pe FILE]` or `dump-syms FILE.exe`: a Breakpad .sym file.
struct DumpSymsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-syms",
        abstract: "Write a Breakpad .sym file from a PDB (with its PE for x64 CFI) or from a PE alone.",
        discussion: """
            From a PDB: MODULE, INFO CODE_ID (with --pe), FILE, INLINE_ORIGIN, FUNC with line and INLINE records, \
            PUBLIC, STACK WIN from FPO and FrameData, and with --pe, STACK CFI from x64 unwind data. From a PE \
            alone: MODULE from its CodeView record, INFO CODE_ID, PUBLIC from exports and STACK CFI.
            Exit status: 0 ok, 1 unreadable or mismatched input, 2 usage error.
            """
    )

    @Argument(help: "A PDB, or a PE image (.exe, .dll, .sys).")
    var file: String

    @Option(help: "The PE image the PDB belongs to (adds INFO CODE_ID and STACK CFI).")
    var pe: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    @Flag(help: "Leave out INLINE and INLINE_ORIGIN records (as older dump_syms output).")
    var noInlines = false

    func run() throws {
        let symbols: SymbolFile
        do {
            let bytes = try MappedFile(path: file).bytes
            if bytes.count >= 2, bytes[0] == UInt8(ascii: "M"), bytes[1] == UInt8(ascii: "Z") {
                if pe != nil { throw ValidationError("--pe goes with a PDB, not with a PE image") }
                symbols = try BreakpadConversion.symbolFile(
                    image: PEImage(bytes: bytes), fileName: URL(fileURLWithPath: file).lastPathComponent)
            } else {
                symbols = try BreakpadConversion.symbolFile(pdbPath: file, imagePath: pe, inlines: !noInlines)
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("postmortem: \(file): \(error)")
            throw ExitStatus.malformedInput
        }
        let text = symbols.text()
        if let output {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            write(text)
        }
    }
}
