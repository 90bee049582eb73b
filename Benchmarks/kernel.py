"""Benchmark: kernel dump page reads, ours against kdmp-parser's Python API, and `postmortem verify`.

Builds a synthetic x64 full dump (PAGEDU64, DumpType 1) in a temporary folder: PAGES physical pages
of random bytes, plus 4-level page tables mapping 0xFFFF800000000000 + n * 4 KiB to page n. Then:
  - opening the dump, and reading (copying out) the 4 KiB page at each of READS random physical and
    virtual addresses: `postmortem-bench kernel-pages` in-process against kdmp-parser's
    `read_physical_page` / `read_virtual_page` (their Python loop's overhead is included);
  - `postmortem verify DUMP` as a whole process (median of RUNS), with the file size per second.
Figures are printed, not asserted. Run after `swift build -c release`:
  .venv/bin/python3 Benchmarks/kernel.py [--pages 65536] [--reads 10000] [--runs 3]
"""
import argparse
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSTMORTEM = os.path.join(ROOT, ".build", "release", "postmortem")
BENCH = os.path.join(ROOT, ".build", "release", "postmortem-bench")
VIRTUAL_BASE = 0xFFFF_8000_0000_0000
PAGE = 4096


def build_dump(path, pages):
    """Writes the dump; returns the number of pages in it (data pages plus page tables)."""
    assert pages <= 512 * 512, "one page directory maps at most 1 GiB"
    tables = 3 + (pages + 511) // 512
    pml4, pdpt, pd, first_pt = pages, pages + 1, pages + 2, pages + 3
    total = pages + tables
    header = bytearray(b"PAGE" * (0x2000 // 4))
    header[0:8] = b"PAGEDU64"
    struct.pack_into("<IIQ", header, 0x08, 0xF, 19041, pml4 * PAGE)  # versions, DirectoryTableBase
    struct.pack_into("<QQQ", header, 0x18, 0xFFFF_FA80_0000_0000, 0xFFFF_F800_0281_0000, 0xFFFF_F800_0282_0000)
    struct.pack_into("<II", header, 0x30, 0x8664, 1)  # MachineImageType, NumberProcessors
    struct.pack_into("<I4x4Q", header, 0x38, 0xE2, 0, 0, 0, 0)  # MANUALLY_INITIATED_CRASH
    struct.pack_into("<Q", header, 0x80, 0xFFFF_F800_0290_0000)  # KdDebuggerDataBlock
    struct.pack_into("<I4xQQQ", header, 0x88, 1, total, 0, total)  # one run of every page
    header[0x348:0x348 + 0x4D0] = bytes(0x4D0)  # CONTEXT: flags, MxCsr, Rsp, Rip
    struct.pack_into("<II", header, 0x348 + 0x30, 0x10_001F, 0x1F80)
    struct.pack_into("<I", header, 0x348 + 0x118, 0x1F80)  # kdmp-parser wants MxCsr == FltSave.MxCsr
    struct.pack_into("<Q", header, 0x348 + 0x98, VIRTUAL_BASE + 0x7F00)
    struct.pack_into("<Q", header, 0x348 + 0xF8, VIRTUAL_BASE + 0x1234)
    header[0xF00:0xF98] = bytes(0x98)  # EXCEPTION_RECORD64: a breakpoint at Rip
    struct.pack_into("<I4x8xQ", header, 0xF00, 0x8000_0003, VIRTUAL_BASE + 0x1234)
    struct.pack_into("<IIQQ", header, 0xF98, 1, 0, 0x2000 + total * PAGE, 0x01DA_0000_1234_5678)
    header[0xFB0:0x1030] = b"postmortem benchmark dump".ljust(128, b"\0")
    struct.pack_into("<Q", header, 0x1030, 36_000_000_000)
    with open(path, "wb") as out:
        out.write(header)
        left = pages
        while left:
            chunk = min(left, 8192)
            out.write(os.urandom(chunk * PAGE))
            left -= chunk
        def entry(pfn):
            return pfn << 12 | 0x3  # present, writable
        out.write(struct.pack("<Q", entry(pdpt)).rjust(256 * 8 + 8, b"\0").ljust(PAGE, b"\0"))  # PML4[256]
        out.write(struct.pack("<Q", entry(pd)).ljust(PAGE, b"\0"))  # PDPT[0]
        pt_count = tables - 3
        out.write(b"".join(struct.pack("<Q", entry(first_pt + n)) for n in range(pt_count)).ljust(PAGE, b"\0"))
        for n in range(pt_count):
            ptes = [entry(pfn) for pfn in range(n * 512, min(pages, (n + 1) * 512))]
            out.write(struct.pack("<%dQ" % len(ptes), *ptes).ljust(PAGE, b"\0"))
    return total


def ours(dump, addresses_file, mode):
    result = subprocess.run([BENCH, "kernel-pages", dump, addresses_file, mode], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def theirs(dump, addresses, virtual):
    import kdmp_parser
    start = time.perf_counter()
    parser = kdmp_parser.KernelDumpParser(dump)
    opened = time.perf_counter() - start
    read = parser.read_virtual_page if virtual else parser.read_physical_page
    count = 0
    checksum = 0
    start = time.perf_counter()
    for address in addresses:
        page = read(address)
        if page is not None:
            count += 1
            checksum += page[address & 0xFF8]
    seconds = time.perf_counter() - start
    return "open %.1f ms; %.0f pages/s (%d of %d read, %.3f s, checksum %d)" % (
        opened * 1000, len(addresses) / seconds, count, len(addresses), seconds, checksum)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=65536, help="data pages (4 KiB each)")
    parser.add_argument("--reads", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in (POSTMORTEM, BENCH):
        if not os.path.exists(tool):
            sys.exit("build first: swift build -c release (missing %s)" % tool)
    with tempfile.TemporaryDirectory(prefix="postmortem-kernel-bench-") as folder:
        dump = os.path.join(folder, "full.dmp")
        start = time.perf_counter()
        total = build_dump(dump, args.pages)
        size = os.path.getsize(dump)
        print("synthetic full dump: %d pages, %.0f MB, written in %.1f s" % (total, size / 1e6, time.perf_counter() - start))
        rng = random.Random(7)
        pfns = [rng.randrange(args.pages) for _ in range(args.reads)]
        for mode, addresses in (("physical", [p * PAGE for p in pfns]), ("virtual", [VIRTUAL_BASE + p * PAGE for p in pfns])):
            addresses_file = os.path.join(folder, mode + ".txt")
            with open(addresses_file, "w") as out:
                out.write("\n".join("0x%x" % a for a in addresses))
            print("%d random %s page reads:" % (args.reads, mode))
            print("  postmortem-bench: " + ours(dump, addresses_file, mode))
            print("  kdmp-parser:      " + theirs(dump, addresses, mode == "virtual"))
        samples = []
        status = None
        for _ in range(args.runs):
            start = time.perf_counter()
            status = subprocess.run([POSTMORTEM, "verify", dump], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            samples.append(time.perf_counter() - start)
        median = statistics.median(samples)
        print("postmortem verify (whole process, median of %d): %.3f s, %.0f MB/s, exit status %d" % (
            args.runs, median, size / 1e6 / median, status))


if __name__ == "__main__":
    main()
