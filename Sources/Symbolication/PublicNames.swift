/// Undecoration of C-style linker names, as dump_syms prints PUBLIC records.
///
/// x86 `__cdecl` names carry a leading `_`, `__stdcall` ones `_name@N` and `__fastcall` ones
/// `@name@N`, where N is the byte size of the stack parameters, which dump_syms writes as the
/// record's parameter size (seen in breakpad's dump_syms_regtest.sym: `PUBLIC 57b2 10 RtlUnwind`
/// for `_RtlUnwind@16`). C++ names (`?...`) are kept decorated: this layer has no demangler.
enum PublicNames {
    /// The printed name and the parameter size of `decorated` on `isX86` or other architectures.
    static func undecorate(_ decorated: String, isX86: Bool) -> (name: String, parameterSize: UInt64) {
        guard isX86, let first = decorated.first, first == "_" || first == "@" else { return (decorated, 0) }
        var body = Substring(decorated.dropFirst())
        var size: UInt64 = 0
        if let at = body.lastIndex(of: "@"), at != body.startIndex {
            let digits = body[body.index(after: at)...]
            if !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let value = UInt64(digits) {
                size = value
                body = body[..<at]
            } else if first == "@" {
                return (decorated, 0)
            }
        } else if first == "@" {
            return (decorated, 0)
        }
        return (String(body), size)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
