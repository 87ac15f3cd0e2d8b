"""Exit status 1 for I/O failures, 2 for bad input, and no report printed when the command fails."""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from compensa.app.cli import main

KNEE = ["--pain", "lateral_knee:right", "--test", "ober_test:positive:right"]


def test_a_full_disk_while_writing_the_graph_is_exit_1_and_prints_no_report(tmp_path, capsys, monkeypatch):
    from compensa.visualize import dot

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dot, "_atomic_write", full)
    code = main(["consult", *KNEE, "--graph", str(tmp_path / "why.dot")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "No space left on device" in err and "internal error" not in err


def test_a_300_character_graph_name_is_a_clear_usage_error(tmp_path, capsys):
    code = main(["consult", *KNEE, "--graph", str(tmp_path / ("g" * 300 + ".svg"))])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "too long" in err and "internal error" not in err


@pytest.mark.parametrize("name", ["a-file/why.svg", "why.txt", ""])
def test_an_unusable_graph_path_is_exit_2_before_any_output(tmp_path, capsys, name):
    (tmp_path / "a-file").write_text("not a folder")
    code = main(["consult", *KNEE, "--graph", str(tmp_path / name) if name else ""])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.startswith("error: ")


def test_output_to_a_full_device_is_exit_1_without_traceback():
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "compensa", "consult", *KNEE], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "could not write" in done.stderr
