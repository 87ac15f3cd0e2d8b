"""Explanation-graph sizes and render times for a typical and a large case (focused and full views).

Run: ``.venv/bin/python bench/graphs.py``. Needs Graphviz's ``dot`` for the SVG timings.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import graphviz  # noqa: E402

from bench.run import TYPICAL  # noqa: E402
from compensa.engine import consult  # noqa: E402
from compensa.visualize import dot_available, explanation_graph, focus, to_dot  # noqa: E402

LARGE = {
    "pain": ["lower_back", "neck", "head", "shoulder:right", "lateral_knee:left", "buttock:left", "heel:left"],
    "findings": ["anterior_pelvic_tilt", "hyperlordosis", "forward_head", "rounded_shoulders", "thoracic_kyphosis",
                 "knee_valgus:left", "overpronation:left", "feet_turned_out:left", "shoulder_low:right"],
    "tests": ["thomas_test:positive", "ober_test:positive:left", "trendelenburg:positive:left",
              "deep_neck_flexor_endurance:positive", "pectoralis_minor_length:positive:right",
              "abdominal_strength:positive", "hip_extensor_strength:positive:left", "straight_leg_raise:negative:left",
              "navicular_drop:positive:left", "hawkins_kennedy_test:positive:right"],
    "history": ["prolonged_sitting", "runner"],
}


def timed(fn, n=5):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return result, statistics.median(samples)


def main() -> int:
    print(f"{'case':<9}{'view':<8}{'nodes':>6}{'edges':>6}{'facts':>6}  {'graph ms':>9}{'dot ms':>8}{'svg ms':>8}")
    for name, case in (("typical", TYPICAL[0]), ("large", LARGE)):
        report = consult(case)
        for view in ("focused", "full"):
            def build(report=report, view=view):
                graph = explanation_graph(report)
                return focus(graph, report) if view == "focused" else graph
            graph, graph_ms = timed(build)
            source, dot_ms = timed(lambda graph=graph, report=report: to_dot(graph, "bench", report.kb.regions))
            svg_ms = float("nan")
            if dot_available():
                _, svg_ms = timed(lambda source=source: graphviz.Source(source).pipe(format="svg"), n=3)
            facts = sum(1 for _, d in graph.nodes(data=True) if d.get("kind") != "firing")
            print(f"{name:<9}{view:<8}{graph.number_of_nodes():>6}{graph.number_of_edges():>6}{facts:>6}  "
                  f"{graph_ms:>9.1f}{dot_ms:>8.1f}{svg_ms:>8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
