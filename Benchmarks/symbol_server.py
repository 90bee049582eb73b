"""Benchmark: requests per second of `postmortem serve-symbols` and of nginx serving the same store
as static files, on loopback, measured with wrk: hits on an 86 KB PDB and a 6 KB PE, and misses; then the same through `serve-symbols --upstream`
proxying our server, once its cache holds the files and remembers the miss.

The store is published from the fixture's x64 PE and PDB files with `postmortem symstore add`.
Both servers use their defaults (ours logs every request to stderr, sent to /dev/null; nginx
writes its access log to a file), and wrk runs on the same two cores as the server it loads.

Run: swift build -c release --static-swift-stdlib --product postmortem
     python3 Benchmarks/symbol_server.py [--seconds N] [--connections N]
Needs wrk and nginx (Debian packages wrk, nginx-light).
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "generated", "pe", "x64")
POSTMORTEM = os.path.join(ROOT, ".build", "release", "postmortem")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

NGINX_CONFIG = """
daemon off;
user root;
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log {work}/nginx-access.log;
    client_body_temp_path {work}/client;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    sendfile on;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {store};
    }}
}}
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def wrk(url, seconds, connections):
    output = subprocess.run(
        [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rate, int(non2xx.group(1)) if non2xx else 0


def publish(store):
    files = [os.path.join(SOURCES, name) for name in ("fixture.exe", "fixture.pdb")]
    subprocess.run([POSTMORTEM, "symstore", "add", "-f", *files, "-s", store, "-t", "bench"],
                   check=True, stdout=subprocess.DEVNULL)
    paths = {}
    for folder, _, names in os.walk(store):
        for name in names:
            relative = os.path.relpath(os.path.join(folder, name), store)
            if name in ("fixture.exe", "fixture.pdb"):
                paths[name] = "/" + relative
    return paths


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="postmortem-serve-bench-") as work:
        store = os.path.join(work, "store")
        paths = publish(store)
        targets = [
            ("hit, 86 KB PDB", paths["fixture.pdb"]),
            ("hit, 6 KB PE", paths["fixture.exe"]),
            ("miss", "/missing.pdb/0123456789ABCDEF0123456789ABCDEF1/missing.pdb"),
        ]
        ours_port, nginx_port, proxy_port = free_port(), free_port(), free_port()
        config = os.path.join(work, "nginx.conf")
        with open(config, "w") as handle:
            handle.write(NGINX_CONFIG.format(work=work, port=nginx_port, store=store))
        servers = {
            "postmortem": subprocess.Popen(
                [POSTMORTEM, "serve-symbols", store, "--port", str(ours_port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            "nginx": subprocess.Popen([NGINX, "-c", config, "-p", work],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            # A caching proxy of our server, for its remembered misses and its cache hits.
            "proxy": subprocess.Popen(
                [POSTMORTEM, "serve-symbols", "--upstream", f"srv*{work}/cache*http://127.0.0.1:{ours_port}",
                 "--port", str(proxy_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        }
        try:
            wait_for(ours_port)
            wait_for(nginx_port)
            wait_for(proxy_port)
            print(f"wrk -t2 -c{args.connections} -d{args.seconds}s on 127.0.0.1, {os.cpu_count()} cores")
            for label, path in targets:
                rates = {}
                for name, port in (("postmortem", ours_port), ("nginx", nginx_port)):
                    rates[name] = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                ours, theirs = rates["postmortem"], rates["nginx"]
                print(f"{label:16} postmortem: {ours[0]:8.0f} req/s ({ours[1]} non-2xx)"
                      f"   nginx: {theirs[0]:8.0f} req/s ({theirs[1]} non-2xx)   ratio {ours[0] / theirs[0]:.2f}")
            for label, path in targets:
                # The first request fills the proxy's cache (or its memory of the miss).
                subprocess.run(["curl", "-s", "-o", os.devnull, f"http://127.0.0.1:{proxy_port}{path}"], check=False)
                rate, errors = wrk(f"http://127.0.0.1:{proxy_port}{path}", args.seconds, args.connections)
                print(f"{label:16} through the proxy (cached): {rate:8.0f} req/s ({errors} non-2xx)")
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
