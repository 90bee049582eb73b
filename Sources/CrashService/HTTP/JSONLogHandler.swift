import Foundation
import Logging

/// A swift-log handler writing one JSON object per line (`--log-format json`), for log collectors
/// that index fields: `time`, `level`, `label`, `source` (the module), `message`, then the metadata's keys.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: JSONLogOutput

    /// A handler writing to standard error.
    public static func standardError(label: String) -> JSONLogHandler {
        JSONLogHandler(label: label, output: .standardError)
    }

    init(label: String, output: JSONLogOutput) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = [String: Any]()
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let given = event.metadata { merged.merge(given) { $1 } }
        for (key, value) in merged { fields[key] = Self.json(value) }
        // The fixed fields win over metadata of the same name, so every line can be read the same way.
        fields["time"] = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
        fields["level"] = event.level.rawValue
        fields["label"] = label
        fields["source"] = event.source
        fields["message"] = event.message.description
        guard
            var line = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        line.append(UInt8(ascii: "\n"))
        output.write(line)
    }

    /// Numbers logged as `.stringConvertible` stay numbers, so `status` and `duration_ms` can be compared.
    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: return number
            case let number as Double where number.isFinite: return number
            case let flag as Bool: return flag
            default: return convertible.description
            }
        case .array(let values): return values.map(json)
        case .dictionary(let values): return values.mapValues(json)
        }
    }
}

extension CrashServiceConfiguration {
    /// The service's logger for `--log-format json`: one JSON object per line on standard error.
    public static let jsonLogger = Logger(label: "postmortem-serve", factory: JSONLogHandler.standardError)
}

/// Where JSON log lines go; one lock so that lines from concurrent requests never interleave.
final class JSONLogOutput: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle

    static let standardError = JSONLogOutput(handle: .standardError)

    init(handle: FileHandle) {
        self.handle = handle
    }

    func write(_ line: Data) {
        lock.withLock { handle.write(line) }
    }
}
