import ArgumentParser
import Foundation
import Symbolication

/// `postmortem symbolize --symbols FILE ADDR...`: addresses to functions and source lines.
struct SymbolizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "symbolize",
        abstract: "Resolve addresses to functions, source lines and inlined frames using a PDB or a Breakpad .sym file.",
        discussion: """
            Addresses are RVAs (offsets from the module's load address) unless --base gives the load address. \
            They may be decimal or 0x-prefixed hex, as arguments or one per line on standard input. Output is \
            printed as llvm-symbolizer prints it: for each address the function on one line and file:line on the \
            next, inlined frames first (innermost first), then a blank line. Unknown parts print as ??.
            Exit status: 0 ok, 1 unreadable symbols, 2 usage error.
            """
    )

    @Option(help: "The symbols: a PDB (MSF 7.00) or a Breakpad .sym file.")
    var symbols: String

    @Option(help: "The module's load address; addresses are then absolute.")
    var base: String?

    @Flag(help: "Print JSON: one object per address with its frames and offsets.")
    var json = false

    @Argument(help: "Addresses (also read from standard input when none are given).")
    var addresses: [String] = []

    static func parseAddress(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("0x") { return UInt64(trimmed.dropFirst(2), radix: 16) }
        return UInt64(trimmed)
    }

    func validate() throws {
        if let base, Self.parseAddress(base) == nil {
            throw ValidationError("--base takes a decimal or 0x-hex address, not '\(base)'")
        }
        for address in addresses where Self.parseAddress(address) == nil {
            throw ValidationError("'\(address)' is not a decimal or 0x-hex address")
        }
    }

    struct Result: Encodable {
        var address: String
        var rva: String
        var frames: [SymbolizedFrame]
        var error: String?
    }

    func run() throws {
        let provider: any SymbolProvider
        do {
            provider = try openSymbols(path: symbols)
        } catch {
            printError("postmortem: \(symbols): \(error)")
            throw ExitStatus.malformedInput
        }
        var inputs = addresses
        if inputs.isEmpty {
            while let line = readLine() {
                let word = line.trimmingCharacters(in: .whitespaces)
                if !word.isEmpty { inputs.append(word) }
            }
        }
        let loadAddress = base.flatMap(Self.parseAddress) ?? 0
        var results = [Result]()
        var text = ""
        for input in inputs {
            guard let address = Self.parseAddress(input) else {
                results.append(Result(address: input, rva: "", frames: [], error: "not an address"))
                text += "??\n??:0:0\n\n"
                continue
            }
            guard address >= loadAddress else {
                results.append(Result(address: input, rva: "", frames: [], error: "below --base"))
                text += "??\n??:0:0\n\n"
                continue
            }
            let rva = address - loadAddress
            let frames = provider.frames(at: rva)
            results.append(Result(address: "0x" + String(address, radix: 16), rva: "0x" + String(rva, radix: 16), frames: frames))
            if frames.isEmpty {
                text += "??\n??:0:0\n\n"
            }
            for frame in frames {
                text += frame.function + "\n" + (frame.file ?? "??") + ":" + String(frame.line ?? 0) + ":0\n"
            }
            if !frames.isEmpty { text += "\n" }
        }
        write(json ? try jsonText(results) : text)
    }
}
