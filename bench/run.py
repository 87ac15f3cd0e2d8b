"""compensa benchmark: compensa, plain experta, CLIPS and a pure-Python floor on the same rules; cold starts; scaling.

Run: ``make bench`` (installs the ``bench`` extra, clipspy) or ``.venv/bin/python bench/run.py [--quick]
[--json FILE]``. One run prints one table: each engine's median and p99 ms per consultation-equivalent
run (reset + assert evidence + run) over the typical cases and the whole case library, with ratios to
CLIPS and to the floor, after checking that every engine produced the same support set on every case
(exit status 1 if not). Then KB load and compile, the stages of a consultation, CLI cold starts as
whole processes, and scaling on generated KBs. This machine's speed varies 2-3x between runs (it is
shared): the reference-loop line says how fast it was, and only ratios within one run compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.anchors import (TYPICAL, Anchors, bench_cases, consult_stages, disagreements, percentile,  # noqa: E402
                           time_engines)
from bench.coldstart import cold_starts  # noqa: E402
from bench.scaling import scaling_row  # noqa: E402
from compensa.kb import read_kb  # noqa: E402


def reference_loop_ms(repeats: int = 5) -> float:
    """Median ms of a fixed pure-Python loop: how fast this machine is right now (lower is faster)."""
    def loop() -> int:
        total = 0
        for i in range(300_000):
            total += i * i % 7
        return total

    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        loop()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _kb_load(repeats: int) -> tuple[object, float]:
    loads = []
    for _ in range(repeats):
        start = time.perf_counter()
        read = read_kb()
        loads.append((time.perf_counter() - start) * 1000)
    return read.kb, statistics.median(loads)


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:8.1f}x" if base else f"{'-':>9}"


def print_engines(timings: dict[str, dict], cases: int) -> None:
    """The one table: engine, median, p99, ratio to CLIPS, ratio to the floor."""
    clips = timings.get("CLIPS run (clipspy)", {}).get("median_ms")
    floor = timings["pure-Python floor"]["median_ms"]
    print(f"\nengines on the same compiled rules and evidence, {cases} cases (typical + case library), interleaved "
          f"case by case; ms per run (reset + assert evidence + run):")
    print(f"  {'engine':<38} {'median':>8} {'p99':>8} {'/ CLIPS':>9} {'/ floor':>9} {'n':>6}")
    for name, t in timings.items():
        print(f"  {name:<38} {t['median_ms']:8.3f} {t['p99_ms']:8.3f} {_ratio(t['median_ms'], clips)} "
              f"{_ratio(t['median_ms'], floor)} {t['n']:>6}")


def print_agreement(found: list[str], anchors: Anchors, cases: int) -> None:
    engines = ["compensa", "experta", "floor"] + (["CLIPS"] if anchors.clips is not None else [])
    if found:
        print(f"\nsupport sets DISAGREE on {len(found)} (case, engine) pairs:")
        for line in found[:20]:
            print(f"  {line}")
    else:
        print(f"\nsupport sets agree: {', '.join(engines)} gave the same supports (conclusion, premise, rule, via, "
              f"strength) and the same halt on all {cases} cases")
    if anchors.clips is None:
        print(f"  CLIPS left out: {anchors.clips_missing}")


#: Issue 14's in-process targets on the typical cases: median and p99 ms per consultation.
TARGET_MEDIAN_MS, TARGET_P99_MS = 3.0, 8.0


def typical_consults(consultant, rounds: int) -> dict[str, dict]:
    """``consult()`` on the typical cases, as the process's heap is and then frozen as a service's is.

    A consultation makes many short-lived objects, so Python's collector now and then walks the whole
    heap, the compiled KB included: those pauses are the slowest consultations. Services and batch
    workers freeze the heap once the KB is built (:func:`compensa.engine.consult.freeze_long_lived`),
    so the second row is what they see. Cases rotate, so none is favoured."""
    from compensa.engine.consult import freeze_long_lived

    out: dict[str, dict] = {}
    for mode in ("heap as built", "heap frozen"):
        if mode == "heap frozen":
            freeze_long_lived()
        for case in TYPICAL:
            consultant.consult(case)
        samples = []
        for _ in range(rounds):
            for case in TYPICAL:
                start = time.perf_counter()
                consultant.consult(case)
                samples.append((time.perf_counter() - start) * 1000)
        out[mode] = {"median_ms": statistics.median(samples), "p99_ms": percentile(samples, 99), "n": len(samples)}
    return out


def print_typical(rows: dict[str, dict]) -> None:
    print(f"\ncompensa consult on the {len(TYPICAL)} typical cases (target: median <= {TARGET_MEDIAN_MS:g} ms, "
          f"p99 <= {TARGET_P99_MS:g} ms):")
    for mode, t in rows.items():
        met = "met" if t["median_ms"] <= TARGET_MEDIAN_MS and t["p99_ms"] <= TARGET_P99_MS else "over"
        print(f"  {mode:<38} {t['median_ms']:8.3f} {t['p99_ms']:8.3f}   {met}  (n={t['n']})")


def print_build(kb, load_ms: float, anchors: Anchors, stages: dict | None) -> None:
    print(f"\nbundled KB {kb.version_string}: {len(kb.links)} links, {len(anchors.rules) + len(anchors.joins)} rules "
          f"({len(anchors.joins)} of them joins)")
    print(f"  KB load (read + check + build), median {load_ms:8.1f} ms")
    for name, ms in anchors.build_ms.items():
        print(f"  compile for {name:<26} {ms:8.1f} ms")
    if stages:
        total = sum(stages.values())
        shares = ", ".join(f"{n} {ms:.2f} ms ({ms / total:.0%})" for n, ms in stages.items())
        print(f"  consult stages, median per case: {shares}")


def print_cold(rows: list[dict]) -> None:
    print("\nCLI cold start, whole process, median (best) ms:")
    print(f"  {'command':<42} {'target':>7} {'as-is (no .pyc written)':>24} {'bytecode compiled':>18}")
    for r in rows:
        a, b = r["as_is"], r["bytecode"]
        met = "met" if b["median_ms"] <= r["target_ms"] else "over"
        exits = "" if a["exit"] == [0] and b["exit"] == [0] else f"  exit {a['exit']}/{b['exit']}"
        print(f"  {r['command']:<42} {r['target_ms']:>7} {a['median_ms']:>15.0f} ({a['min_ms']:>5.0f}) "
              f"{b['median_ms']:>9.0f} ({b['min_ms']:>5.0f}) {met}{exits}")


def print_scaling(rows: list[dict]) -> None:
    print("\nscaling on generated KBs (5 typical 8-piece cases each), medians in ms:")
    print(f"  {'links':>6} {'rules':>6} {'load':>7} {'compile':>8} {'consult':>8} {'run':>8} {'floor':>7} "
          f"{'supports':>8} {'us/sup':>7} {'reset':>7} {'next':>7} agree")
    for r in rows:
        nxt = f"{r['next_ms']:7.2f}" if r["next_ms"] is not None else f"{'n/a':>7}"
        print(f"  {r['links']:>6} {r['rules']:>6} {r['load_ms']:>7.0f} {r['compile_ms']:>8.0f} {r['consult_ms']:>8.2f} "
              f"{r['run_ms']:>8.2f} {r['floor_ms']:>7.2f} {r['supports']:>8.0f} "
              f"{1000 * r['consult_ms'] / max(r['supports'], 1):>7.1f} {r['reset_ms']:>7.3f} {nxt} "
              f"{'yes' if r['agree'] else 'NO'}")
    print("  (consult = parse+run+report; run = engine only; floor = pure-Python closure; us/sup = consult per "
          "support; reset = a run on no evidence; next = plan.next_assessments)")


def main() -> int:
    """Run the benchmark; exit status 1 if the engines disagree on any case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    quick = args.quick
    speed = reference_loop_ms()
    print(f"compensa benchmark — Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print(f"machine speed: reference loop {speed:.1f} ms (fixed pure-Python work; lower = faster right now)")
    kb, load_ms = _kb_load(2 if quick else 5)
    anchors = Anchors.build(kb)
    cases = bench_cases(anchors.consultant)
    found = disagreements(anchors, cases)
    print_agreement(found, anchors, len(cases))
    timed = cases[::5] if quick else cases  # --quick times every 5th case (agreement is still checked on all)
    timings = time_engines(anchors.timed_runs(), timed, budget_s=0.0 if quick else 60.0)
    print_engines(timings, len(timed))
    stages = consult_stages(anchors.consultant, timed, rounds=1 if quick else 3)
    print_build(kb, load_ms, anchors, stages)
    typical = typical_consults(anchors.consultant, rounds=5 if quick else 200)
    print_typical(typical)
    anchors.close()
    cold = cold_starts(2 if quick else 5)
    print_cold(cold)
    sizes = [100, 1000] if quick else [100, 1000, 5000]
    scaling = [scaling_row(n, rounds=2 if quick else max(3, 1000 // n)) for n in sizes]
    print_scaling(scaling)
    speed_after = reference_loop_ms()
    print(f"\nmachine speed at the end: reference loop {speed_after:.1f} ms (was {speed:.1f} ms at the start)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "reference_loop_ms": [speed, speed_after], "cases": len(cases), "disagreements": found,
            "clips": anchors.clips_missing or "included", "engines": timings, "kb_load_ms": load_ms,
            "compile_ms": anchors.build_ms, "consult_stages_ms": stages, "typical_consult": typical, "cold_start": cold, "scaling": scaling},
            indent=2))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
