import Analysis
import ArgumentParser
import BinaryReading
import Foundation
import Minidump

/// `postmortem dump DUMP`: every stream in readable text.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every stream of a minidump in readable text (like minidump_dump).",
        discussion: """
            The header, the stream directory, then each stream decoded; streams of unknown type are \
            listed with their type and size. A damaged stream is reported beside the others, which still print.
            Exit status: 0 ok, 1 malformed input (some stream or the header is damaged), 2 usage error.
            """
    )

    @Argument(help: "The minidump file.")
    var dump: String

    @Flag(help: "Print JSON (documented in docs/json-schema.md) instead of text.")
    var json = false

    func run() throws {
        let report = StreamDump(minidump: try openMinidump(dump), path: dump)
        write(json ? try jsonText(report) : renderStreamDump(report))
        if report.hasErrors {
            for entry in report.entries where entry.error != nil {
                printError("postmortem: \(dump): stream \(entry.index) (\(entry.streamTypeName)): \(entry.error!)")
            }
            throw ExitStatus.malformedInput
        }
    }
}

/// The text form of a stream dump.
func renderStreamDump(_ report: StreamDump) -> String {
    let renderer = StructureText()
    let header = report.header
    var out = "MINIDUMP_HEADER\n"
    out +=
        textTable(
            header: ["  field", "value"],
            rows: [
                ["  signature", hex0x(header.signature) + (report.bigEndian ? " (big-endian)" : "")],
                ["  version", hex0x(header.version)],
                ["  stream_count", String(header.numberOfStreams)],
                ["  stream_directory_rva", hex0x(header.streamDirectoryRva)],
                ["  checksum", hex0x(header.checkSum)],
                ["  time_date_stamp", hex0x(header.timeDateStamp) + " " + report.headerTimeUTC],
                ["  flags", hex0x(header.flags)],
            ]
        ).split(separator: "\n").dropFirst().joined(separator: "\n") + "\n\nDirectory\n"
    out += textTable(
        header: ["  index", "type", "name", "rva", "size", "decoded"],
        rows: report.entries.map {
            [
                "  \($0.index)", hex0x($0.streamType), $0.streamTypeName, hex0x($0.rva), String($0.dataSize),
                $0.error != nil ? "ERROR" : ($0.known ? "yes" : "unknown type"),
            ]
        })
    for entry in report.entries {
        out +=
            "\n[\(entry.index)] \(entry.streamTypeName) (\(hex0x(entry.streamType)), \(entry.dataSize) bytes at \(hex0x(entry.rva)))\n"
        if let error = entry.error {
            out += "  ERROR: \(error)\n"
        } else if let decoded = entry.decoded {
            out += renderer.render(decoded, title: String(describing: type(of: decoded)))
                .split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
                .joined(separator: "\n")
        } else if entry.streamType == 0 {
            out += "  (unused entry)\n"
        } else {
            out += "  (stream type not decoded by this reader)\n"
        }
        for context in entry.contexts ?? [] {
            out += "\n  context of thread \(hex0x(context.threadId))\n"
            if let registers = context.context {
                out += renderContext(registers)
            } else {
                out += "    ERROR: \(context.error ?? "unknown")\n"
            }
        }
    }
    return out
}

/// General registers four to a line; the full structure (FPU, vector state) is in `--json`.
func renderContext(_ context: ThreadContext) -> String {
    let width = context.architecture.pointerSize.map { $0 * 2 } ?? 16
    var out = "    \(context.architecture) context, flags \(hex0x(context.contextFlags.rawValue))\n"
    let cells = context.registers.map { register in
        register.name.padding(toLength: 4, withPad: " ", startingAt: 0) + " = " + hex0x(register.value, width: width)
    }
    for start in stride(from: 0, to: cells.count, by: 4) {
        out += "    " + cells[start..<min(start + 4, cells.count)].joined(separator: "  ") + "\n"
    }
    return out
}
