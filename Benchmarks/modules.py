"""Benchmark: `postmortem modules` against the `minidump` package doing the same work.

Prints, for each dump, the median wall time and peak memory of whole processes, and each
tool's start-up alone (a run that parses nothing), so the parsing work can be compared too.
Run: .venv/bin/python3 Benchmarks/modules.py [--runs N] (after `swift build -c release`).
"""
import argparse
import os
import statistics
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
POSTMORTEM = os.path.join(ROOT, ".build", "release", "postmortem")
BENCH = os.path.join(ROOT, ".build", "release", "postmortem-bench")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python3")
ORACLE = os.path.join(ROOT, "Tests", "Oracles", "minidump_modules.py")


def measure(command, runs):
    """Median wall seconds and the largest peak RSS (KiB) over `runs` runs, via GNU time."""
    times, peaks = [], []
    for _ in range(runs):
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M"] + command,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
        )
        seconds, kib = result.stderr.strip().splitlines()[-1].split()
        times.append(float(seconds))
        peaks.append(int(kib))
    return statistics.median(times), max(peaks)


def measure_precise(command, runs):
    """Median wall seconds measured by Python's clock (GNU time rounds to 10 ms)."""
    import time
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def python_in_process(path, runs, with_output):
    """Median microseconds of the minidump package parsing `path` (and printing JSON, with_output)."""
    import contextlib
    import io
    import time
    sys.path.insert(0, os.path.dirname(ORACLE))
    import minidump_modules  # installs the unknown-stream tolerance the oracle needs
    from minidump.minidumpfile import MinidumpFile
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        if with_output:
            with contextlib.redirect_stdout(io.StringIO()):
                minidump_modules.main(path)
        else:
            dump = MinidumpFile.parse(path)
            [(m.name, m.baseaddress, m.size, m.timestamp, m.checksum) for m in dump.modules.modules]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def ours_in_process(mode, path, runs):
    out = subprocess.run([BENCH, mode, path, str(runs)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def big_dump(path, megabytes=8):
    """test.dmp with `megabytes` of captured memory appended, as a Memory64List in an unused directory slot."""
    with open(os.path.join(FIXTURES, "rust-minidump", "testdata", "test.dmp"), "rb") as handle:
        data = bytearray(handle.read())
    count, directory = struct.unpack_from("<II", data, 8)
    slot = next(i for i in range(count) if struct.unpack_from("<I", data, directory + 12 * i)[0] == 0)
    size = megabytes << 20
    stream_offset = len(data)
    memory_offset = stream_offset + 16 + 16
    stream = struct.pack("<QQQQ", 1, memory_offset, 0x1000_0000, size)
    struct.pack_into("<III", data, directory + 12 * slot, 9, len(stream), stream_offset)
    data += stream
    data += bytes(range(256)) * (size // 256)
    with open(path, "wb") as handle:
        handle.write(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    if not (os.path.exists(POSTMORTEM) and os.path.exists(BENCH)):
        sys.exit("build first: swift build -c release --static-swift-stdlib --product postmortem "
                 "&& swift build -c release --static-swift-stdlib --product postmortem-bench")
    workdir = tempfile.mkdtemp()
    big = os.path.join(workdir, "test-8mb.dmp")
    big_dump(big)
    dumps = [
        ("test.dmp (11 KB, x86)", os.path.join(FIXTURES, "rust-minidump/testdata/test.dmp")),
        ("linux_inline.dmp", os.path.join(FIXTURES, "breakpad/src/processor/testdata/linux_inline.dmp")),
        ("x64-dll-inproc-cv.dmp (Wine)", os.path.join(FIXTURES, "generated/dumps/x64-dll-inproc-cv.dmp")),
        ("test-8mb.dmp (8 MB memory)", big),
    ]
    ours_start = measure_precise([POSTMORTEM, "--version"], args.runs)
    py_start = measure_precise([PYTHON, "-c", "import minidump.minidumpfile, json, uuid"], args.runs)
    _, ours_start_mem = measure([POSTMORTEM, "--version"], 3)
    _, py_start_mem = measure([PYTHON, "-c", "import minidump.minidumpfile, json, uuid"], 3)
    print(f"start-up alone: postmortem {ours_start * 1000:.1f} ms ({ours_start_mem} KiB), "
          f"python+minidump {py_start * 1000:.1f} ms ({py_start_mem} KiB)")
    print()
    header = f"{'dump':32} {'postmortem':>12} {'minidump.py':>12} {'whole x':>8} {'parse ours':>11} {'parse py':>10} {'parse x':>8} {'peak ours':>10} {'peak py':>9}"
    print(header)
    print("-" * len(header))
    for name, path in dumps:
        ours = measure_precise([POSTMORTEM, "modules", "--json", path], args.runs)
        theirs = measure_precise([PYTHON, ORACLE, path], args.runs)
        _, ours_mem = measure([POSTMORTEM, "modules", "--json", path], 3)
        _, theirs_mem = measure([PYTHON, ORACLE, path], 3)
        ours_parse = max(ours - ours_start, 1e-5)
        theirs_parse = max(theirs - py_start, 1e-5)
        print(f"{name:32} {ours * 1000:10.1f}ms {theirs * 1000:10.1f}ms {theirs / ours:7.1f}x "
              f"{ours_parse * 1000:9.2f}ms {theirs_parse * 1000:8.1f}ms {theirs_parse / ours_parse:7.0f}x "
              f"{ours_mem:8}KiB {theirs_mem:7}KiB")
    print()
    print("parse = whole process minus that tool's start-up alone (median of", args.runs, "runs each).")
    print()
    print("In-process work (no start-up, no output), median of repeated runs:")
    header = f"{'dump':32} {'parse ours':>11} {'parse py':>10} {'x':>6} {'report ours':>12} {'report py':>10} {'x':>6}"
    print(header)
    print("-" * len(header))
    for name, path in dumps:
        ours_parse = ours_in_process("parse", path, 2000)
        py_parse = python_in_process(path, 200, with_output=False)
        ours_report = ours_in_process("modules", path, 2000)
        py_report = python_in_process(path, 200, with_output=True)
        print(f"{name:32} {ours_parse:9.1f}us {py_parse:8.0f}us {py_parse / ours_parse:5.0f}x "
              f"{ours_report:10.1f}us {py_report:8.0f}us {py_report / ours_report:5.0f}x")
    print("parse: open the dump and read its module list; report: also format every field "
          "(ours: the ModuleTable behind `modules --json`; py: the oracle script's JSON).")
    print()
    print("Peak memory of `postmortem modules --json` as the captured memory grows:")
    for megabytes in (1, 8, 64):
        path = os.path.join(workdir, f"test-{megabytes}mb.dmp")
        big_dump(path, megabytes)
        _, ours_mem = measure([POSTMORTEM, "modules", "--json", path], 3)
        _, theirs_mem = measure([PYTHON, ORACLE, path], 3)
        print(f"  {megabytes:3} MB: postmortem {ours_mem} KiB, minidump.py {theirs_mem} KiB")


if __name__ == "__main__":
    main()
