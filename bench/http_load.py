"""HTTP benchmark: ``compensa serve`` with 1 and 2 workers on loopback, loaded by wrk (a real load
generator, Debian's ``wrk`` package), ``GET /healthz`` against ``POST /v1/consult`` with the bodies
drawn round-robin from every case of the case library (``kb/cases/*.yaml``, their ``case:`` part).

Run: ``make bench-http`` (installs wrk when it can), or
``.venv/bin/python bench/http_load.py [--seconds S] [--concurrency 1,8] [--workers 1,2] [--json FILE]``.

Every route is run ``--rounds`` times, healthz and consult alternating (so a change in the
machine's load hits both), and the medians are shown: req/s, p50 and p99 latency (wrk's own
histogram), non-2xx answers and socket errors (summed), and the **server CPU per request** (the
worker processes' user+system time during the run, from /proc, divided by the requests answered).
Then the consult/healthz throughput ratio per worker count and concurrency, and the consult time on
its own: the same cases consulted in one process by the same code (CPU time per case), so the
service's own cost per consultation (server CPU per consult request minus that) is shown apart
from the engine's. Nothing is asserted.

``--server-root DIR`` serves another checkout of compensa (e.g. a ``git worktree`` of an older
commit) with this load: a ``sitecustomize`` written to the run's temporary folder maps the
``compensa.*`` packages to that checkout in the server and its spawned workers; the line "server
code:" shows which files the server really imports. The wrk Lua script and the case bodies are
written to that temporary folder too; nothing is installed.

``--report-cache N`` serves with the optional whole-report cache (``compensa serve --report-cache
N``): with N at least the number of case bodies every consult request after the first round is a
hit, so the figures show what the cache buys a client that sends the same cases again. They are
printed with "report cache: N" and are not the speed targets' figures (those are with it off).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUTES = ("/healthz", "/v1/consult")
_TICK = os.sysconf("SC_CLK_TCK")

LUA = r"""-- written by bench/http_load.py: round-robin over the case bodies (one JSON document a line)
local route, bodies_path = [==[%(route)s]==], [==[%(bodies)s]==]
local reqs, n, i, started = {}, 0, 0, 0

function setup(thread)
  started = started + 1
  thread:set("offset", started - 1)
end

function init(args)
  if route == "/v1/consult" then
    local headers = {["Content-Type"] = "application/json"}
    for line in io.lines(bodies_path) do
      n = n + 1
      reqs[n] = wrk.format("POST", route, headers, line)
    end
  else
    n = 1
    reqs[1] = wrk.format("GET", route)
  end
  i = (offset or 0) * 37 %% n
end

function request()
  i = i %% n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "mean_us": %%.1f, "non_2xx": %%d, "socket_errors": %%d}\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), latency.max, latency.mean, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""

# Makes ``import compensa.<part>`` load from COMPENSA_BENCH_ROOT (the checkout under test) rather than
# the editable install of this one; written to the run's temporary folder, on the server's PYTHONPATH.
SITECUSTOMIZE = r'''
import importlib.util, os, sys, tomllib
_root = os.environ.get("COMPENSA_BENCH_ROOT")
if _root:
    with open(os.path.join(_root, "pyproject.toml"), "rb") as _f:
        _dirs = tomllib.load(_f)["tool"]["setuptools"]["package-dir"]

    class _CheckoutFinder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name not in _dirs:
                return None
            where = os.path.join(_root, _dirs[name])
            return importlib.util.spec_from_file_location(name, os.path.join(where, "__init__.py"),
                                                          submodule_search_locations=[where])

    sys.meta_path.insert(0, _CheckoutFinder)
'''

