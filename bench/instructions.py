"""Instruction counts of a consultation, stage by stage: a measure the machine's speed does not move.

Wall-clock times on a shared 2-core machine swing 2-3x between runs, so a 10 % change can hide in
the noise of a timed benchmark. valgrind's cachegrind counts the instructions a process executes,
the same on a busy machine as on a quiet one. This runs a probe under cachegrind twice per stage,
once warmed up only and once warmed up then consulting the typical cases ``--rounds`` times, and
prints the difference per consultation: the stage's own instruction count, in millions.

Stages: ``parse`` (the case checked against the vocabulary), ``run`` (the experta run on its
evidence), ``reasoning`` (certainty factors over the run's supports), ``report`` (building the
report, its reasoning included: a fresh reasoning each time, its memos empty) and ``consult``
(all of it, as ``Consultant.consult``).

``--base DIR`` counts another checkout too (e.g. ``git worktree add /tmp/base <commit>``), mapped
in with the sitecustomize of :mod:`bench.http_load`, and prints new/base per stage. Counts are
Python's and C's instructions alike; they rank changes to Python code well, but an instruction
that misses the cache costs more than one that hits, so confirm a large change with ``make bench``.

Run: ``make bench-instructions`` or ``.venv/bin/python bench/instructions.py [--base DIR]
[--stages consult,run] [--rounds N]``. Needs valgrind (Debian's ``valgrind`` package); about a
minute per stage and checkout, two counts at a time. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_load import SITECUSTOMIZE  # noqa: E402

STAGES = ("parse", "run", "reasoning", "report", "consult")

# Warms up, freezes the heap as services do, then runs one stage ROUNDS times over the typical cases.
PROBE = r'''
import gc, sys
from compensa.engine import Consultant
from compensa.engine.consult import build_report
from compensa.engine.reasoning import Reasoning
from compensa.kb import read_kb
sys.path.insert(0, sys.argv[3])
from bench.anchors import TYPICAL
stage, rounds = sys.argv[1], int(sys.argv[2])
kb = read_kb().kb
consultant = Consultant(kb)
parsed = [consultant.parse(case) for case in TYPICAL]
evidence = [case.facts() for case in parsed]
runs = [consultant.compiled.run(facts) for facts in evidence]
for case in TYPICAL:
    consultant.consult(case)
gc.collect()
gc.freeze()
for _ in range(rounds):
    if stage == "parse":
        for case in TYPICAL:
            consultant.parse(case)
    elif stage == "run":
        for facts in evidence:
            consultant.compiled.run(facts)
    elif stage == "reasoning":
        for run in runs:
            Reasoning(kb, run)
    elif stage == "report":
        for case, run in zip(parsed, runs):
            build_report(kb, case, Reasoning(kb, run))
    else:
        for case in TYPICAL:
            consultant.consult(case)
'''


def count(root: Path, folder: Path, stage: str, rounds: int) -> int:
    """Instructions cachegrind counts for the probe on ``root``'s code."""
    env = dict(os.environ, COMPENSA_BENCH_ROOT=str(root), PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join((str(folder), str(root))))
    done = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=no",
                           "--cachegrind-out-file=/dev/null", sys.executable, str(folder / "probe.py"),
                           stage, str(rounds), str(ROOT)],
                          cwd=root, env=env, capture_output=True, text=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode or not found:
        raise RuntimeError(f"the probe failed on {root} ({stage}):\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_consultation(roots: dict[str, Path], stages: list[str], rounds: int, cases: int) -> dict:
    """Millions of instructions per consultation, by checkout and stage."""
    with tempfile.TemporaryDirectory(prefix="compensa-instructions-") as tmp:
        folder = Path(tmp)
        (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        (folder / "probe.py").write_text(PROBE, encoding="utf-8")
        jobs = [(name, stage, n) for name in roots for stage in stages for n in (0, rounds)]
        with ThreadPoolExecutor(2) as pool:
            counts = dict(zip(jobs, pool.map(lambda job: count(roots[job[0]], folder, job[1], job[2]), jobs)))
    return {name: {stage: (counts[(name, stage, rounds)] - counts[(name, stage, 0)]) / rounds / cases / 1e6
                   for stage in stages} for name in roots}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, help="another checkout to count beside this one")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--rounds", type=int, default=10, help="rounds over the typical cases (default 10)")
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown or args.rounds < 1:
        parser.error(f"unknown stage {unknown[0]!r} (stages: {', '.join(STAGES)})" if unknown else "--rounds must be >= 1")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind (Debian's package), then run this again",
              file=sys.stderr)
        return 1
    from bench.anchors import TYPICAL

    roots = {"this": ROOT}
    if args.base is not None:
        if not (args.base / "pyproject.toml").is_file():
            parser.error(f"--base {args.base}: no compensa checkout there (no pyproject.toml)")
        roots = {"base": args.base.resolve(), "this": ROOT}
    table = per_consultation(roots, stages, args.rounds, len(TYPICAL))
    print(f"instructions per typical consultation (cachegrind, {args.rounds} rounds over {len(TYPICAL)} cases), millions:")
    print(f"  {'stage':<10}" + "".join(f"{name:>10}" for name in roots) + ("   this/base" if "base" in roots else ""))
    for stage in stages:
        row = "".join(f"{table[name][stage]:10.2f}" for name in roots)
        ratio = f"   {table['this'][stage] / table['base'][stage]:9.3f}" if "base" in roots else ""
        print(f"  {stage:<10}{row}{ratio}")
    print("  (report includes a fresh reasoning; consult = parse + run + reasoning + report)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
