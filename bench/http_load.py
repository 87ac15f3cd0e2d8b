"""HTTP benchmark: throughput and p50/p99 latency of POST /v1/consult at several concurrencies, with 1
and 2 workers, plus resident memory per worker. Loopback only; every run is bounded in count and time.

Run: ``make bench-http`` (or ``.venv/bin/python bench/http_load.py [--seconds S] [--json FILE]``).
``--server-root DIR`` serves another checkout of compensa (e.g. a ``git worktree`` of an older
commit, to measure before/after a change with the same load); the line "server code:" shows
which files the server really imports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.run import TYPICAL, percentile  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def load(url: str, concurrency: int, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def worker(index: int):
            nonlocal counter, errors
            while time.monotonic() < deadline and counter < max_requests:
                counter += 1
                case = TYPICAL[(index + counter) % len(TYPICAL)]
                start = time.perf_counter()
                response = await client.post("/v1/consult", json=case)
                latencies.append((time.perf_counter() - start) * 1000)
                errors += response.status_code != 200

        began = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.monotonic() - began
    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors,
            "throughput_rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 99)}


def server_env(root: Path) -> dict:
    """The environment that makes ``python -m compensa`` (and its spawned workers) import ``root``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def server_code(root: Path) -> str:
    """Where the server's modules come from when run from ``root`` (to check which code is measured)."""
    probe = "import compensa.app.server as s, compensa.engine as e; print(s.__file__, e.__file__)"
    return subprocess.run([sys.executable, "-c", probe], cwd=root, env=server_env(root), capture_output=True,
                          text=True, check=True).stdout.strip()


def serve(workers: int, port: int, root: Path = ROOT, log: Path | None = None) -> subprocess.Popen:
    stderr = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-m", "compensa", "serve", "--workers", str(workers),
                                 "--port", str(port)], cwd=root, env=server_env(root), stdout=subprocess.DEVNULL,
                                stderr=stderr, start_new_session=True)
    finally:
        if log:
            stderr.close()


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def worker_pids(process: subprocess.Popen, workers: int) -> list[int]:
    """The processes that serve: the server itself, or its worker children (not the resource tracker)."""
    if workers == 1:
        return [process.pid]
    return [p for p in children(process.pid)
            if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]


def bench_workers(workers: int, root: Path, args) -> list[dict]:
    """Start a server with ``workers`` workers, load it at each concurrency, report rows; always stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(workers, port, root, args.server_log)
    rows = []
    try:
        wait_ready(url)
        time.sleep(1.0 if workers == 1 else 3.0)  # let every worker finish compiling
        asyncio.run(load(url, 4, 1.5, 400))      # warm-up (each worker builds its engines)
        for concurrency in (1, 8, 32):
            row = {"workers": workers, **asyncio.run(load(url, concurrency, args.seconds, args.max_requests))}
            rows.append(row)
            print(f"{workers:>7} {concurrency:>5} {row['requests']:>9} {row['errors']:>6} {row['throughput_rps']:>8.0f} "
                  f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f}")
        memory = [rss_mib(p) for p in worker_pids(process, workers)]
        print(f"        memory per worker (RSS after load): {', '.join(f'{m:.0f} MiB' for m in memory)}")
        rows.append({"workers": workers, "rss_mib": memory})
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each load run")
    parser.add_argument("--max-requests", type=int, default=20000, help="cap on requests per run")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--server-root", metavar="DIR", type=Path, default=ROOT,
                        help="checkout of compensa to serve (default: this one)")
    parser.add_argument("--server-log", metavar="FILE", type=Path, help="append the servers' stderr to FILE")
    args = parser.parse_args()
    root = args.server_root.resolve()
    print(f"compensa HTTP benchmark — {os.cpu_count()} cores, loopback, POST /v1/consult with typical cases")
    print(f"server code: {server_code(root)}")
    print(f"{'workers':>7} {'conc':>5} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    results = [row for workers in (1, 2) for row in bench_workers(workers, root, args)]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