# Consult every case in one process with the server's code: the engine's own time, for comparison.
CONSULT_PROBE = r'''
import json, sys, time
from compensa.engine import Consultant, load_kb
cases = [json.loads(line) for line in open(sys.argv[1])]
consultant = Consultant(load_kb(), 4)
for case in cases:
    consultant.consult(case)
cpu, wall = time.thread_time(), time.perf_counter()
for _ in range(2):
    for case in cases:
        consultant.consult(case)
count = 2 * len(cases)
cpu_ms, wall_ms = (time.thread_time() - cpu) / count * 1e3, (time.perf_counter() - wall) / count * 1e3
out = {"cases": len(cases), "cpu_ms": cpu_ms, "wall_ms": wall_ms}
reports = [consultant.consult(case) for case in cases]
if all(hasattr(report, "data") for report in reports):  # an older checkout may have no typed record
    serialise = time.thread_time()
    for report in reports:  # the report's JSON, as the service writes it (from its typed record)
        report.data.model_dump_json(by_alias=True)
    out["serialise_ms"] = (time.thread_time() - serialise) / len(reports) * 1e3
print(json.dumps(out))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_bodies(root: Path) -> list[str]:
    """The ``case:`` part of every case file of the library, as compact JSON (one per file)."""
    import yaml

    bodies = []
    for path in sorted((root / "kb" / "cases").glob("*.yaml")):
        case = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("case")
        if isinstance(case, dict):
            bodies.append(json.dumps(case, separators=(",", ":")))
    return bodies


def write_inputs(folder: Path, root: Path) -> int:
    """Write the case bodies, the wrk scripts and the sitecustomize into ``folder``; the number of cases."""
    bodies = case_bodies(root)
    (folder / "bodies.jsonl").write_text("\n".join(bodies) + "\n", encoding="utf-8")
    for route in ROUTES:
        script = LUA % {"route": route, "bodies": folder / "bodies.jsonl"}
        (folder / f"{route.strip('/').replace('/', '_')}.lua").write_text(script, encoding="utf-8")
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return len(bodies)


def server_env(root: Path, folder: Path) -> dict:
    """The environment that makes the server (and its spawned workers) import ``root``'s code."""
    env = dict(os.environ, COMPENSA_BENCH_ROOT=str(root))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), str(root), env.get("PYTHONPATH")) if p)
    return env


def python_in(root: Path, folder: Path, code: str, *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=root, env=server_env(root, folder),
                          capture_output=True, text=True, check=True).stdout.strip()


def server_code(root: Path, folder: Path) -> str:
    """Where the server's modules come from when run from ``root`` (to check which code is measured)."""
    probe = "import compensa.app.http as h, compensa.engine as e; print(h.__file__, e.__file__)"
    return python_in(root, folder, probe)


def serve(workers: int, port: int, root: Path, folder: Path, log: Path | None,
          report_cache: int = 0) -> subprocess.Popen:
    stderr = open(log, "ab") if log else subprocess.DEVNULL
    cache = ["--report-cache", str(report_cache)] if report_cache else []
    try:
        return subprocess.Popen([sys.executable, "-m", "compensa", "serve", "--workers", str(workers),
                                 "--port", str(port), *cache], cwd=root, env=server_env(root, folder),
                                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    finally:
        if log:
            stderr.close()


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not become ready (see --server-log FILE)")


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


def worker_pids(process: subprocess.Popen, workers: int) -> list[int]:
    """The processes that serve: the server itself, or its worker children (not the resource tracker)."""
    if workers == 1:
        return [process.pid]
    return [p for p in children(process.pid)
            if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wrk(url: str, route: str, concurrency: int, seconds: float, folder: Path) -> dict:
    """One wrk run (one thread, ``concurrency`` keep-alive connections) and its summary."""
    script = folder / f"{route.strip('/').replace('/', '_')}.lua"
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    return {"requests": raw["requests"], "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50_ms": raw["p50_us"] / 1e3, "p99_ms": raw["p99_us"] / 1e3, "max_ms": raw["max_us"] / 1e3,
            "mean_ms": raw["mean_us"] / 1e3, "non_2xx": raw["non_2xx"], "socket_errors": raw["socket_errors"]}


def measure(url: str, pids: list[int], route: str, concurrency: int, args) -> dict:
    """wrk on one route, with the server processes' CPU time per answered request."""
    before = cpu_seconds(pids)
    row = wrk(url, route, concurrency, args.seconds, args.folder)
    row["server_cpu_ms"] = (cpu_seconds(pids) - before) / max(row["requests"], 1) * 1e3
    return {"route": route, "concurrency": concurrency, **row}


def median_run(runs: list[dict]) -> dict:
    """The median of every figure over the rounds of one route (requests: their sum)."""
    out = {"route": runs[0]["route"], "concurrency": runs[0]["concurrency"], "rounds": len(runs)}
    for key in ("rps", "p50_ms", "p99_ms", "max_ms", "mean_ms", "server_cpu_ms"):
        out[key] = statistics.median(r[key] for r in runs)
    for key in ("requests", "non_2xx", "socket_errors"):
        out[key] = sum(r[key] for r in runs)
    return out


def stop(process: subprocess.Popen) -> None:
    """Stop the server and its workers (its own process group); it may have ended already."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def bench_workers(workers: int, args) -> list[dict]:
    """Start a server with ``workers`` workers, run wrk on each route and concurrency; always stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(workers, port, args.root, args.folder, args.server_log, args.report_cache)
    rows = []
    try:
        wait_ready(url, process)
        time.sleep(1.0 if workers == 1 else 3.0)  # let every worker finish compiling
        pids = worker_pids(process, workers)
        wrk(url, "/v1/consult", 8, 3, args.folder)  # warm-up: every worker builds its engines
        for concurrency in args.concurrency:
            runs = [measure(url, pids, route, concurrency, args) for _ in range(args.rounds) for route in ROUTES]
            for route in ROUTES:
                row = {"workers": workers, **median_run([r for r in runs if r["route"] == route])}
                rows.append(row)
                print_row(row)
        print(f"        memory per worker (RSS after load): {', '.join(f'{rss_mib(p):.0f} MiB' for p in pids)}")
    finally:
        stop(process)
    return rows


HEADER = (f"{'workers':>7} {'route':<12} {'conc':>4} {'requests':>8} {'bad':>4} {'req/s':>7} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'cpu ms/req':>10}")


def print_row(row: dict) -> None:
    bad = row["non_2xx"] + row["socket_errors"]
    print(f"{row['workers']:>7} {row['route']:<12} {row['concurrency']:>4} {row['requests']:>8} {bad:>4} "
          f"{row['rps']:>7.0f} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['server_cpu_ms']:>10.2f}", flush=True)


def ratios(rows: list[dict]) -> list[dict]:
    """consult/healthz throughput per (workers, concurrency) of the same server run."""
    by = {(r["workers"], r["concurrency"], r["route"]): r for r in rows}
    out = []
    for (workers, concurrency, route), consult in by.items():
        health = by.get((workers, concurrency, "/healthz"))
        if route == "/v1/consult" and health:
            out.append({"workers": workers, "concurrency": concurrency, "consult_rps": consult["rps"],
                        "healthz_rps": health["rps"], "ratio": consult["rps"] / health["rps"],
                        "consult_p99_ms": consult["p99_ms"], "consult_cpu_ms": consult["server_cpu_ms"],
                        "healthz_cpu_ms": health["server_cpu_ms"]})
    return out


def print_summary(table: list[dict], engine: dict) -> None:
    print(f"\n{'workers':>7} {'conc':>4} {'consult/healthz':>15} {'consult p99 ms':>14} {'service ms/consult':>18}")
    for r in table:
        service = r["consult_cpu_ms"] - engine["cpu_ms"]
        print(f"{r['workers']:>7} {r['concurrency']:>4} {r['ratio']:>14.1%} {r['consult_p99_ms']:>14.1f} "
              f"{service:>18.2f}")
    print(f"consult alone (same code, one process, {engine['cases']} cases): {engine['cpu_ms']:.2f} ms CPU, "
          f"{engine['wall_ms']:.2f} ms wall per case; service ms/consult = server CPU per consult request "
          "minus that CPU")
    if "serialise_ms" in engine:
        print(f"of the service's cost, serialising the report (pydantic, from its typed record): "
              f"{engine['serialise_ms']:.2f} ms per case")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per route, healthz and consult alternating; medians are shown (default 3)")
    parser.add_argument("--concurrency", default="1,8", help="connections, comma-separated (default 1,8)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--server-root", metavar="DIR", type=Path, default=ROOT,
                        help="checkout of compensa to serve (default: this one)")
    parser.add_argument("--report-cache", type=int, default=0, metavar="N",
                        help="serve with the optional whole-report cache of N reports per worker (default 0: "
                             "off, the figures the speed targets are about); reported apart")
    parser.add_argument("--server-log", metavar="FILE", type=Path, help="append the servers' stderr to FILE")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.workers = [int(w) for w in args.workers.split(",")]
    args.root = args.server_root.resolve()
    if args.report_cache < 0:
        parser.error("--report-cache must be >= 0 (0: off)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `make bench-http` as root, or `sudo apt-get install wrk`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="compensa-bench-") as folder:
        args.folder = Path(folder)
        count = write_inputs(args.folder, args.root)
        print(f"compensa HTTP benchmark — {os.cpu_count()} cores, loopback, wrk 1 thread, median of {args.rounds} "
              f"alternating {args.seconds:g} s runs per route; /v1/consult bodies round-robin over {count} library cases")
        print(f"server code: {server_code(args.root, args.folder)}")
        if args.report_cache:
            print(f"report cache: {args.report_cache} reports per worker (not the speed targets' figures)")
        print(HEADER)
        rows = [row for workers in args.workers for row in bench_workers(workers, args)]
        engine = json.loads(python_in(args.root, args.folder, CONSULT_PROBE, str(args.folder / "bodies.jsonl")))
    table = ratios(rows)
    print_summary(table, engine)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": rows, "ratios": table, "consult_alone": engine}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
