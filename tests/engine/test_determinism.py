"""Reports and graphs are byte-identical across interpreter hash seeds (experta's firing order varies with them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json
from compensa.engine import consult
from compensa.visualize import explanation_graph, focus, graph_to_json
cases = [
    {"pain": ["lateral_knee:right", "lower_back"], "findings": ["knee_valgus:right", "anterior_pelvic_tilt"],
     "tests": ["ober_test:positive:right", "trendelenburg:positive:right", "thomas_test:negative:left"],
     "history": ["runner"]},
    {"pain": ["neck", "head", "shoulder:left"], "findings": ["forward_head", "rounded_shoulders"],
     "tests": ["deep_neck_flexor_endurance:positive", "pectoralis_minor_length:positive:left"]},
]
out = []
for case in cases:
    report = consult(case)
    out.append([report.to_dict(), graph_to_json(focus(explanation_graph(report), report))])
print(json.dumps(out, sort_keys=False))
"""


def test_same_output_under_different_hash_seeds():
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT,
                                timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.add(result.stdout)
    assert len(outputs) == 1
