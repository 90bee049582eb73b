"""Benchmark: `postmortem analyze` (all threads) against lldb's `bt all` on the same dumps.

Both get the same binaries and symbols, and each dump is analyzed once before timing, so caches
(the OS page cache, downloaded symbols) are warm. Prints, per dump, the median whole-process wall
time over --runs runs and the peak resident memory, side by side, and the ratio.
Run: python3 Benchmarks/analyze.py [--runs N] (after `swift build -c release --static-swift-stdlib --product postmortem`,
the README's build: a dynamically linked runtime adds about 5 ms of start-up to every run).
"""
import argparse
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
POSTMORTEM = os.path.join(ROOT, ".build", "release", "postmortem")
GENERATED = os.path.join(FIXTURES, "generated")
WINE = os.path.join(GENERATED, "wine-x86_64-windows")
PE_X64 = os.path.join(GENERATED, "pe", "x64")
RUST = os.path.join(FIXTURES, "rust-minidump", "testdata")
KDLIB = os.path.join(FIXTURES, "kdlibcpp", "kdlib", "tests", "dumps")

# (name, dump, symbol path, executable path): what both tools are given.
CASES = [
    ("test.dmp (x86, .sym)", os.path.join(ROOT, "Tests", "Fixtures", "rust-minidump", "test.dmp"),
     os.path.join(ROOT, "Tests", "Fixtures", "symbols"), None),
    ("x64-dll-inproc-cv.dmp (x64, PDB+PE)", os.path.join(GENERATED, "dumps", "x64-dll-inproc-cv.dmp"), PE_X64,
     PE_X64 + ";" + WINE),
    ("x64-null-aedebug-cv.dmp (x64, PDB+PE)", os.path.join(GENERATED, "dumps", "x64-null-aedebug-cv.dmp"), PE_X64,
     PE_X64 + ";" + WINE),
    ("linux-mini.dmp (amd64, none)", os.path.join(RUST, "linux-mini.dmp"), None, None),
    ("pipeline-inlines-macos-segv.dmp (amd64, .sym)", os.path.join(RUST, "pipeline-inlines-macos-segv.dmp"),
     os.path.join(RUST, "symbols"), None),
    ("cv_allreg_amd64.dmp (x64, PDB)", os.path.join(KDLIB, "targetapp_test_cv_allreg_amd64",
                                                    "targetapp_test_cv_allreg_amd64.dmp"),
     os.path.join(KDLIB, "targetapp_test_cv_allreg_amd64"), None),
]


def lldb_command(dump, exe_path):
    """lldb from the Swift toolchain, with pyenv's Python 3.10 it was built against."""
    prefix = subprocess.run(["pyenv", "prefix", "3.10.13"], capture_output=True, text=True, check=True).stdout.strip()
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib"), PYTHONHOME=prefix)
    command = ["lldb", "--batch", "--no-lldbinit"]
    if exe_path:
        command += ["-o", "settings set target.exec-search-paths " + " ".join(exe_path.split(";"))]
    command += ["-o", "target create --core " + dump, "-o", "bt all"]
    return command, env


def postmortem_command(dump, symbol_path, exe_path):
    command = [POSTMORTEM, "analyze", dump, "--threads", "all"]
    if symbol_path:
        command += ["--symbol-path", symbol_path]
    if exe_path:
        command += ["--exe-path", exe_path]
    return command, dict(os.environ)


def measure(command, env, runs):
    """Median wall milliseconds (Python's clock) and peak RSS in MiB (GNU time) over `runs` runs."""
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    samples, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
        timed = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, check=True)
        peaks.append(int(timed.stderr.strip().splitlines()[-1]) / 1024)
    return statistics.median(samples) * 1000, max(peaks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'dump':48} {'postmortem ms':>14} {'MiB':>6} {'lldb ms':>9} {'MiB':>6} {'speedup':>8}")
    for name, dump, symbol_path, exe_path in CASES:
        if not os.path.exists(dump):
            print(f"{name:48} missing: {dump}")
            continue
        ours_ms, ours_mib = measure(*postmortem_command(dump, symbol_path, exe_path), args.runs)
        theirs_ms, theirs_mib = measure(*lldb_command(dump, exe_path), args.runs)
        print(f"{name:48} {ours_ms:14.1f} {ours_mib:6.1f} {theirs_ms:9.1f} {theirs_mib:6.1f} {theirs_ms / ours_ms:7.1f}x")


if __name__ == "__main__":
    main()
