/// A regular expression from a signature list, matched the way Socorro's Python `re.match` does:
/// anchored at the start of the frame, any text may follow the match.
///
/// The lists are compiled at every run of `analyze`, and ICU's engine (NSRegularExpression) spends
/// longer initializing itself than the whole walk of a small dump takes; the lists need only a
/// small part of the syntax. Matching simulates all paths of the expression at once (a Thompson
/// NFA), so time grows with pattern size times frame length and a hostile list cannot make it
/// backtrack for ever.
///
/// Supported: literals and escaped metacharacters, `.`, classes (`[a-z_]`, `[^…]`, with escapes),
/// `\d \D \w \W \s \S`, `\n \t \r \f \v \xHH`, anchors `^ $ \A \Z \b \B`, groups `(…)` and `(?:…)`,
/// alternation, and the quantifiers `* + ? {n} {n,} {n,m}` with their lazy forms. Lookaround,
/// backreferences and inline flags are refused with an error rather than misread.
struct SignatureRegex: Sendable {
    /// One step of the compiled program.
    enum Instruction: Sendable {
        /// Consume one scalar in the set.
        case scalar(ScalarSet)
        /// Continue at both targets.
        case split(Int, Int)
        /// Continue at the target.
        case jump(Int)
        /// Succeed only at the given kind of position.
        case assert(Assertion)
        /// The expression has matched.
        case match
    }

    /// A zero-width condition on the position.
    enum Assertion: Sendable {
        case textStart, lineEnd, textEnd, wordBoundary, notWordBoundary
    }

    /// Scalars one step may consume.
    struct ScalarSet: Sendable {
        var ranges: [ClosedRange<UInt32>] = []
        var classes: [ScalarClass] = []
        var negated = false

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            var found = ranges.contains { $0.contains(value) }
            if !found { found = classes.contains { $0.contains(scalar) } }
            return found != negated
        }
    }

    /// The predefined classes (`\d`, `\w`, `\s`, `.`), each possibly negated.
    enum ScalarClass: Sendable {
        case digit(Bool), word(Bool), space(Bool), anyButNewline

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            switch self {
            case .digit(let negated): return SignatureRegex.isDigit(scalar) != negated
            case .word(let negated): return SignatureRegex.isWord(scalar) != negated
            case .space(let negated): return SignatureRegex.isSpace(scalar) != negated
            case .anyButNewline: return scalar != "\n"
            }
        }
    }

    /// The most instructions one expression may compile to (counted repetitions multiply).
    static let maximumProgramSize = 20_000

    /// The expression as written.
    let source: String
    let program: [Instruction]

    /// Parses and compiles `source`, or says what is wrong with it and where.
    init(_ source: String) throws(SignatureRegexError) {
        self.source = source
        var parser = Parser(Array(source.unicodeScalars))
        let tree = try parser.parseWhole()
        var compiler = Compiler()
        try compiler.emit(tree)
        compiler.program.append(.match)
        program = compiler.program
    }

    /// Whether the expression matches a prefix of `text` (possibly all of it, possibly none).
    func matchesPrefix(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        var current = [Int]()
        var next = [Int]()
        // The generation in which each instruction was last added, so a thread is added once per position.
        var seen = [Int](repeating: -1, count: program.count)
        var pending = [Int]()

        func add(_ start: Int, at position: Int, to list: inout [Int]) -> Bool {
            pending.append(start)
            while let pc = pending.popLast() {
                guard seen[pc] != position else { continue }
                seen[pc] = position
                switch program[pc] {
                case .match:
                    pending.removeAll()
                    return true
                case .jump(let target):
                    pending.append(target)
                case .split(let first, let second):
                    // Popped last-in first-out: push the second so the first is explored first.
                    pending.append(second)
                    pending.append(first)
                case .assert(let assertion):
                    if holds(assertion, at: position, in: scalars) { pending.append(pc + 1) }
                case .scalar:
                    list.append(pc)
                }
            }
            return false
        }

        if add(0, at: 0, to: &current) { return true }
        var position = 0
        while position < scalars.count, !current.isEmpty {
            let scalar = scalars[position]
            next.removeAll(keepingCapacity: true)
            for pc in current {
                guard case .scalar(let set) = program[pc], set.contains(scalar) else { continue }
                if add(pc + 1, at: position + 1, to: &next) { return true }
            }
            swap(&current, &next)
            position += 1
        }
        return false
    }

    private func holds(_ assertion: Assertion, at position: Int, in scalars: [Unicode.Scalar]) -> Bool {
        switch assertion {
        case .textStart: return position == 0
        case .textEnd: return position == scalars.count
        case .lineEnd:
            // Python's `$` without MULTILINE: the end, or just before a newline that ends the text.
            return position == scalars.count || (position == scalars.count - 1 && scalars[position] == "\n")
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && Self.isWord(scalars[position - 1])
            let after = position < scalars.count && Self.isWord(scalars[position])
            return (before != after) == (assertion == .wordBoundary)
        }
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.numericType == .decimal
    }

    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }
}

