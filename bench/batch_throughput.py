"""``compensa batch`` throughput: the bundled case library repeated to ~1000 lines, on each engine.

Run: ``.venv/bin/python bench/batch_throughput.py [--lines 1000] [--json FILE]``. One run prints one
table: for local ``--jobs 1``, local ``--jobs 2`` and Dask (a LocalCluster of 2 single-thread worker
processes) — and Ray (2 actors) when Ray is installed — the wall time of the whole batch (pool or
cluster start-up included, as a user sees it), cases per second and the ratio to ``--jobs 1``.
Every engine's output must be byte-identical to ``--jobs 1`` (exit status 1 if not). The machine is
shared and its speed varies between runs: compare ratios within one run, and read them against
``nproc`` (printed) — no engine can beat the number of free cores.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compensa.engine.batch import BatchSummary, BatchWorker, read_lines, run_batch, write_results  # noqa: E402
from compensa.engine.evaluate import read_library  # noqa: E402
from compensa.kb import load_kb  # noqa: E402
from compensa.kb.paths import BUNDLED_CASES  # noqa: E402

#: (name, engine, jobs)
CONFIGS = [("local --jobs 1", "local", 1), ("local --jobs 2", "local", 2), ("dask, 2 workers", "dask", 2),
           ("ray, 2 actors", "ray", 2)]


def library_lines(lines: int) -> bytes:
    """The bundled library's cases as JSON Lines, repeated (in order) to ``lines`` lines."""
    cases = [json.dumps(c.case, ensure_ascii=False) for c in read_library(BUNDLED_CASES)[0]]
    return "".join(cases[i % len(cases)] + "\n" for i in range(lines)).encode("utf-8")


def run_one(data: bytes, engine: str, jobs: int, kb) -> tuple[dict, str]:
    """One whole batch (start-up included): its summary and the SHA-256 of its output."""
    out = io.BytesIO()
    summary = BatchSummary()
    results = run_batch(read_lines(io.BytesIO(data)), BatchWorker(kb), engine=engine, jobs=jobs)
    write_results(results, out, summary)
    return summary.to_dict(), hashlib.sha256(out.getvalue()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000, help="input lines (the library repeated)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    kb = load_kb()
    data = library_lines(args.lines)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"compensa batch throughput: {args.lines} lines (the bundled library, "
          f"{len(read_library(BUNDLED_CASES)[0])} cases, repeated); nproc {os.cpu_count()}, "
          f"load average {load:.1f} at start (a shared machine)")
    rows, reference, base = [], None, None
    for name, engine, jobs in CONFIGS:
        if engine == "dask" and importlib.util.find_spec("distributed") is None:
            print(f"  {name}: skipped (install compensa[scale])")
            continue
        if engine == "ray" and importlib.util.find_spec("ray") is None:
            print(f"  {name}: skipped (install compensa[ray])")
            continue
        started = time.perf_counter()
        summary, digest = run_one(data, engine, jobs, kb)
        seconds = time.perf_counter() - started
        rate = summary["lines"] / seconds
        reference = reference or digest
        base = base or rate
        rows.append({"config": name, "engine": engine, "jobs": jobs, "seconds": round(seconds, 2),
                     "cases_per_second": round(rate, 1), "ratio": round(rate / base, 2),
                     "identical": digest == reference, "reports": summary["reports"], "errors": summary["errors"]})
    print(f"\n  {'configuration':<18}{'seconds':>9}{'cases/s':>10}{'vs jobs 1':>11}  output")
    for row in rows:
        print(f"  {row['config']:<18}{row['seconds']:>9.2f}{row['cases_per_second']:>10.1f}{row['ratio']:>10.2f}x  "
              f"{'identical' if row['identical'] else 'DIFFERS'}")
    print("\n  seconds: the whole batch, pool/cluster start-up included; output: byte-identical to --jobs 1")
    if args.json:
        Path(args.json).write_text(json.dumps({"lines": args.lines, "nproc": os.cpu_count(), "rows": rows},
                                              indent=2) + "\n", encoding="utf-8")
    return 0 if all(row["identical"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
