import BinaryReading
import FuzzTargets

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if FUZZING
    // Built with -sanitize=fuzzer: libFuzzer supplies main and calls this for every input.
    // The target is chosen once, by POSTMORTEM_FUZZ_TARGET.
    nonisolated(unsafe) private var selected: ((ByteView) -> Void)?

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
        if selected == nil {
            let name = getenv("POSTMORTEM_FUZZ_TARGET").map { String(cString: $0) } ?? "minidump"
            guard let target = FuzzTargets.all[name] else {
                fatalError("unknown POSTMORTEM_FUZZ_TARGET \(name); known: \(FuzzTargets.all.keys.sorted())")
            }
            selected = target
        }
        let file = MappedFile(bytes: UnsafeBufferPointer(start: data, count: size))
        selected?(file.bytes)
        return 0
    }
#else
    /// Replays files through a fuzz target: `postmortem-fuzz TARGET FILE...`.
    @main
    struct FuzzReplay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard let name = arguments.first, let target = FuzzTargets.all[name] else {
                print("usage: postmortem-fuzz \(FuzzTargets.all.keys.sorted().joined(separator: "|")) FILE...")
                exit(2)
            }
            var count = 0
            for path in arguments.dropFirst() {
                guard let file = try? MappedFile(path: path) else {
                    print("cannot open \(path)")
                    exit(1)
                }
                target(file.bytes)
                count += 1
            }
            print("\(name): \(count) inputs replayed without a crash")
        }
    }
#endif