/// Why a signature-list expression was refused.
struct SignatureRegexError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    var reason: String
    /// The 0-based scalar position in the pattern where it was noticed.
    var position: Int

    var description: String { "\(reason) at position \(position)" }
}

extension SignatureRegex {
    /// The parsed expression.
    indirect enum Node {
        case empty
        case set(ScalarSet)
        case assert(Assertion)
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, minimum: Int, maximum: Int?)
    }

    /// Recursive descent over the pattern's scalars.
    struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0
        var depth = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        mutating func parseWhole() throws(SignatureRegexError) -> Node {
            let node = try parseAlternation()
            if position < scalars.count {
                throw SignatureRegexError(reason: "unbalanced parenthesis", position: position)
            }
            return node
        }

        private var atEnd: Bool { position >= scalars.count }
        private var current: Unicode.Scalar? { atEnd ? nil : scalars[position] }

        private mutating func parseAlternation() throws(SignatureRegexError) -> Node {
            var branches = [try parseSequence()]
            while current == "|" {
                position += 1
                branches.append(try parseSequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        private mutating func parseSequence() throws(SignatureRegexError) -> Node {
            var items = [Node]()
            while let scalar = current, scalar != "|", scalar != ")" {
                let atomStart = position
                var atom = try parseAtom()
                if let (minimum, maximum) = try parseQuantifier() {
                    if case .assert = atom {
                        throw SignatureRegexError(reason: "nothing to repeat", position: atomStart)
                    }
                    // Python reads `a*+` as a possessive quantifier, which can change what matches.
                    let second = position
                    if try parseQuantifier() != nil {
                        throw SignatureRegexError(
                            reason: "multiple repeat (possessive quantifiers are not supported)", position: second)
                    }
                    atom = .repetition(atom, minimum: minimum, maximum: maximum)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .sequence(items))
        }

        /// A quantifier after an atom, with its lazy `?` consumed (laziness does not change whether a prefix matches).
        private mutating func parseQuantifier() throws(SignatureRegexError) -> (Int, Int?)? {
            guard let scalar = current else { return nil }
            var bounds: (Int, Int?)
            switch scalar {
            case "*": bounds = (0, nil)
            case "+": bounds = (1, nil)
            case "?": bounds = (0, 1)
            case "{":
                guard let counted = try countedBounds() else { return nil }
                bounds = counted
                if current == "?" { position += 1 }
                return bounds
            default: return nil
            }
            position += 1
            if current == "?" { position += 1 }
            return bounds
        }

        /// `{n}`, `{n,}`, `{,m}`, `{n,m}`; nil (a literal brace, as in Python) for anything else.
        private mutating func countedBounds() throws(SignatureRegexError) -> (Int, Int?)? {
            var cursor = position + 1
            func number() -> Int? {
                var value: Int?
                while cursor < scalars.count, let digit = Int(String(scalars[cursor])), scalars[cursor].isASCII {
                    value = min((value ?? 0) * 10 + digit, 100_000)
                    cursor += 1
                }
                return value
            }
            let low = number()
            var high: Int?
            var hasComma = false
            if cursor < scalars.count, scalars[cursor] == "," {
                hasComma = true
                cursor += 1
                high = number()
            }
            guard cursor < scalars.count, scalars[cursor] == "}", low != nil || hasComma else { return nil }
            let minimum = low ?? 0
            let maximum = hasComma ? high : minimum
            if let maximum, maximum < minimum {
                throw SignatureRegexError(reason: "min repeat greater than max repeat", position: position)
            }
            position = cursor + 1
            return (minimum, maximum)
        }

        private mutating func parseAtom() throws(SignatureRegexError) -> Node {
            let start = position
            let scalar = scalars[position]
            position += 1
            switch scalar {
            case "(":
                if current == "?" {
                    guard position + 1 < scalars.count, scalars[position + 1] == ":" else {
                        throw SignatureRegexError(
                            reason: "unsupported group (lookaround, named groups and inline flags are not supported)",
                            position: start)
                    }
                    position += 2
                }
                depth += 1
                guard depth <= 200 else { throw SignatureRegexError(reason: "groups nested too deeply", position: start) }
                let inner = try parseAlternation()
                depth -= 1
                guard current == ")" else {
                    throw SignatureRegexError(reason: "missing ), unterminated subpattern", position: start)
                }
                position += 1
                return inner
            case "*", "+", "?":
                throw SignatureRegexError(reason: "nothing to repeat", position: start)
            case "{":
                position = start
                let counted = try countedBounds()
                guard counted == nil else { throw SignatureRegexError(reason: "nothing to repeat", position: start) }
                position = start + 1
                return .set(ScalarSet(ranges: [scalar.value...scalar.value]))
            case ".": return .set(ScalarSet(classes: [.anyButNewline]))
            case "^": return .assert(.textStart)
            case "$": return .assert(.lineEnd)
            case "[": return .set(try parseClass(start: start))
            case "\\": return try parseEscape(start: start, inClass: false)
            default: return .set(ScalarSet(ranges: [scalar.value...scalar.value]))
            }
        }

        private mutating func parseEscape(start: Int, inClass: Bool) throws(SignatureRegexError) -> Node {
            guard let scalar = current else { throw SignatureRegexError(reason: "bad escape (end of pattern)", position: start) }
            position += 1
            func literal(_ value: UInt32) -> Node { .set(ScalarSet(ranges: [value...value])) }
            switch scalar {
            case "d": return .set(ScalarSet(classes: [.digit(false)]))
            case "D": return .set(ScalarSet(classes: [.digit(true)]))
            case "w": return .set(ScalarSet(classes: [.word(false)]))
            case "W": return .set(ScalarSet(classes: [.word(true)]))
            case "s": return .set(ScalarSet(classes: [.space(false)]))
            case "S": return .set(ScalarSet(classes: [.space(true)]))
            case "n": return literal(0x0A)
            case "t": return literal(0x09)
            case "r": return literal(0x0D)
            case "f": return literal(0x0C)
            case "v": return literal(0x0B)
            case "a": return literal(0x07)
            case "b" where inClass: return literal(0x08)
            case "x":
                guard position + 2 <= scalars.count,
                    let value = UInt32(String(String.UnicodeScalarView(scalars[position..<position + 2])), radix: 16)
                else { throw SignatureRegexError(reason: "incomplete escape \\x", position: start) }
                position += 2
                return literal(value)
            case "A" where !inClass: return .assert(.textStart)
            case "Z" where !inClass: return .assert(.textEnd)
            case "b": return .assert(.wordBoundary)
            case "B" where !inClass: return .assert(.notWordBoundary)
            default:
                // Python refuses unknown letter and digit escapes (backreferences among them); any
                // other escaped character stands for itself.
                if scalar.properties.isAlphabetic || Self.isASCIIDigit(scalar) {
                    throw SignatureRegexError(reason: "unsupported escape \\\(scalar)", position: start)
                }
                return literal(scalar.value)
            }
        }

        private static func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { (0x30...0x39).contains(scalar.value) }

        private mutating func parseClass(start: Int) throws(SignatureRegexError) -> ScalarSet {
            var set = ScalarSet()
            if current == "^" {
                set.negated = true
                position += 1
            }
            var first = true
            while true {
                guard let scalar = current else {
                    throw SignatureRegexError(reason: "unterminated character set", position: start)
                }
                if scalar == "]" && !first {
                    position += 1
                    return set
                }
                first = false
                let itemStart = position
                let low: UInt32
                position += 1
                if scalar == "\\" {
                    switch try parseEscape(start: itemStart, inClass: true) {
                    case .set(let escaped) where escaped.classes.isEmpty && escaped.ranges.count == 1:
                        low = escaped.ranges[0].lowerBound
                    case .set(let escaped):
                        set.classes += escaped.classes
                        continue
                    default:
                        throw SignatureRegexError(reason: "bad escape in character set", position: itemStart)
                    }
                } else {
                    low = scalar.value
                }
                // A range, unless the `-` is the set's last character.
                if current == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                    position += 1
                    let highStart = position
                    let highScalar = scalars[position]
                    position += 1
                    var high = highScalar.value
                    if highScalar == "\\" {
                        guard case .set(let escaped) = try parseEscape(start: highStart, inClass: true),
                            escaped.classes.isEmpty, escaped.ranges.count == 1
                        else { throw SignatureRegexError(reason: "bad character range", position: itemStart) }
                        high = escaped.ranges[0].lowerBound
                    }
                    guard low <= high else { throw SignatureRegexError(reason: "bad character range", position: itemStart) }
                    set.ranges.append(low...high)
                } else {
                    set.ranges.append(low...low)
                }
            }
        }
    }

    /// Turns the tree into the program the matcher runs.
    struct Compiler {
        var program = [Instruction]()

        private mutating func append(_ instruction: Instruction) throws(SignatureRegexError) -> Int {
            guard program.count < SignatureRegex.maximumProgramSize else {
                throw SignatureRegexError(reason: "expression too large once repetitions are expanded", position: 0)
            }
            program.append(instruction)
            return program.count - 1
        }

        mutating func emit(_ node: Node) throws(SignatureRegexError) {
            switch node {
            case .empty:
                break
            case .set(let set):
                _ = try append(.scalar(set))
            case .assert(let assertion):
                _ = try append(.assert(assertion))
            case .sequence(let items):
                for item in items { try emit(item) }
            case .alternation(let branches):
                var jumps = [Int]()
                for (index, branch) in branches.enumerated() {
                    if index == branches.count - 1 {
                        try emit(branch)
                    } else {
                        let split = try append(.split(program.count + 1, -1))
                        try emit(branch)
                        jumps.append(try append(.jump(-1)))
                        program[split] = .split(split + 1, program.count)
                    }
                }
                for jump in jumps { program[jump] = .jump(program.count) }
            case .repetition(let body, let minimum, let maximum):
                for _ in 0..<minimum { try emit(body) }
                if let maximum {
                    // Each optional copy may be skipped, which skips the rest too.
                    var splits = [Int]()
                    for _ in minimum..<maximum {
                        splits.append(try append(.split(program.count + 1, -1)))
                        try emit(body)
                    }
                    for split in splits { program[split] = .split(split + 1, program.count) }
                } else {
                    let loop = try append(.split(program.count + 1, -1))
                    try emit(body)
                    _ = try append(.jump(loop))
                    program[loop] = .split(loop + 1, program.count)
                }
            }
        }
    }
}
