import BinaryReading
import BreakpadSymbols
import PortableExecutable

/// STACK CFI records from x64 `UNWIND_INFO`, one `STACK CFI INIT` per `RUNTIME_FUNCTION`.
///
/// Like Mozilla's dump_syms, each record states the rules in force after the whole prolog
/// (chained parents included) for the function's entire range: Breakpad's and Mozilla's
/// golden files both apply the post-prolog state from the first byte. The CFA is the entry
/// RSP + 8, so the return address is at `.cfa 8 -`.
enum X64CFIConversion {
    /// The CFI records of `image`, and one warning per function whose unwind data could not be read.
    static func records(_ image: PEImage) throws(ParseError) -> (records: [CFIRecord], warnings: [String]) {
        guard let table = try image.x64FunctionTable() else { return ([], []) }
        var records = [CFIRecord]()
        var warnings = [String]()
        records.reserveCapacity(table.functions.count)
        for function in table.functions where function.endAddress > function.beginAddress {
            let chain: [X64UnwindInfo]
            do {
                chain = try image.x64UnwindChain(for: function)
            } catch {
                warnings.append("RUNTIME_FUNCTION 0x\(String(function.beginAddress, radix: 16)): \(error)")
                continue
            }
            guard let rules = rules(chain) else {
                warnings.append("RUNTIME_FUNCTION 0x\(String(function.beginAddress, radix: 16)): machine frame, no CFI")
                continue
            }
            records.append(
                CFIRecord(
                    address: UInt64(function.beginAddress),
                    size: UInt64(function.endAddress - function.beginAddress), rules: rules))
        }
        return (records, warnings)
    }

    /// The rule string after every prolog operation of `chain` (primary first, as
    /// `x64UnwindChain` returns it), or nil when a machine frame makes the CFA not RSP-based.
    static func rules(_ chain: [X64UnwindInfo]) -> String? {
        // Offsets are relative to RSP at function entry.
        var rsp: Int64 = 0
        var frame: (register: X64Register, offset: Int64)?
        // Pushes are at known offsets from the entry RSP; MOV saves at offsets from the frame
        // base, which is the RSP after the whole prolog, or the frame register's value less
        // 16 × FrameOffset when there is one (Mozilla's dump_syms reads it so: a `mov [rsp+8],
        // rbx` before the first push gives `$rbx: .cfa 0 - ^` in dump_syms_regtest64.sym).
        var saved = [(register: X64Register, offset: Int64, fromBase: Bool)]()
        var frameBase: Int64?
        // The root parent's prolog ran first; codes are stored last operation first.
        for info in chain.reversed() {
            for code in info.codes.reversed() {
                switch code.operation {
                case .pushNonvolatile(let register):
                    rsp -= 8
                    saved.append((register, rsp, false))
                case .allocate(let size):
                    rsp -= Int64(size)
                case .setFramePointer:
                    if let register = info.frameRegister {
                        frame = (register, rsp + 16 * Int64(info.frameOffset))
                        frameBase = rsp
                    }
                case .saveNonvolatile(let register, let offset):
                    saved.append((register, Int64(offset), true))
                case .pushMachineFrame:
                    return nil
                case .saveXMM128, .epilog, .spare:
                    break
                }
            }
        }
        // CFA = entry RSP + 8.
        var text = ".cfa: "
        if let frame {
            text += "$" + frame.register.description.lowercased() + " " + signed(8 - frame.offset)
        } else {
            text += "$rsp " + signed(8 - rsp)
        }
        var seen = Set<X64Register>()
        let base = frameBase ?? rsp
        for entry in saved where seen.insert(entry.register).inserted {
            // Saved at entry RSP + offset = CFA + offset - 8.
            let offset = entry.fromBase ? base + entry.offset : entry.offset
            text += " $" + entry.register.description.lowercased() + ": .cfa " + signed(offset - 8) + " ^"
        }
        text += " .ra: .cfa 8 - ^"
        return text
    }

    /// `N +` or `N -` in postfix notation.
    static func signed(_ value: Int64) -> String {
        value >= 0 ? "\(value) +" : "\(value.magnitude) -"
    }
}
