"""Cold starts of the command line, each measured as a whole process (interpreter start to exit).

This environment sets ``PYTHONDONTWRITEBYTECODE=1``, so nothing run here ever writes a ``.pyc``:
every project and dependency module without cached bytecode is compiled from source on every start.
Two figures per command, therefore:

* **as-is** — the environment unchanged (whatever bytecode already exists is used, none is written);
* **bytecode** — ``PYTHONPYCACHEPREFIX`` points at a private folder and writing is allowed, after one
  warm-up run per command: every module is loaded from compiled bytecode, as after
  ``python -m compileall`` or an install that compiles (pip does by default). Nothing is written
  into the project or ``.venv``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["COMMANDS", "cold_starts"]

ROOT = Path(__file__).resolve().parents[1]

#: (name, arguments, target ms) — targets from issue 14.
COMMANDS = [
    ("compensa --help", ["--help"], 250),
    ("compensa kb lint", ["kb", "lint"], 250),
    ("compensa consult app/samples/demo.yaml", ["consult", "app/samples/demo.yaml"], 350),
]


def _program() -> list[str]:
    script = Path(sys.executable).parent / "compensa"
    return [str(script)] if script.exists() else [sys.executable, "-m", "compensa"]


def _once(argv: list[str], env: dict) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system of the child, from ``os.wait4``) and exit status of one run.

    The CPU time is the steadier figure on a shared machine: it leaves out the time the process
    waited for a core another program held."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, child.returncode


def _summary(walls: list[float], cpus: list[float], codes: set[int]) -> dict:
    return {"median_ms": statistics.median(walls), "min_ms": min(walls), "cpu_median_ms": statistics.median(cpus),
            "cpu_min_ms": min(cpus), "exit": sorted(codes)}


def _measure(argv: list[str], envs: dict[str, dict], runs: int) -> dict:
    """``runs`` processes per environment, alternating between them so that load from elsewhere hits both
    alike (3 at most for a command slower than 2 s, so the bench stays short)."""
    walls: dict[str, list[float]] = {name: [] for name in envs}
    cpus: dict[str, list[float]] = {name: [] for name in envs}
    codes: dict[str, set[int]] = {name: set() for name in envs}
    first = next(iter(envs))
    while len(walls[first]) < (runs if not walls[first] or walls[first][0] < 2000 else min(runs, 3)):
        for name, env in envs.items():
            wall, cpu, code = _once(argv, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            codes[name].add(code)
    return {name: _summary(walls[name], cpus[name], codes[name]) for name in envs}


def cold_starts(runs: int) -> list[dict]:
    """Median and best wall time (``median_ms``, ``min_ms``) and CPU time (``cpu_median_ms``,
    ``cpu_min_ms``) of each command, as-is and with bytecode, over ``runs`` processes."""
    program = _program()
    with tempfile.TemporaryDirectory(prefix="compensa-pycache-") as cache:
        compiled = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled["PYTHONPYCACHEPREFIX"] = cache
        envs = {"as_is": dict(os.environ), "bytecode": compiled}
        rows = []
        for name, args, target in COMMANDS:
            argv = program + args
            _once(argv, compiled)  # warm-up: writes the bytecode into the private cache
            rows.append({"command": name, "target_ms": target, **_measure(argv, envs, runs)})
    return rows


if __name__ == "__main__":  # python bench/coldstart.py [RUNS]: just the cold starts
    for row in cold_starts(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        cells = "  ".join(f"{mode} {row[mode]['median_ms']:.0f} ms wall, {row[mode]['cpu_median_ms']:.0f} ms CPU"
                          for mode in ("as_is", "bytecode"))
        print(f"{row['command']:<42} target {row['target_ms']} ms  {cells}  exit {row['bytecode']['exit']}")
