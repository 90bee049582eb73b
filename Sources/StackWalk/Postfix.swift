/// Evaluates the postfix expressions of Breakpad `STACK CFI` rules and `STACK WIN` FrameData programs.
///
/// Tokens are separated by blanks: numbers (decimal, optionally negative, or `0x` hex), names
/// (`$eip`, `.cfa`, `.raSearch`, `$T0`, bare register names), the binary operators `+ - * / % @`
/// (`@` aligns down: `a b @` is `a & ~(b - 1)`), `^` (read a word of memory) and `=` (assign).
/// Arithmetic wraps at the word size, so hostile programs cannot trap; a program's work is bounded
/// by its length.
public struct PostfixEvaluator {
    public let memory: any StackMemory
    public let wordSize: Int
    /// Looks up names not assigned by the program (registers, `.cfa`, `.cbParams`, ...).
    public var resolve: (Substring) -> UInt64?
    /// Names assigned by `=` so far.
    public private(set) var assigned: [String: UInt64] = [:]

    private enum Operand {
        case value(UInt64)
        case name(Substring)
    }

    public init(memory: any StackMemory, wordSize: Int, resolve: @escaping (Substring) -> UInt64?) {
        self.memory = memory
        self.wordSize = wordSize
        self.resolve = resolve
    }

    private var mask: UInt64 { wordSize == 4 ? 0xFFFF_FFFF : UInt64.max }

    /// The value of a name: assigned ones first, then `resolve`.
    public func value(of name: Substring) -> UInt64? {
        if let assigned = assigned[String(name)] { return assigned }
        return resolve(name)
    }

    /// Evaluates an expression that leaves exactly one value.
    public mutating func evaluate<S: StringProtocol>(_ expression: S) -> UInt64? {
        let tokens = expression.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return evaluate(tokens: tokens[...].map { Substring($0) })
    }

    /// Evaluates tokens that leave exactly one value.
    public mutating func evaluate(tokens: [Substring]) -> UInt64? {
        guard let stack = run(tokens: tokens), stack.count == 1 else { return nil }
        return operandValue(stack[0])
    }

    /// Runs a program of assignments (`$T0 $ebp = $eip $T0 4 + ^ = ...`); false when it fails.
    public mutating func execute<S: StringProtocol>(_ program: S) -> Bool {
        let tokens = program.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Substring($0) }
        guard let stack = run(tokens: tokens) else { return false }
        return stack.isEmpty
    }

    private func operandValue(_ operand: Operand) -> UInt64? {
        switch operand {
        case .value(let value): value
        case .name(let name): value(of: name)
        }
    }

    private mutating func run(tokens: [Substring]) -> [Operand]? {
        var stack = [Operand]()
        stack.reserveCapacity(8)
        for token in tokens {
            switch token {
            case "+", "-", "*", "/", "%", "@":
                guard stack.count >= 2, let b = operandValue(stack.removeLast()), let a = operandValue(stack.removeLast()) else {
                    return nil
                }
                let result: UInt64
                switch token {
                case "+": result = a &+ b
                case "-": result = a &- b
                case "*": result = a &* b
                case "/":
                    guard b & mask != 0 else { return nil }
                    result = (a & mask) / (b & mask)
                case "%":
                    guard b & mask != 0 else { return nil }
                    result = (a & mask) % (b & mask)
                default:
                    // Alignment only makes sense for powers of two.
                    guard b != 0, b & (b &- 1) == 0 else { return nil }
                    result = a & ~(b &- 1)
                }
                stack.append(.value(result & mask))
            case "^":
                guard let address = stack.popLast().flatMap(operandValue),
                    let word = memory.readWord(at: address & mask, size: wordSize)
                else { return nil }
                stack.append(.value(word))
            case "=":
                guard stack.count >= 2, let value = operandValue(stack.removeLast()), case .name(let name) = stack.removeLast()
                else { return nil }
                assigned[String(name)] = value
            default:
                if let number = Self.number(token) {
                    stack.append(.value(number & mask))
                } else {
                    stack.append(.name(token))
                }
            }
        }
        return stack
    }

    /// A decimal (optionally negative) or 0x-hex literal.
    static func number(_ token: Substring) -> UInt64? {
        guard let first = token.first, first == "-" || first.isNumber else { return nil }
        if token.hasPrefix("0x") || token.hasPrefix("0X") { return UInt64(token.dropFirst(2), radix: 16) }
        if first == "-" {
            guard let magnitude = UInt64(token.dropFirst()) else { return nil }
            return 0 &- magnitude
        }
        return UInt64(token)
    }
}
