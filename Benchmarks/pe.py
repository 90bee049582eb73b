"""Benchmark: reading every PE in the fixtures (headers, debug directory, x64 unwind table)
with Postmortem's reader and with pefile, side by side. Prints files per second.

Run: swift build -c release --static-swift-stdlib --product postmortem-bench
     .venv/bin/python3 Benchmarks/pe.py [--rounds N]
"""
import argparse
import os
import subprocess
import time

import pefile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
BENCH = os.path.join(ROOT, ".build", "release", "postmortem-bench")


def pe_files():
    found = []
    for folder, _, names in os.walk(FIXTURES):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                head = handle.read(0x400)
            if head[:2] != b"MZ" or len(head) < 0x40:
                continue
            offset = int.from_bytes(head[0x3C:0x40], "little")
            with open(path, "rb") as handle:
                handle.seek(offset)
                if handle.read(4) == b"PE\0\0":
                    found.append(path)
    return sorted(found)


def pefile_rate(paths, rounds):
    wanted = [pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"], pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXCEPTION"]]
    unwind = 0
    start = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            pe = pefile.PE(path, fast_load=True)
            pe.parse_data_directories(directories=wanted)
            unwind += len(getattr(pe, "DIRECTORY_ENTRY_EXCEPTION", []))
            pe.close()
    seconds = time.perf_counter() - start
    return rounds * len(paths) / seconds, unwind // rounds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = pe_files()
    total = sum(os.path.getsize(p) for p in paths)
    print(f"{len(paths)} PE files in the fixtures, {total / 1e6:.1f} MB")
    ours = subprocess.run([BENCH, "pe", str(args.rounds * 20)] + paths, capture_output=True, text=True, check=True).stdout.strip()
    rate, unwind = pefile_rate(paths, args.rounds)
    print(f"postmortem: {ours}")
    print(f"pefile:     {rate:.0f} files/s ({unwind} unwind entries per round)")
    ours_rate = float(ours.split()[0])
    print(f"ratio:      {ours_rate / rate:.0f}x")


if __name__ == "__main__":
    main()
