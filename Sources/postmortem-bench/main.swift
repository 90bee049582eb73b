// Times the library's work in-process, without process start-up or output, for Benchmarks/*.py:
//   postmortem-bench parse DUMP [N]    open the file, read header, directory and module list (every
//                                      module's name, base, size, timestamp and checksum), close it
//   postmortem-bench modules DUMP [N]  the same plus the whole report `postmortem modules` prints
// Each prints the median microseconds of N runs (default 1000).
import Analysis
import BreakpadSymbols
import Foundation
import KernelDump
import Minidump
import PortableExecutable
import Symbolication

//   postmortem-bench pe ROUNDS FILE...  headers, debug directory and x64 unwind data of every file,
//                                        ROUNDS times; prints files per second
let arguments = CommandLine.arguments
if arguments.count >= 4, arguments[1] == "symbolize" {
    benchmarkSymbolize(symbols: arguments[2], addressFile: arguments[3], cacheFile: arguments.count > 4 ? arguments[4] : nil)
    exit(0)
}
//   postmortem-bench cache-frames CACHE ADDRESSES  every address's frames from a symbol cache, one JSON
//                                        line each (to check that a changed cache builder answers the same)
if arguments.count >= 4, arguments[1] == "cache-frames" {
    printCacheFrames(cache: arguments[2], addressFile: arguments[3])
    exit(0)
}
//   postmortem-bench cache-build PDB CACHE [N]  builds the symbol cache of PDB N times (for profilers)
if arguments.count >= 4, arguments[1] == "cache-build" {
    repeatCacheBuild(pdb: arguments[2], cacheFile: arguments[3], rounds: arguments.count > 4 ? Int(arguments[4]) ?? 1 : 1)
    exit(0)
}
//   postmortem-bench kernel-pages DUMP ADDRESSES physical|virtual  reads the 4 KiB page at each
//                                        address (hex, one per line); prints pages per second
if arguments.count >= 5, arguments[1] == "kernel-pages" {
    benchmarkKernelPages(path: arguments[2], addressFile: arguments[3], virtual: arguments[4] == "virtual")
    exit(0)
}
if arguments.count >= 4, arguments[1] == "pe" {
    benchmarkPE(rounds: max(1, Int(arguments[2]) ?? 1), paths: Array(arguments[3...]))
    exit(0)
}
guard arguments.count >= 3, ["parse", "modules"].contains(arguments[1]) else {
    print("usage: postmortem-bench parse|modules DUMP [ITERATIONS] | pe ROUNDS FILE...")
    exit(2)
}
let mode = arguments[1]
let path = arguments[2]
let iterations = arguments.count > 3 ? max(1, Int(arguments[3]) ?? 1000) : 1000

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

/// One timed unit of work: open the dump, read what the mode reads, and close it again.
///
/// The dump is released before this returns, so closing it (unmapping, freeing the module list) is
/// timed too, as the Python side's is. In `parse` mode every field the Python side reads from each
/// module (name, base, size, timestamp, checksum) is read here; the sum keeps the reads from being
/// optimized away.
@inline(never)
func parseOnce(table: Bool) throws -> (modules: Int, sum: Int) {
    let dump = try MinidumpFile(path: path)
    if table {
        return (ModuleTable(minidump: dump, path: path).modules.count, 0)
    }
    let modules = try dump.stream(ModuleList.self)?.modules ?? []
    var sum = 0
    for module in modules {
        sum &+= module.name.utf8.count &+ Int(truncatingIfNeeded: module.baseOfImage) &+ Int(module.sizeOfImage)
        sum &+= Int(module.timeDateStamp) &+ Int(module.checkSum)
    }
    return (modules.count, sum)
}

func run() throws -> (median: Double, modules: Int, sum: Int) {
    let clock = ContinuousClock()
    let table = mode == "modules"
    var samples = [Double]()
    samples.reserveCapacity(iterations)
    var count = 0
    var sum = 0
    for _ in 0..<iterations {
        let start = clock.now
        let result = try parseOnce(table: table)
        samples.append(microseconds(clock.now - start))
        count = result.modules
        sum &+= result.sum
    }
    samples.sort()
    return (samples[samples.count / 2], count, sum)
}

do {
    let result = try run()
    // The sum of the fields read is printed so that reading them cannot be optimized away.
    print(
        String(
            format: "%.2f us %@ (%d modules, median of %d, field sum %ld)", result.median, mode, result.modules, iterations,
            result.sum))
} catch {
    print("error: \(error)")
    exit(1)
}

/// Reads what a debugger needs from each PE: headers, debug directory (CodeView), the x64
/// function table and every unwind info it points to.
func benchmarkPE(rounds: Int, paths: [String]) {
    let clock = ContinuousClock()
    var unwindInfos = 0
    var failures = 0
    let start = clock.now
    for _ in 0..<rounds {
        for path in paths {
            do {
                let image = try PEImage(path: path)
                _ = try image.debugDirectory()
                _ = try image.codeView()
                if let table = try image.x64FunctionTable() {
                    for function in table.functions {
                        if (try? X64UnwindInfo(at: function.unwindInfoAddress, in: image)) != nil { unwindInfos += 1 }
                    }
                }
            } catch {
                failures += 1
            }
        }
    }
    let seconds = microseconds(clock.now - start) / 1e6
    let files = Double(rounds * paths.count)
    print(
        String(
            format: "%.0f files/s (%d files x %d rounds in %.3f s, %d unwind infos, %d failures)",
            files / seconds, paths.count, rounds, seconds, unwindInfos / rounds, failures / rounds))
}

