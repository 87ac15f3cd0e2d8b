"""Hostile case and KB files, through the real command line: exit 2, a message naming the file and
the limit, no traceback, no hang, no crash (each run is a subprocess with a timeout).

YAML content (aliases, nesting, bad characters) is bounded by ``read_yaml`` whichever way a case
file is read. The ``consult CASE`` tests marked ``needs_wiring`` (special files, size, UTF-8, YAML 1.2
scalars) run once ``compensa.engine.case.read_case_file`` reads through
:func:`compensa.kb.yamlsource.load_case_file_data` (detected by behaviour below); until then they are
skipped, since an unbounded file read would hang on a FIFO or exhaust memory on /dev/zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from compensa.errors import CaseError
from compensa.kb.yamlsource import MAX_ALIAS_NODES, MAX_CASE_BYTES, MAX_DEPTH, MAX_KB_FILE_BYTES
from tests.kb.minimal import write_kb

TIMEOUT = 10  # seconds; a refusal takes milliseconds on top of the interpreter's start-up

LAUGHS = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
HOSTILE = {  # name: (content, what the message must say)
    "laughs": (LAUGHS.encode(), f"aliases expand to more than {MAX_ALIAS_NODES} nodes"),
    "laughs_scalars": (("s: &s lol\nl0: &l0 [" + ", ".join(["*s"] * 9) + "]\n" + LAUGHS.split("\n", 1)[1]).encode(),
                       f"aliases expand to more than {MAX_ALIAS_NODES} nodes"),
    "laughs_deep_list": (("a: &a " + "[" * 60 + "]" * 60 + "\nb: [[[[[[[[*a]]]]]]]]\n").encode(),
                         f"nested more than {MAX_DEPTH} levels deep"),
    "flow_50000": (b"[" * 50_000 + b"]" * 50_000, f"nested more than {MAX_DEPTH} levels deep"),
    "block_mappings": ("".join(" " * i + "k:\n" for i in range(700)).encode(),
                       f"nested more than {MAX_DEPTH} levels deep"),
    "nul_byte": (b"pain: [lower_back]\n\x00\n",
                 "case.yaml:2:1: not valid YAML or JSON: unacceptable character #x0000"),
    "tab_indent": (b"pain:\n\t- lower_back\n",
                   "case.yaml:2:1: not valid YAML or JSON: found character that cannot start"),
}
HOSTILE_FILES = {  # refused by the bounded file reader
    "ten_mb": (b"#" * (10 * 1024 * 1024),
               "case.yaml: cannot read case file: the file is 10 MiB, over the limit of 256 KiB"),
    "invalid_utf8": (b"pain: [caf\xe9]\n", "case.yaml:1:11: cannot read case file: not UTF-8 text (byte 0xe9)"),
}


def compensa(*args: str, cwd: Path) -> tuple[int, str, str, float]:
    """Run ``python -m compensa ARGS``; return exit status, stdout, stderr and seconds taken."""
    env = {k: v for k, v in os.environ.items() if k not in ("COMPENSA_KB", "COMPENSA_DEBUG")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "compensa", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - start


def _refused(code: int, err: str) -> None:
    assert code == 2, (code, err)  # a crash would be a negative status, an internal error 1
    assert "Traceback" not in err and "internal error" not in err


def _reads_case_files_bounded() -> bool:
    """Whether ``read_case_file`` is wired to the bounded reader (a harmless probe: a file of comments
    just over the size limit)."""
    try:
        from compensa.engine.case import read_case_file
    except ImportError:
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe.yaml"
        probe.write_text("#" * (MAX_CASE_BYTES + 1))
        try:
            read_case_file(probe)
        except CaseError as exc:
            return "over the limit" in str(exc)
        except Exception:  # noqa: BLE001 - any other outcome means "not wired yet"
            return False
    return False


needs_wiring = pytest.mark.skipif(not _reads_case_files_bounded(),
                                  reason="engine.case.read_case_file does not use kb.yamlsource.load_case_file_data yet")


# --- consult CASE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_consult_refuses_a_hostile_case_file(tmp_path, name):
    content, expected = HOSTILE[name]
    (tmp_path / "case.yaml").write_bytes(content)
    code, out, err, _ = compensa("consult", "case.yaml", cwd=tmp_path)
    _refused(code, err)
    assert out == "" and "error: case.yaml:" in err and expected in err


@needs_wiring
@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_consult_refuses_an_oversized_or_undecodable_case_file(tmp_path, name):
    content, expected = HOSTILE_FILES[name]
    (tmp_path / "case.yaml").write_bytes(content)
    code, out, err, _ = compensa("consult", "case.yaml", cwd=tmp_path)
    _refused(code, err)
    assert out == "" and f"error: {expected}" in err


@needs_wiring
@pytest.mark.parametrize("make, expected", [
    (lambda p: os.mkfifo(p), "it is a FIFO (named pipe), not a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "it is a character device, not a regular file"),
    (lambda p: (os.mkfifo(p.with_name("pipe")), p.symlink_to("pipe")), "it is a FIFO (named pipe), not a regular file"),
], ids=["fifo", "dev_zero", "symlink_to_fifo"])
def test_consult_refuses_a_special_case_file_without_blocking(tmp_path, make, expected):
    make(tmp_path / "case.yaml")
    code, out, err, _ = compensa("consult", "case.yaml", cwd=tmp_path)
    _refused(code, err)
    assert f"error: case.yaml: cannot read case file: {expected}" in err


@needs_wiring
def test_consult_reads_yes_no_as_strings_and_refuses_them(tmp_path):
    (tmp_path / "case.yaml").write_text("pain: [lower_back]\nred_flags:\n  - {id: fever, present: no}\n")
    code, _, err, _ = compensa("consult", "case.yaml", cwd=tmp_path)
    _refused(code, err)
    assert "red_flags[0].present" in err  # read as the string 'no' and refused, never as false


def test_consult_refuses_a_directory_named_like_a_case(tmp_path):
    (tmp_path / "x.yaml").mkdir()
    code, out, err, _ = compensa("consult", "x.yaml", cwd=tmp_path)
    _refused(code, err)
    assert out == "" and "x.yaml" in err and "directory" in err


def test_consult_refuses_a_json_case_with_a_repeated_key(tmp_path):
    (tmp_path / "case.json").write_text('{"pain": ["lower_back"],\n "red_flags": [{"id": "fever", "present": true}],\n'
                                        ' "red_flags": [{"id": "fever", "present": false}]}\n')
    code, out, err, _ = compensa("consult", "case.json", "--format", "json", cwd=tmp_path)
    _refused(code, err)
    assert out == "" and "case.json:3:2: duplicate key 'red_flags' (first at line 2)" in err


# --- kb lint --kb DIR, and consult with that KB -------------------------------------------------------

KB_HOSTILE = {
    "laughs.yaml": (LAUGHS.encode(), f"laughs.yaml:5:10: aliases expand to more than {MAX_ALIAS_NODES} nodes"),
    "deep.yaml": (b"[" * 50_000, f"deep.yaml:1:{MAX_DEPTH + 1}: nested more than {MAX_DEPTH} levels deep"),
    "block.yaml": ("".join(" " * i + "k:\n" for i in range(700)).encode(),
                   f"block.yaml:{MAX_DEPTH + 1}:{MAX_DEPTH + 1}: nested more than {MAX_DEPTH} levels deep"),
    "big.yaml": (b"#" * (10 * 1024 * 1024), f"big.yaml: cannot read KB file: the file is 10 MiB, over the limit of "
                                             f"{MAX_KB_FILE_BYTES // (1 << 20)} MiB"),
    "latin1.yaml": (b"muscles:\n  - id: caf\xe9\n", "latin1.yaml:2:12: cannot read KB file: not UTF-8 text (byte 0xe9)"),
}


@pytest.mark.parametrize("name", sorted(KB_HOSTILE))
def test_kb_lint_reports_a_hostile_kb_file(tmp_path, name):
    folder = write_kb(tmp_path / "kb")
    content, expected = KB_HOSTILE[name]
    (folder / name).write_bytes(content)
    code, out, err, _ = compensa("--kb", "kb", "kb", "lint", cwd=tmp_path)
    _refused(code, err)
    assert expected in out and "problem(s) found" in err


SPECIALS = {
    "fifo.yaml": (lambda p: os.mkfifo(p), "it is a FIFO (named pipe), not a regular file"),
    "dir.yaml": (lambda p: p.mkdir(), "it is a directory, not a regular file"),
    "to_fifo.yaml": (lambda p: (os.mkfifo(p.with_name("pipe")), p.symlink_to("pipe")),
                     "it is a FIFO (named pipe), not a regular file"),
    "zero.yaml": (lambda p: p.symlink_to("/dev/zero"), "it is a character device, not a regular file"),
}


@pytest.mark.parametrize("name", sorted(SPECIALS))
def test_kb_lint_reports_a_special_file_without_blocking(tmp_path, name):
    folder = write_kb(tmp_path / "kb")
    make, expected = SPECIALS[name]
    make(folder / name)
    code, out, err, _ = compensa("--kb", "kb", "kb", "lint", cwd=tmp_path)
    _refused(code, err)
    assert f"kb/{name}: cannot read KB file: {expected}" in out


@pytest.mark.parametrize("name", ["fifo.yaml", "zero.yaml"])
def test_consult_refuses_to_start_with_a_kb_holding_a_special_file(tmp_path, name):
    folder = write_kb(tmp_path / "kb")
    SPECIALS[name][0](folder / name)
    code, out, err, _ = compensa("--kb", "kb", "consult", "--pain", "hip_site", cwd=tmp_path)
    _refused(code, err)
    assert out == "" and f"error: kb/{name}: cannot read KB file: {SPECIALS[name][1]}" in err


def test_consult_refuses_to_start_with_a_kb_holding_billion_laughs(tmp_path):
    folder = write_kb(tmp_path / "kb")
    (folder / "laughs.yaml").write_text(LAUGHS)
    code, out, err, _ = compensa("--kb", "kb", "consult", "--pain", "hip_site", cwd=tmp_path)
    _refused(code, err)
    assert out == "" and f"error: kb/laughs.yaml:5:10: aliases expand to more than {MAX_ALIAS_NODES} nodes" in err
