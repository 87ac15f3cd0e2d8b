"""compensa benchmark: consultation latency, KB load and compile, CLI cold start, and scaling with KB size.

Run: ``make bench`` (or ``.venv/bin/python bench/run.py [--quick] [--json FILE]``). Figures are printed;
nothing is asserted. Measure on an idle machine; the CI-sized machine has 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import synthetic_kb, typical_case  # noqa: E402
from compensa.engine import Consultant  # noqa: E402
from compensa.kb import read_kb  # noqa: E402

#: Typical consultations on the bundled KB: 5-10 pieces of evidence each.
TYPICAL = [
    {"pain": [{"site": "lateral_knee", "side": "right"}, {"site": "lateral_thigh", "side": "right"}],
     "findings": [{"id": "knee_valgus", "side": "right"}, "anterior_pelvic_tilt"],
     "tests": ["ober_test:positive:right", "trendelenburg:positive:right", "thomas_test:negative:right"],
     "red_flags": [{"id": "saddle_anaesthesia", "present": False}], "history": ["runner"]},
    {"pain": ["lower_back", "buttock:left"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
     "tests": ["thomas_test:positive", "abdominal_strength:positive", "hip_extensor_strength:positive",
               "straight_leg_raise:negative:left"], "history": ["prolonged_sitting"]},
    {"pain": ["neck", "head", "shoulder:right"], "findings": ["forward_head", "rounded_shoulders", "thoracic_kyphosis"],
     "tests": ["deep_neck_flexor_endurance:positive", "pectoralis_minor_length:positive:right"], "history": ["prolonged_sitting"]},
    {"pain": ["heel:left", "foot_arch:left"], "findings": [{"id": "overpronation", "side": "left"}, {"id": "feet_turned_out", "side": "left"}],
     "tests": ["navicular_drop:positive:left", "knee_to_wall_test:positive:left"], "history": ["runner", "recent_training_increase"]},
    {"pain": ["sacroiliac:right", "buttock:right"], "findings": [{"id": "pelvic_rotation", "side": "right"}],
     "tests": ["sij_provocation:positive:right", "faber:positive:right", "hip_extensor_strength:positive:right"],
     "history": ["habitual_leg_crossing"]},
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_consultations(consultant: Consultant, cases: list, rounds: int) -> list[float]:
    parsed = [consultant.parse(c) for c in cases]
    for case in parsed:  # warm up
        consultant.consult(case)
    samples = []
    for _ in range(rounds):
        for raw in cases:
            start = time.perf_counter()
            consultant.consult(raw)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_bundled(rounds: int) -> dict:
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        read = read_kb()
        loads.append((time.perf_counter() - start) * 1000)
    kb = read.kb
    compiles = []
    for _ in range(3):
        start = time.perf_counter()
        consultant = Consultant(kb)
        compiles.append((time.perf_counter() - start) * 1000)
    samples = time_consultations(consultant, TYPICAL, rounds)
    evidence = [len(consultant.parse(c).evidence) for c in TYPICAL]
    return {"kb_version": kb.version_string, "rules": len(consultant.compiled.rules), "links": len(kb.links),
            "evidence_per_case": evidence, "kb_load_ms_median": statistics.median(loads),
            "compile_ms_median": statistics.median(compiles),
            "consult_ms_median": statistics.median(samples), "consult_ms_p99": percentile(samples, 99),
            "consultations": len(samples)}


def bench_cli(runs: int) -> dict:
    python = sys.executable
    case = ROOT / "app" / "samples" / "demo.yaml"
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([python, "-m", "compensa", "consult", str(case), "--format", "json"], check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)
        walls.append((time.perf_counter() - start) * 1000)
    return {"cli_cold_start_ms_median": statistics.median(walls), "cli_runs": runs}


def bench_scaling(sizes: list[int], rounds: int) -> list[dict]:
    out = []
    for links in sizes:
        kb = synthetic_kb(links)
        start = time.perf_counter()
        consultant = Consultant(kb)
        compile_ms = (time.perf_counter() - start) * 1000
        cases = [typical_case(kb, seed) for seed in range(5)]
        samples = time_consultations(consultant, cases, rounds)
        out.append({"links": links, "rules": len(consultant.compiled.rules), "compile_ms": compile_ms,
                    "consult_ms_median": statistics.median(samples), "consult_ms_p99": percentile(samples, 99),
                    "supports_median": statistics.median(
                        len(consultant.consult(c).reasoning.supports) for c in cases)})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    rounds = 20 if args.quick else 200
    print(f"compensa benchmark — Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    bundled = bench_bundled(rounds)
    print(f"\nbundled KB {bundled['kb_version']}: {bundled['links']} links, {bundled['rules']} rules")
    print(f"  KB load (read + lint + build), median  {bundled['kb_load_ms_median']:8.1f} ms")
    print(f"  compile to experta (Rete build), median {bundled['compile_ms_median']:7.1f} ms")
    print(f"  consultation, typical case ({min(bundled['evidence_per_case'])}-{max(bundled['evidence_per_case'])} "
          f"pieces of evidence), n={bundled['consultations']}:")
    print(f"      median {bundled['consult_ms_median']:6.2f} ms    p99 {bundled['consult_ms_p99']:6.2f} ms")
    cli = bench_cli(3 if args.quick else 7)
    print(f"  `compensa consult` cold start (whole process), median {cli['cli_cold_start_ms_median']:.0f} ms")
    sizes = [100, 1000] if args.quick else [100, 1000, 5000]
    scaling = bench_scaling(sizes, max(5, rounds // 10))
    print("\nscaling with generated KBs (typical 8-piece case):")
    print(f"  {'links':>6} {'rules':>6} {'compile ms':>11} {'consult median ms':>18} {'p99 ms':>8} {'supports':>9}")
    for row in scaling:
        print(f"  {row['links']:>6} {row['rules']:>6} {row['compile_ms']:>11.0f} {row['consult_ms_median']:>18.2f} "
              f"{row['consult_ms_p99']:>8.2f} {row['supports_median']:>9.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"bundled": bundled, "cli": cli, "scaling": scaling}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
