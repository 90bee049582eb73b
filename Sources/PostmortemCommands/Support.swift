import ArgumentParser
import BinaryReading
import Foundation
import Minidump

/// Exit statuses every command shares.
enum ExitStatus {
    /// Malformed input: the message says what and at which offset.
    static let malformedInput = ExitCode(1)
    /// Usage errors (bad flags or arguments).
    static let usage = ExitCode(2)
    /// `match`: some module's binary was not found or did not match.
    static let someModulesUnmatched = ExitCode(3)
}

/// Writes `text` to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Writes `text` to standard output without adding a newline.
func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Encodes a report as the stable JSON the commands print: sorted keys, pretty, unescaped slashes.
func jsonText(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
}

/// Opens a minidump, turning a failure into the malformed-input exit status with a clear message.
func openMinidump(_ path: String) throws -> MinidumpFile {
    do {
        return try MinidumpFile(path: path)
    } catch {
        printError("postmortem: \(path): \(error)")
        throw ExitStatus.malformedInput
    }
}
