"""The instruction-count bench's probe runs every stage on this checkout (without valgrind, which
only counts), and bad arguments get a clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import instructions

ROOT = instructions.ROOT


@pytest.mark.parametrize("stage", instructions.STAGES)
def test_the_probe_runs_each_stage(stage, tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(instructions.PROBE, encoding="utf-8")
    done = subprocess.run([sys.executable, str(probe), stage, "1", str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_unknown_stage_is_refused_with_the_stages_named():
    done = subprocess.run([sys.executable, "bench/instructions.py", "--stages", "runn"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown stage 'runn'" in done.stderr and "consult" in done.stderr
