"""Load benchmark: `postmortem serve` on loopback, SQLite and files under a temporary data folder.

Phase 1 runs `--role api` alone and posts Crashpad-style uploads (multipart, gzip, the fixture dumps)
from --clients concurrent connections for --seconds: accepted uploads per second, each acknowledged
only once durably stored. Phase 2 starts `--role worker` on the same data folder and times until the
queue is empty: processed dumps per second with the repository's symbols (warm after the first).
Printed, not asserted. Every request goes to 127.0.0.1 and both loops are bounded in time.
Run: python3 Benchmarks/serve.py [--seconds 10] [--clients 8] [--workers 2]
(after `swift build -c release --product postmortem`; falls back to the debug build; $POSTMORTEM_EXECUTABLE
overrides both).
"""
import argparse
import gzip
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
TOKEN = "benchmark-read-token-0123456789"


def executable():
    if os.environ.get("POSTMORTEM_EXECUTABLE"):
        return os.environ["POSTMORTEM_EXECUTABLE"]
    for build in ("release", "debug"):
        path = os.path.join(ROOT, ".build", build, "postmortem")
        if os.path.exists(path):
            return path
    sys.exit("build postmortem first: swift build -c release --product postmortem")


def dumps():
    found = [os.path.join(ROOT, "Tests", "Fixtures", "rust-minidump", "test.dmp")]
    for folder in (os.path.join(FIXTURES, "rust-minidump", "testdata"), os.path.join(FIXTURES, "generated", "dumps")):
        if os.path.isdir(folder):
            found += sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".dmp"))
    return [open(path, "rb").read() for path in found]


def crashpad_body(dump):
    """A body as Crashpad's uploader builds it: form fields, the dump as <uuid>.dmp, all gzip-compressed."""
    boundary = "---MultipartBoundary-" + uuid.uuid4().hex + "---"
    parts = []
    for name, value in (("guid", str(uuid.uuid4())), ("prod", "Bench"), ("ptype", "browser"), ("ver", "1.0")):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="upload_file_minidump"; '
                 f'filename="{uuid.uuid4()}.dmp"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode() + dump + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return gzip.compress(b"".join(parts)), f"multipart/form-data; boundary={boundary}"


def start(data, role, extra):
    process = subprocess.Popen(
        [executable(), "serve", "--data", data, "--port", "0", "--role", role, "--token", TOKEN + ":read",
         "--symbol-path", os.path.join(ROOT, "Tests", "Fixtures", "symbols")] + extra,
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    log = ""
    while time.time() < deadline:
        line = process.stderr.readline()
        log += line
        if not line:
            sys.exit(f"{executable()} serve exited (a build without `serve`?): {log}")
        match = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
        if match:
            # Keep draining the log so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, int(match.group(1))
    process.kill()
    sys.exit("postmortem serve did not start")


def metric(port, name):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics", headers={"Authorization": "Bearer " + TOKEN})
    text = connection.getresponse().read().decode()
    connection.close()
    return sum(float(value) for value in re.findall(r"^" + re.escape(name) + r"(?:\{[^}]*\})? (\S+)$", text, re.M))


def upload_phase(port, bodies, clients, seconds):
    accepted = [0] * clients
    refused = [0] * clients
    stop = time.time() + seconds

    def client(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        position = index
        while time.time() < stop:
            body, content_type = bodies[position % len(bodies)]
            position += 1
            connection.request("POST", "/submit", body=body, headers={
                "Content-Type": content_type, "Content-Encoding": "gzip"})
            response = connection.getresponse()
            answer = response.read()
            if response.status == 200 and answer.startswith(b"CrashID=bp-"):
                accepted[index] += 1
            else:
                refused[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    began = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(accepted), sum(refused), time.time() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    bodies = [crashpad_body(dump) for dump in dumps()]
    data = tempfile.mkdtemp(prefix="postmortem-serve-bench-")
    try:
        api, port = start(data, "api", [])
        try:
            accepted, refused, elapsed = upload_phase(port, bodies, arguments.clients, arguments.seconds)
        finally:
            api.terminate()
            api.wait()
        print(f"uploads: {accepted} accepted, {refused} refused in {elapsed:.1f} s with {arguments.clients} clients: "
              f"{accepted / elapsed:.0f} accepted uploads/s ({len(bodies)} distinct dumps, "
              f"{sum(len(b) for b, _ in bodies) // len(bodies)} bytes gzip on average)")

        worker, port = start(data, "worker", ["--workers", str(arguments.workers)])
        try:
            began = time.time()
            deadline = began + 600
            while time.time() < deadline and metric(port, "postmortem_queue_depth") > 0:
                time.sleep(0.2)
            elapsed = time.time() - began
            done = metric(port, "postmortem_reports_processed_total")
            failed = metric(port, "postmortem_processing_failures_total")
        finally:
            worker.terminate()
            worker.wait()
        print(f"processing: {done:.0f} processed, {failed:.0f} failures in {elapsed:.1f} s with {arguments.workers} "
              f"workers: {done / elapsed:.1f} processed dumps/s")
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
