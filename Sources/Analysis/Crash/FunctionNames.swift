/// Socorro's rules for shortening a demangled function name into a signature part.
///
/// C++: the return type and other leading words go, trailing `const`/`&`/`&&` go, template
/// arguments become `<T>`, parameter lists go, `[clone .cold]` suffixes go, spaces before `*`,
/// `&` and `,` go and commas get one space after them. Rust: the same for leading words,
/// generics and parameters, and the `::h<16 hex digits>` hash of legacy mangling goes.
///
/// Two differences from Socorro, both for operators: `operator` words stay with their symbol
/// (`Foo::operator new`, `operator<`), and the qualifier strip only happens after a parameter
/// list, so `operator&` keeps its ampersand.
enum FunctionNames {
    /// Opening and closing delimiters that keep spaces inside them from splitting words.
    static let pairs: [Character: Character] = ["(": ")", "{": "}", "[": "]", "<": ">", "`": "'"]
    static let closers: Set<Character> = [")", "}", "]", ">", "'"]

    /// Operator symbols that contain delimiters; they must not open or close a level.
    static let operatorSymbols = ["<<=", ">>=", "<=>", "->*", "()", "[]", "<<", ">>", "<=", ">=", "->", "<", ">"]

    /// C++ rules (Socorro's `normalize_cpp_function`).
    static func normalizeCpp(_ name: String) -> String {
        var function = name.strippingSpaces()
        for qualifier in [" const", "const&", "&&", "&"] where function.hasSuffix(qualifier) {
            let stripped = String(function.dropLast(qualifier.count)).strippingSpaces()
            if stripped.hasSuffix(")") { function = stripped }
        }
        function = dropPrefixAndReturnType(function)
        function = collapse(function, open: "<", close: ">", replacement: "<T>", keeping: ["name omitted"])
        function = collapse(function, open: "(", close: ")", replacement: "", keeping: ["anonymous namespace"])
        if function.contains("clone .cold") {
            function = collapse(function, open: "[", close: "]", replacement: "", keeping: [])
        }
        return tidySpaces(function).strippingSpaces()
    }

    /// Rust rules (Socorro's `normalize_rust_function`).
    static func normalizeRust(_ name: String) -> String {
        var function = dropPrefixAndReturnType(name.strippingSpaces())
        // `<T as Trait>::method` names the impl: its angle brackets stay.
        function = collapse(function, open: "<", close: ">", replacement: "<T>", keeping: [" as "])
        function = collapse(function, open: "(", close: ")", replacement: "", keeping: ["anonymous namespace"])
        if hasRustHash(function) { function.removeLast(19) }
        return function
    }

    /// Whether `name` ends with the `::h` + 16 hex digits that legacy Rust mangling appends.
    static func hasRustHash(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars.suffix(19))
        guard scalars.count == 19, scalars[0] == ":", scalars[1] == ":", scalars[2] == "h" else { return false }
        return scalars[3...].allSatisfy { $0.properties.isASCIIHexDigit }
    }

    /// The length of an operator symbol starting at `index` when the text before it ends with
    /// the word `operator`, else nil.
    static func operatorSymbolLength(_ chars: [Character], _ index: Int) -> Int? {
        // Called at every position of every frame name: the cheap test on the letter before goes first.
        let word = operatorWord
        guard index >= word.count, chars[index - 1] == "r", chars[(index - word.count)..<index].elementsEqual(word)
        else { return nil }
        let before = index - word.count - 1
        if before >= 0, chars[before].isLetter || chars[before].isNumber || chars[before] == "_" { return nil }
        for symbol in operatorSymbolCharacters
        where index + symbol.count <= chars.count && chars[index..<(index + symbol.count)].elementsEqual(symbol) {
            return symbol.count
        }
        return nil
    }

    static let operatorWord: [Character] = Array("operator")
    static let operatorSymbolCharacters: [[Character]] = operatorSymbols.map { Array($0) }

    /// Drops what precedes the function name: return type, `static`, calling convention.
    ///
    /// Splits on spaces outside any delimiter pair and keeps the last word, re-joining a
    /// parameter list or `[clone …]` written after a space, and an `operator` with its symbol.
    static func dropPrefixAndReturnType(_ function: String) -> String {
        let chars = Array(function)
        var words: [String] = []
        var open: [Character] = []
        var current = ""
        var index = 0
        while index < chars.count {
            let char = chars[index]
            if let length = operatorSymbolLength(chars, index) {
                current += String(chars[index..<(index + length)])
                index += length
                continue
            }
            if pairs[char] != nil {
                open.append(char)
                current.append(char)
            } else if closers.contains(char) {
                // An unmatched closer is text (the `'` of a quote, say).
                if let last = open.last, pairs[last] == char { open.removeLast() }
                current.append(char)
            } else if char == " " && open.isEmpty {
                words.append(current)
                current = ""
            } else {
                current.append(char)
            }
            index += 1
        }
        if !current.isEmpty { words.append(current) }
        words.removeAll { $0.isEmpty }
        if let operatorWord = words.firstIndex(where: { $0 == "operator" || $0.hasSuffix("::operator") }) {
            return words[operatorWord...].joined(separator: " ")
        }
        while words.count > 1, let last = words.last, last.hasPrefix("(") || last.hasPrefix("[clone") {
            let joined = words[words.count - 2] + " " + last
            words.removeLast(2)
            words.append(joined)
        }
        return words.last ?? function
    }

    /// Replaces each outermost `open…close` group with `replacement`, unless the group contains
    /// one of `keeping` or the text before it ends with one (then it stays as written).
    static func collapse(
        _ function: String, open: Character, close: Character, replacement: String, keeping: [String]
    ) -> String {
        let chars = Array(function)
        var out = ""
        var depth = 0
        var group = ""
        var index = 0
        while index < chars.count {
            let char = chars[index]
            if let length = operatorSymbolLength(chars, index) {
                let symbol = String(chars[index..<(index + length)])
                if depth == 0 { out += symbol } else { group += symbol }
                index += length
                continue
            }
            if depth == 0 {
                if char == open {
                    depth = 1
                    group = String(char)
                } else {
                    out.append(char)
                }
            } else {
                group.append(char)
                if char == open {
                    depth += 1
                } else if char == close {
                    depth -= 1
                    if depth == 0 { out += kept(group, after: out, keeping) ? group : replacement }
                }
            }
            index += 1
        }
        // An unclosed group (a truncated name) is treated like a closed one.
        if depth > 0 { out += kept(group, after: out, keeping) ? group : replacement }
        return out
    }

    static func kept(_ group: String, after text: String, _ keeping: [String]) -> Bool {
        keeping.contains { group.contains($0) || text.hasSuffix($0) }
    }

    /// No space before `*`, `&` or `,`; exactly one space after each comma.
    static func tidySpaces(_ function: String) -> String {
        var out = ""
        for char in function {
            if char == "*" || char == "&" || char == "," {
                while out.hasSuffix(" ") { out.removeLast() }
            }
            if out.hasSuffix(","), char != " " { out.append(" ") }
            out.append(char)
        }
        return out
    }
}

extension String {
    /// The string without leading and trailing spaces.
    func strippingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " { slice.removeFirst() }
        while slice.last == " " { slice.removeLast() }
        return String(slice)
    }
}
