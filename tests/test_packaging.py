"""A plain `pip install .` (which brings experta's frozendict==1.2 pin) still gives a working compensa."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("COMPENSA_SKIP_PIP_CHECK") == "1", reason="COMPENSA_SKIP_PIP_CHECK=1")
def test_plain_pip_install_imports_engine_with_frozendict_1_2(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "out", "*.egg-info", "build",
                                                               ".pytest_cache", ".hypothesis", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], capture_output=True, text=True,
                             timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    check = subprocess.run(
        [str(python), "-c",
         "import importlib.metadata as m, logging\n"
         "from compensa.engine import consult\n"
         "r = consult({'pain': ['lateral_knee:right'], 'tests': ['trendelenburg:positive:right']})\n"
         "assert r.root_causes[0].id == 'lateral_hip_weakness', r.root_causes\n"
         "assert not logging.getLogger().handlers\n"
         "print(m.version('frozendict'))\n"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert check.returncode == 0, check.stderr[-2000:]
    assert check.stdout.strip().startswith("1."), "pip should have installed experta's frozendict pin"
