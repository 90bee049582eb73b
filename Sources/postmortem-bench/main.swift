// Times the library's work in-process, without process start-up or output, for Benchmarks/*.py:
//   postmortem-bench parse DUMP [N]    map the file, read header, directory and module list
//   postmortem-bench modules DUMP [N]  the same plus the whole report `postmortem modules` prints
// Each prints the median microseconds of N runs (default 1000).
import Analysis
import Foundation
import Minidump

let arguments = CommandLine.arguments
guard arguments.count >= 3, ["parse", "modules"].contains(arguments[1]) else {
    print("usage: postmortem-bench parse|modules DUMP [ITERATIONS]")
    exit(2)
}
let mode = arguments[1]
let path = arguments[2]
let iterations = arguments.count > 3 ? max(1, Int(arguments[3]) ?? 1000) : 1000

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func run() throws -> (median: Double, modules: Int) {
    let clock = ContinuousClock()
    var samples = [Double]()
    samples.reserveCapacity(iterations)
    var count = 0
    for _ in 0..<iterations {
        let start = clock.now
        let dump = try MinidumpFile(path: path)
        if mode == "parse" {
            count = try dump.stream(ModuleList.self)?.modules.count ?? 0
        } else {
            count = ModuleTable(minidump: dump, path: path).modules.count
        }
        samples.append(microseconds(clock.now - start))
    }
    samples.sort()
    return (samples[samples.count / 2], count)
}

do {
    let result = try run()
    print(String(format: "%.2f us %@ (%d modules, median of %d)", result.median, mode, result.modules, iterations))
} catch {
    print("error: \(error)")
    exit(1)
}
