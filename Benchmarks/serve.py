"""Load benchmark: `postmortem serve` on loopback, with SQLite and with PostgreSQL, files in a temporary data folder.

Phase 1 runs `--role api` alone and posts Crashpad-style uploads (multipart, gzip, the fixture dumps)
from --clients concurrent connections for --seconds: accepted uploads per second, each acknowledged
only once durably stored. Phase 2 starts `--role worker` on the same data folder and times until the
queue is empty: processed dumps per second with the repository's symbols (warm after the first).
Both phases run once per database: SQLite (<data>/postmortem.sqlite) and PostgreSQL (`--database`: the
server of --postgres-url, else a throwaway cluster on 127.0.0.1 made with the installed initdb and pg_ctl,
fsync on as in production). Printed, not asserted. Every request goes to 127.0.0.1 and both loops are
bounded in time.
Run: python3 Benchmarks/serve.py [--seconds 10] [--clients 8] [--workers 2] [--databases sqlite,postgres]
     [--isolation process|thread]
     [--postgres-url postgres://USER:PASSWORD@127.0.0.1:PORT/DB]
(after `swift build -c release --product postmortem`; falls back to the debug build; $POSTMORTEM_EXECUTABLE
overrides both).
"""
import argparse
import glob
import gzip
import http.client
import os
import pwd
import re
import shutil
import socket
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
        # --submit-rate 0: the per-client limit would otherwise measure itself, as all load comes from one address.
        [executable(), "serve", "--data", data, "--port", "0", "--role", role, "--token", TOKEN + ":read",
         "--submit-rate", "0", "--symbol-path", os.path.join(ROOT, "Tests", "Fixtures", "symbols")] + extra,
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


class ThrowawayPostgres:
    """A new PostgreSQL cluster in a temporary folder on 127.0.0.1 (as the `postgres` user when run as root)."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        if not found:
            sys.exit("PostgreSQL is not installed: apt-get install -y postgresql (or pass --postgres-url)")
        self.bin = os.path.dirname(found[-1])
        self.folder = tempfile.mkdtemp(prefix="postmortem-bench-pg-")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        with open(os.path.join(self.folder, "password"), "w") as file:
            file.write("bench")
        if os.getuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (self.folder, os.path.join(self.folder, "password")):
                os.chown(path, user.pw_uid, user.pw_gid)
        self.run("initdb", "-D", self.data, "-U", "bench", "--pwfile=" + os.path.join(self.folder, "password"),
                 "--auth=scram-sha-256", "-E", "UTF8", "--locale=C")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.folder}'\nmax_connections = 200\n")
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "log"), "-w", "start")
        self.url = f"postgres://bench:bench@127.0.0.1:{self.port}/postgres?sslmode=disable"

    @property
    def data(self):
        return os.path.join(self.folder, "data")

    def run(self, program, *arguments):
        command = [os.path.join(self.bin, program), *arguments]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        try:
            self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


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


def measure(label, database, bodies, arguments):
    """Both phases against one database: uploads to `--role api`, then a `--role worker` draining the queue."""
    data = tempfile.mkdtemp(prefix="postmortem-serve-bench-")
    try:
        api, port = start(data, "api", database)
        try:
            accepted, refused, elapsed = upload_phase(port, bodies, arguments.clients, arguments.seconds)
        finally:
            api.terminate()
            api.wait()
        print(f"{label} uploads: {accepted} accepted, {refused} refused in {elapsed:.1f} s with {arguments.clients} "
              f"clients: {accepted / elapsed:.0f} accepted uploads/s ({len(bodies)} distinct dumps, "
              f"{sum(len(b) for b, _ in bodies) // len(bodies)} bytes gzip on average)")

        worker, port = start(
            data, "worker", database + ["--workers", str(arguments.workers), "--isolation", arguments.isolation])
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
        print(f"{label} processing: {done:.0f} processed, {failed:.0f} failures in {elapsed:.1f} s with "
              f"{arguments.workers} workers, isolation {arguments.isolation}: {done / elapsed:.1f} processed dumps/s")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--isolation", default="process", choices=["process", "thread"],
                        help="where workers analyze: a child process per dump (the default of serve) or in-process")
    parser.add_argument("--postgres-url", help="an existing database to use (its tables are added to, not emptied)")
    arguments = parser.parse_args()
    bodies = [crashpad_body(dump) for dump in dumps()]
    for name in arguments.databases.split(","):
        if name == "sqlite":
            measure("sqlite", [], bodies, arguments)
        elif name == "postgres" and arguments.postgres_url:
            measure("postgres", ["--database", arguments.postgres_url], bodies, arguments)
        elif name == "postgres":
            server = ThrowawayPostgres()
            try:
                measure("postgres", ["--database", server.url], bodies, arguments)
            finally:
                server.stop()
        else:
            sys.exit(f"unknown database '{name}' (sqlite, postgres)")


if __name__ == "__main__":
    main()
