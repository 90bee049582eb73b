import BreakpadSymbols

/// The Breakpad CFI rules in force at one address: for each register (and `.cfa`, `.ra`), the
/// postfix expression that recovers the caller's value from the callee's registers.
public struct CFIRuleSet: Sendable, Equatable {
    /// Rule expressions by register name as written (`.cfa`, `.ra`, `$rbx`, `x29`, `r4`).
    public private(set) var rules: [String: String] = [:]

    /// The INIT rules of `record` updated by every delta at or before `rva`.
    public init(record: CFIRecord, rva: UInt64) {
        add(record.rules)
        for delta in record.deltas where delta.address <= rva { add(delta.rules) }
    }

    /// Rules from one rule text.
    public init(text: String) { add(text) }

    private mutating func add(_ text: String) {
        var name: Substring?
        var expression = [Substring]()
        func flush() {
            if let name, !expression.isEmpty { rules[String(name)] = expression.joined(separator: " ") }
        }
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            if token.hasSuffix(":") {
                flush()
                name = token.dropLast()
                expression = []
            } else {
                expression.append(token)
            }
        }
        flush()
    }

    /// The caller's values: `.cfa`, `.ra` and every register with a rule, keyed by register index
    /// (`.cfa` and `.ra` by name in `cfa` and `returnAddress`). Nil when `.cfa` or `.ra` cannot be
    /// computed; a register whose rule fails is left out.
    public func recover(callee: RegisterSet, memory: any StackMemory) -> (
        cfa: UInt64, returnAddress: UInt64, registers: [Int: UInt64]
    )? {
        let architecture = callee.architecture
        var evaluator = PostfixEvaluator(memory: memory, wordSize: architecture.wordSize) { name in
            callee[name]
        }
        guard let cfaRule = rules[".cfa"], let cfa = evaluator.evaluate(cfaRule) else { return nil }
        evaluator.resolve = { name in name == ".cfa" ? cfa : callee[name] }
        guard let raRule = rules[".ra"], let returnAddress = evaluator.evaluate(raRule) else { return nil }
        var registers = [Int: UInt64]()
        for (name, rule) in rules where name != ".cfa" && name != ".ra" {
            guard let index = RegisterSet.index(of: name, in: architecture), let value = evaluator.evaluate(rule) else {
                continue
            }
            registers[index] = value
        }
        return (cfa, returnAddress, registers)
    }
}
