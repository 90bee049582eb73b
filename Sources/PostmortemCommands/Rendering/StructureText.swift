import BinaryReading
import Foundation

/// Renders decoded structures as indented `field = value` lines, the way minidump_dump prints streams.
///
/// Unsigned integers print in hex (they are addresses, flags and ids in these formats), signed
/// ones in decimal; byte arrays as hex (long ones cut); values with a name print both.
struct StructureText {
    /// Bytes of a byte array printed before it is cut.
    var maximumBytes = 64
    /// Elements of an array printed before the rest is summarized.
    var maximumElements = 4096

    func render(_ value: Any, title: String) -> String {
        var out = ""
        emit(value, label: title, indent: 0, into: &out)
        return out
    }

    private func scalar(_ value: Any) -> String? {
        switch value {
        case let v as String: return "\"" + v.replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case let v as Bool: return v ? "true" : "false"
        case let v as UInt8: return hex0x(v)
        case let v as UInt16: return hex0x(v)
        case let v as UInt32: return hex0x(v)
        case let v as UInt64: return hex0x(v)
        case let v as Int: return String(v)
        case let v as Int32: return String(v)
        case let v as Int64: return String(v)
        case let v as Int16: return String(v)
        case let v as Int8: return String(v)
        case let v as Double: return String(v)
        case let v as GUID: return "{" + v.description + "}"
        case let v as [UInt8]:
            let shown = v.prefix(maximumBytes).map { hex($0, width: 2) }.joined()
            return v.count > maximumBytes ? "\(shown)… (\(v.count) bytes)" : (v.isEmpty ? "(empty)" : shown)
        default: break
        }
        let mirror = Mirror(reflecting: value)
        // RawRepresentable wrappers (StreamType, ProcessorArchitecture, flags): raw value and name.
        if mirror.displayStyle == .struct, mirror.children.count == 1, mirror.children.first?.label == "rawValue",
            let raw = mirror.children.first.map({ scalar($0.value) }) ?? nil
        {
            if let named = value as? CustomStringConvertible {
                let name = named.description
                return name == raw ? raw : "\(raw ?? "") (\(name))"
            }
            return raw
        }
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return "(none)" }
            return scalar(wrapped)
        }
        if mirror.displayStyle == .enum, mirror.children.isEmpty {
            return String(describing: value)
        }
        return nil
    }

    private func emit(_ value: Any, label: String, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent)
        if let text = scalar(value) {
            out += "\(pad)\(label) = \(text)\n"
            return
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first?.value {
                emit(wrapped, label: label, indent: indent, into: &out)
            } else {
                out += "\(pad)\(label) = (none)\n"
            }
        case .collection, .set:
            let count = mirror.children.count
            if count == 0 {
                out += "\(pad)\(label) = (empty)\n"
                return
            }
            if mirror.children.allSatisfy({ scalar($0.value) != nil }), count <= 16 {
                out += "\(pad)\(label) = [" + mirror.children.map { scalar($0.value)! }.joined(separator: ", ") + "]\n"
                return
            }
            out += "\(pad)\(label) (\(count))\n"
            for (index, child) in mirror.children.enumerated() {
                if index == maximumElements {
                    out += "\(pad)  … \(count - maximumElements) more\n"
                    break
                }
                emit(child.value, label: "[\(index)]", indent: indent + 1, into: &out)
            }
        case .dictionary:
            out += "\(pad)\(label)\n"
            let pairs = mirror.children.compactMap { child -> (String, Any)? in
                let pair = Mirror(reflecting: child.value).children.map(\.value)
                guard pair.count == 2 else { return nil }
                return (String(describing: pair[0]), pair[1])
            }.sorted { $0.0 < $1.0 }
            for (key, item) in pairs {
                emit(item, label: key, indent: indent + 1, into: &out)
            }
        case .enum:
            // An enum case with associated values: print the case, then its payload's fields.
            guard let child = mirror.children.first else {
                out += "\(pad)\(label) = \(value)\n"
                return
            }
            let payload = Mirror(reflecting: child.value)
            if payload.displayStyle == .tuple {
                out += "\(pad)\(label) = \(child.label ?? "")\n"
                for (index, field) in payload.children.enumerated() {
                    emit(field.value, label: field.label ?? ".\(index)", indent: indent + 1, into: &out)
                }
            } else if let text = scalar(child.value) {
                out += "\(pad)\(label) = \(child.label ?? "")(\(text))\n"
            } else {
                out += "\(pad)\(label) = \(child.label ?? "")\n"
                emitChildren(of: child.value, indent: indent + 1, into: &out)
            }
        default:
            out += "\(pad)\(label)\n"
            emitChildren(of: value, indent: indent + 1, into: &out)
        }
    }

    private func emitChildren(of value: Any, indent: Int, into out: inout String) {
        for (index, child) in Mirror(reflecting: value).children.enumerated() {
            // Fields a version of the structure does not have (MiscInfo's later versions) are left out.
            let childMirror = Mirror(reflecting: child.value)
            if childMirror.displayStyle == .optional, childMirror.children.isEmpty { continue }
            emit(child.value, label: child.label ?? "[\(index)]", indent: indent, into: &out)
        }
    }
}
