"""Benchmark: publishing 500 distinct PE and PDB files with `postmortem symstore add` and with the
`symstore` PyPI package's command, plain and compressed, side by side. Prints files per second, and
the CPU time each tool spent (user + system), which separates their work from disk latency.

The 500 files are copies of the fixture's fixture.exe and fixture.pdb, each given its own key: a
PE's TimeDateStamp and a PDB's GUID (every copy of it in the file) are patched with a counter.

Run: swift build -c release --static-swift-stdlib --product postmortem
     .venv/bin/python3 Benchmarks/store.py [--files N] [--rounds N] [--symstore PATH]

The symstore package compresses through GCab (PyGObject), which pip does not install; for the
compressed figures give --symstore the command of a venv that sees Debian's python3-gi and
gir1.2-gcab-1.0, e.g. `/usr/bin/python3 -m venv --system-site-packages /tmp/symstore-gcab &&
/tmp/symstore-gcab/bin/pip install symstore==0.3.5`, then `--symstore /tmp/symstore-gcab/bin/symstore`.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "generated", "pe", "x64")
POSTMORTEM = os.path.join(ROOT, ".build", "release", "postmortem")
SYMSTORE = os.path.join(os.path.dirname(sys.executable), "symstore")
# fixture.pdb's GUID DE72AEE0-C823-4F21-4C4C-44205044422E as stored (Data1-3 little-endian).
PDB_GUID = bytes.fromhex("E0AE72DE23C8214F4C4C44205044422E")


def make_inputs(folder, count):
    with open(os.path.join(SOURCES, "fixture.exe"), "rb") as handle:
        exe = bytearray(handle.read())
    with open(os.path.join(SOURCES, "fixture.pdb"), "rb") as handle:
        pdb = bytearray(handle.read())
    stamp = int.from_bytes(exe[0x3C:0x40], "little") + 8
    guids = []
    start = pdb.find(PDB_GUID)
    while start >= 0:
        guids.append(start)
        start = pdb.find(PDB_GUID, start + 1)
    assert guids, "fixture.pdb has no GUID to patch"
    paths = []
    for index in range(count):
        number = (0x10000000 + index).to_bytes(4, "little")
        if index % 2 == 0:
            data = bytearray(exe)
            data[stamp:stamp + 4] = number
            name = "fixture.exe"
        else:
            data = bytearray(pdb)
            for offset in guids:
                data[offset:offset + 4] = number
            name = "fixture.pdb"
        path = os.path.join(folder, str(index), name)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    return paths


def timed(command):
    # Our publisher makes its files durable with one syncfs(2), which also waits for whatever else is
    # dirty on the file system: flush first, so no run pays for an earlier one's (or the other tool's)
    # writes. The symstore package never syncs; its writes are left for the kernel to flush later.
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{os.path.basename(command[0])} failed ({result.returncode}): {result.stderr[-800:]}")
    # CPU time (user + system, all threads) tells the work apart from waiting on the disk, whose
    # latency on a shared VM varies several-fold between runs.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def best_rate(command_for_store, work, count, rounds):
    best = None
    best_cpu = None
    for round_number in range(rounds):
        # Stores are kept until the end: ext4 looks through recently freed inodes when it allocates
        # new ones, so deleting 1,500 files between rounds slowed the next round of either tool
        # several-fold (kernel time in find_inode_bit/recently_deleted) and evened out the results.
        store = tempfile.mkdtemp(prefix=f"store-{round_number}-", dir=work)
        os.rmdir(store)
        seconds, cpu = timed(command_for_store(store))
        best = seconds if best is None else min(best, seconds)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return count / best, best, best_cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--symstore", default=SYMSTORE, help="the symstore package's command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="postmortem-store-bench-") as work:
        paths = make_inputs(os.path.join(work, "inputs"), args.files)
        size = sum(os.path.getsize(p) for p in paths)
        print(f"{len(paths)} files ({size / 1e6:.1f} MB), best of {args.rounds} rounds, new store each round")
        for compress in (False, True):
            ours = best_rate(
                lambda store: [POSTMORTEM, "symstore", "add", "-f", *paths, "-s", store, "-t", "bench"]
                + (["--compress"] if compress else []),
                work, len(paths), args.rounds)
            theirs = best_rate(
                lambda store: [args.symstore, *(["-z"] if compress else []), "-p", "bench", store, *paths],
                work, len(paths), args.rounds)
            label = "compressed" if compress else "plain"
            print(f"{label:10}  postmortem: {ours[0]:7.0f} files/s ({ours[1]:.2f} s, CPU {ours[2]:.2f} s)"
                  f"   symstore (PyPI): {theirs[0]:7.0f} files/s ({theirs[1]:.2f} s, CPU {theirs[2]:.2f} s)"
                  f"   ratio {ours[0] / theirs[0]:.1f}x, CPU ratio {theirs[2] / ours[2]:.1f}x")


if __name__ == "__main__":
    main()
