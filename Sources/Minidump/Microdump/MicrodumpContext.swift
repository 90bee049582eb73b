import BinaryReading

extension Microdump {
    /// The context layouts a microdump's `C` line may hold, by the `O` line's architecture.
    static func contextLayouts(cpu: String) -> [(size: Int, layout: ContextLayout)]? {
        switch cpu {
        case "arm": [(ContextARM.size, .armBreakpad)]
        // Breakpad wrote the old layout before Windows defined an ARM64 CONTEXT (seen in Breakpad's
        // microdump-arm64.dmp); newer writers use the 912-byte one.
        case "arm64": [(ContextARM64.size, .arm64), (ContextARM64Old.size, .arm64Old)]
        case "x86": [(ContextX86.size, .x86)]
        default: nil
        }
    }

    /// Decodes the `C` line's bytes; nil with a warning when the architecture is not modelled or the
    /// size fits no layout.
    static func decodeContext(_ bytes: [UInt8], cpu: String?, at offset: Int64, warnings: inout [String]) -> ThreadContext? {
        let where_ = "line at offset 0x\(String(offset, radix: 16))"
        guard let cpu else {
            warnings.append("\(where_): a CPU context before any O line names the architecture")
            return nil
        }
        guard let layouts = contextLayouts(cpu: cpu) else {
            warnings.append("\(where_): unsupported architecture \(cpu): its context is not decoded")
            return nil
        }
        guard let layout = layouts.first(where: { $0.size == bytes.count })?.layout else {
            let sizes = layouts.map { String($0.size) }.joined(separator: " or ")
            warnings.append("\(where_): malformed \(cpu) CPU context of \(bytes.count) bytes (expected \(sizes))")
            return nil
        }
        let view = MappedFile(bytes: bytes, name: "microdump context").bytes
        do {
            // Microdumps come from little-endian Android devices.
            switch layout {
            case .armBreakpad: return .arm(try ContextARM(parsing: view, endianness: .little))
            case .arm64: return .arm64(try ContextARM64(parsing: view, endianness: .little))
            case .arm64Old: return .arm64(ContextARM64(try ContextARM64Old(parsing: view, endianness: .little)))
            case .x86: return .x86(try ContextX86(parsing: view, endianness: .little))
            default: return nil
            }
        } catch {
            warnings.append("\(where_): \(error)")
            return nil
        }
    }
}
