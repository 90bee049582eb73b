"""Benchmark: symbolizing the same 10,000 addresses with Postmortem, llvm-symbolizer and symbolic.

Postmortem: from the PDB (address index), from the .sym, and from its symbol cache (mapped).
symbolic (PyPI): its symcache build time and lookups from the prebuilt cache.
llvm-symbolizer (the toolchain's): one process resolving all addresses; peak memory for both CLIs.
Run: swift build -c release --static-swift-stdlib --product postmortem-bench --product postmortem
     .venv/bin/python3 Benchmarks/symbolize.py
"""
import os
import random
import subprocess
import tempfile
import time

import symbolic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
BENCH = os.path.join(ROOT, ".build", "release", "postmortem-bench")
POSTMORTEM = os.path.join(ROOT, ".build", "release", "postmortem")
LLVM = "/opt/swift/usr/bin/llvm-symbolizer"
FOLDER = os.path.join(FIXTURES, "dump_syms", "test_data", "windows")
PDB = os.path.join(FOLDER, "dump_syms_regtest64.pdb")
EXE = os.path.join(FOLDER, "dump_syms_regtest64.exe")
SYM = os.path.join(FOLDER, "dump_syms_regtest64.sym")
IMAGE_BASE = 0x140000000


def addresses(count=10_000):
    """Random RVAs inside the FUNC records of the .sym dump_syms made from the same PDB."""
    ranges = []
    for line in open(SYM, encoding="utf-8"):
        if line.startswith("FUNC "):
            fields = line.split()
            if fields[1] == "m":
                fields = fields[1:]
            ranges.append((int(fields[1], 16), int(fields[2], 16)))
    rng = random.Random(42)
    return [start + rng.randrange(max(size, 1)) for start, size in (rng.choice(ranges) for _ in range(count))]


def peak_kib(command, stdin_text=None):
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, input=stdin_text, capture_output=True, text=True)
    return int(result.stderr.strip().splitlines()[-1])


def main():
    rvas = addresses()
    work = tempfile.mkdtemp()
    address_file = os.path.join(work, "addresses.txt")
    with open(address_file, "w") as handle:
        handle.write("\n".join("0x%x" % a for a in rvas))
    print(f"{len(rvas)} addresses in dump_syms_regtest64 (MSVC x64)\n")

    print("postmortem (in-process, postmortem-bench):")
    for symbols, cache in ((PDB, os.path.join(work, "regtest-pdb.pmcache")), (SYM, os.path.join(work, "regtest.pmcache"))):
        args = [BENCH, "symbolize", symbols, address_file] + ([cache] if cache else [])
        print("  " + subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip().replace("\n", "\n  "))

    print("\nsymbolic (PyPI):")
    start = time.perf_counter()
    archive = symbolic.Archive.open(PDB)
    obj = next(iter(archive.iter_objects()))
    cache = obj.make_symcache()
    print(f"  symcache build: {(time.perf_counter() - start) * 1000:.1f} ms")
    start = time.perf_counter()
    found = sum(1 for a in rvas if cache.lookup(a))
    seconds = time.perf_counter() - start
    print(f"  lookups from its symcache: {len(rvas) / seconds:.0f} addresses/s ({found} resolved)")

    print("\nwhole processes, all addresses at once:")
    absolute = "\n".join("0x%x" % (IMAGE_BASE + a) for a in rvas)
    start = time.perf_counter()
    subprocess.run([LLVM, "--obj=" + EXE, "--inlines"], input=absolute, capture_output=True, text=True, check=True)
    llvm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([POSTMORTEM, "symbolize", "--symbols", PDB, "--base", hex(IMAGE_BASE)], input=absolute,
                   capture_output=True, text=True, check=True)
    ours_seconds = time.perf_counter() - start
    llvm_peak = peak_kib([LLVM, "--obj=" + EXE, "--inlines"], absolute)
    ours_peak = peak_kib([POSTMORTEM, "symbolize", "--symbols", PDB, "--base", hex(IMAGE_BASE)], absolute)
    print(f"  llvm-symbolizer:       {len(rvas) / llvm_seconds:8.0f} addresses/s, peak {llvm_peak} KiB")
    print(f"  postmortem symbolize:  {len(rvas) / ours_seconds:8.0f} addresses/s, peak {ours_peak} KiB")


if __name__ == "__main__":
    main()