/// Loads symbols (timing the load), then looks up every address of `addressFile` (hex RVAs, one per
/// line) and prints addresses per second. With a `.sym`, also builds a symbol cache into `cacheFile`,
/// maps it and times lookups through it.
func benchmarkSymbolize(symbols: String, addressFile: String, cacheFile: String?) {
    let clock = ContinuousClock()
    guard let text = try? String(contentsOfFile: addressFile, encoding: .utf8) else {
        print("cannot read \(addressFile)")
        exit(1)
    }
    let addresses = text.split(separator: "\n").compactMap { UInt64($0.hasPrefix("0x") ? $0.dropFirst(2) : $0[...], radix: 16) }
    func lookups(_ provider: any SymbolProvider, _ label: String) {
        var found = 0
        let start = clock.now
        for _ in 0..<10 {
            for address in addresses where !provider.frames(at: address).isEmpty { found += 1 }
        }
        let seconds = microseconds(clock.now - start) / 1e6
        print(
            String(
                format: "%@: %.0f addresses/s (%d of %d resolved)", label, Double(addresses.count * 10) / seconds, found / 10,
                addresses.count))
    }
    do {
        let start = clock.now
        let provider = try openSymbols(path: symbols)
        print(String(format: "load %@: %.1f ms", (symbols as NSString).lastPathComponent, microseconds(clock.now - start) / 1000))
        lookups(provider, symbols.hasSuffix(".sym") ? "sym" : "pdb")
        if let cacheFile {
            // From a PDB the cache is built through the .sym model: conversion plus serialization.
            let buildStart = clock.now
            let file: SymbolFile
            if let sym = provider as? BreakpadSymbolProvider {
                file = sym.file
            } else {
                file = try BreakpadConversion.symbolFile(pdbPath: symbols)
            }
            let bytes = SymbolCache.build(from: file)
            try Data(bytes).write(to: URL(fileURLWithPath: cacheFile))
            print(String(format: "cache build: %.1f ms (%d bytes)", microseconds(clock.now - buildStart) / 1000, bytes.count))
            let openStart = clock.now
            let cache = try SymbolCache(path: cacheFile)
            print(String(format: "cache open: %.3f ms", microseconds(clock.now - openStart) / 1000))
            lookups(cache, "cache")
        }
    } catch {
        print("error: \(error)")
        exit(1)
    }
}

/// Opens a kernel dump (timed), indexes its pages, then reads (copies out) the page at each address
/// of `addressFile`, through the page tables when `virtual`.
func benchmarkKernelPages(path: String, addressFile: String, virtual: Bool) {
    let clock = ContinuousClock()
    guard let text = try? String(contentsOfFile: addressFile, encoding: .utf8) else {
        print("cannot read \(addressFile)")
        exit(1)
    }
    let addresses = text.split(separator: "\n").compactMap { UInt64($0.hasPrefix("0x") ? $0.dropFirst(2) : $0[...], radix: 16) }
    do {
        let openStart = clock.now
        let dump = try KernelDumpFile(path: path)
        let physical = try dump.physicalMemory()
        let memory = try dump.virtualMemory(physical)
        let openMicroseconds = microseconds(clock.now - openStart)
        var read = 0
        var checksum: UInt64 = 0
        let start = clock.now
        for address in addresses {
            let page = virtual ? memory.read(address, count: 4096) : physical.read(physical: address, count: 4096)
            if let page {
                read += 1
                checksum &+= UInt64(page[Int(address & 0xFF8)])
            }
        }
        let seconds = microseconds(clock.now - start) / 1e6
        print(
            String(
                format: "open %.1f ms; %.0f pages/s (%d of %d read, %.3f s, checksum %llu)", openMicroseconds / 1000,
                Double(addresses.count) / seconds, read, addresses.count, seconds, checksum))
    } catch {
        print("error: \(error)")
        exit(1)
    }
}

/// Prints the frames the cache at `cache` gives for each address of `addressFile`, one JSON line each.
func printCacheFrames(cache path: String, addressFile: String) {
    guard let text = try? String(contentsOfFile: addressFile, encoding: .utf8), let cache = try? SymbolCache(path: path) else {
        print("cannot read \(path) or \(addressFile)")
        exit(1)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    for word in text.split(separator: "\n") {
        guard let address = UInt64(word.hasPrefix("0x") ? word.dropFirst(2) : word[...], radix: 16) else { continue }
        let line = (try? encoder.encode(cache.frames(at: address))).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        print("\(word) \(line)")
    }
}

/// Builds the symbol cache of `pdb` `rounds` times, writing the last into `cacheFile`; prints the median.
func repeatCacheBuild(pdb: String, cacheFile: String, rounds: Int) {
    let clock = ContinuousClock()
    var times = [Double]()
    var bytes = [UInt8]()
    do {
        for _ in 0..<max(1, rounds) {
            let start = clock.now
            bytes = SymbolCache.build(from: try BreakpadConversion.symbolFile(pdbPath: pdb))
            times.append(microseconds(clock.now - start))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: cacheFile))
    } catch {
        print("error: \(error)")
        exit(1)
    }
    times.sort()
    print(
        String(
            format: "cache build: median %.2f ms, min %.2f ms of %d", times[times.count / 2] / 1000, times[0] / 1000, times.count)
    )
}
