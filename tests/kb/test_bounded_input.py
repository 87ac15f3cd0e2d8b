"""Hostile files are refused quickly with a message naming the file and the limit: no hang, no crash.

Covers the bounded file reader (regular files only, size limit, UTF-8), the bounded YAML reader
(nesting depth, alias expansion, node count), the case flavour of YAML (YAML 1.2 core scalars), the
case-file entry point :func:`load_case_file_data` and the KB loader's use of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compensa.errors import CaseError
from compensa.kb.loader import BUNDLED_KB, read_kb
from compensa.kb.yamlsource import (
    MAX_ALIAS_NODES, MAX_CASE_BYTES, MAX_CASE_NODES, MAX_DEPTH, MAX_KB_FILE_BYTES, load_case_file_data,
    read_bounded_text, read_yaml,
)
from tests.kb.minimal import write_kb

GUARD_SECONDS = 10  # a hang becomes a failure, not a stuck test run (real times are milliseconds)


class Hung(Exception):
    """The guarded block ran past its deadline (not an OSError, so no reader can swallow it)."""


@contextlib.contextmanager
def deadline(seconds: float = GUARD_SECONDS):
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""
    def expired(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each anchored list repeats the previous one ``width`` times."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


HOSTILE_YAML = {
    "laughs_lists": laughs(),
    "laughs_scalar_anchor": "s: &s lol\n" + laughs().replace("[lol, lol, lol, lol, lol, lol, lol, lol, lol]",
                                                             "[" + ", ".join(["*s"] * 9) + "]"),
    "laughs_mappings": "m0: &m0 {a: lol, b: lol}\n" + "".join(
        f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(9)) + "}\n" for i in range(1, 9)),
    "laughs_block": "a: &a\n" + "".join(f"  - lol{j}\n" for j in range(9)) + "".join(
        f"{c}: &{c}\n" + f"  - *{p}\n" * 9 for p, c in zip("abcdefgh", "bcdefghi")),
    "laughs_one_line": "[&a [lol,lol,lol,lol,lol,lol,lol,lol,lol], " + ", ".join(
        f"&{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")) + "]",
    "deep_list_anchor": "a: &a " + "[" * 60 + "]" * 60 + "\nb: [[[[[[[[*a]]]]]]]]\n",
    "flow_lists_50000": "[" * 50_000 + "]" * 50_000,
    "flow_lists_50000_unclosed": "[" * 50_000,
    "flow_mappings_50000": "{a: " * 50_000 + "}" * 50_000,
    "block_sequence_50000": "- " * 50_000 + "x\n",
    "block_mappings_700": "".join(" " * i + "k:\n" for i in range(700)),
    "block_sequences_700": "".join(" " * i + "-\n" for i in range(700)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_YAML))
@pytest.mark.parametrize("case", [False, True], ids=["kb", "case"])
def test_hostile_yaml_is_refused_with_the_limit_and_a_place(name, case):
    with deadline():
        data, problems = read_yaml(HOSTILE_YAML[name], f"{name}.yaml", case=case)
    assert data is None and len(problems) == 1
    problem = problems[0]
    assert problem.where.startswith(f"{name}.yaml:") and problem.where.count(":") == 2
    assert f"{MAX_DEPTH} levels" in problem.message or f"{MAX_ALIAS_NODES} nodes" in problem.message
    assert "limit" in problem.message


def test_depth_limit_is_exact_for_flow_and_block():
    for depth, ok in ((MAX_DEPTH, True), (MAX_DEPTH + 1, False)):
        flow = "[" * depth + "]" * depth
        block = "".join("  " * i + "k:\n" for i in range(depth))
        for text in (flow, block):
            data, problems = read_yaml(text, "d.yaml")
            assert (data is not None and not problems) if ok else (data is None and "64 levels deep" in str(problems[0]))
    _, problems = read_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "d.yaml")
    assert problems[0].where == f"d.yaml:1:{MAX_DEPTH + 1}"


def test_alias_limit_is_exact_and_reasonable_aliases_still_work():
    anchor = "a: &a [" + ", ".join(["x"] * 99) + "]\n"  # an anchored list of 100 nodes
    data, problems = read_yaml(anchor + "b: [" + ", ".join(["*a"] * 100) + "]\n", "ok.yaml")
    assert not problems and len(data["b"]) == 100 and data["b"][99] == ["x"] * 99
    data, problems = read_yaml(anchor + "b: [" + ", ".join(["*a"] * 101) + "]\n", "many.yaml")
    assert data is None and str(problems[0]).startswith("many.yaml:2:")
    assert f"aliases expand to more than {MAX_ALIAS_NODES} nodes" in problems[0].message


def test_aliases_cannot_hide_depth_or_recurse():
    _, problems = read_yaml("a: &a [[[1]]]\nb: *a\n", "ok.yaml")
    assert not problems
    data, problems = read_yaml("a: &a [b, *a]\n", "loop.yaml")
    assert data is None and "loop.yaml:1:11: alias *a stands inside the node it refers to" in str(problems[0])
    data, problems = read_yaml("a: &a 1\nb: &a 2\n", "dup.yaml")
    assert data is None and str(problems[0]).startswith("dup.yaml:2:4: YAML syntax error: found duplicate anchor &a (first at line 1)")
    data, problems = read_yaml("a: *nowhere\n", "undef.yaml")
    assert data is None and "undef.yaml:1:4" in str(problems[0]) and "undefined alias 'nowhere'" in str(problems[0])


def test_node_limit_for_cases_and_a_long_single_line():
    items = "pain: [" + ", ".join(["lower_back"] * MAX_CASE_NODES) + "]\n"
    with deadline():
        data, problems = read_yaml(items, "many.yaml", case=True)
    assert data is None
    assert f"more than {MAX_CASE_NODES} nodes" in problems[0].message and "limit for a case file" in problems[0].message
    data, problems = read_yaml(items, "many.yaml")  # a KB file may hold more
    assert not problems and len(data["pain"]) == MAX_CASE_NODES
    note = "x" * (MAX_CASE_BYTES - 100)
    data, problems = read_yaml(f'text: "{note}"\npain: [lower_back]\n', "long.yaml", case=True)
    assert not problems and data["text"] == note and data.where("pain").line == 2
    data, problems = read_yaml(f'text: "{note}\npain: [lower_back]\n', "long.yaml", case=True)
    assert data is None and problems[0].where.startswith("long.yaml:")


def test_multiple_documents_and_other_syntax_errors_keep_a_place():
    _, problems = read_yaml("a: 1\n---\nb: 2\n", "two.yaml")
    assert str(problems[0]).startswith("two.yaml:2:1: YAML syntax error: found a second document")
    _, problems = read_yaml("pain:\n\t- lower_back\n", "tab.yaml")
    assert str(problems[0]).startswith("tab.yaml:2:1: YAML syntax error")
    _, problems = read_yaml("pain: [lower_back]\n\x00\n", "nul.yaml")
    assert str(problems[0]).startswith("nul.yaml:2:1: YAML error: unacceptable character #x0000")


# --- the case flavour --------------------------------------------------------------------------------

CASE_SCALARS = {
    "present: no": "no", "present: yes": "yes", "present: on": "on", "present: off": "off", "present: y": "y",
    "present: n": "n", "present: Yes": "Yes", "present: NO": "NO",
    "present: true": True, "present: True": True, "present: TRUE": True, "present: false": False,
    "present: False": False, "present: FALSE": False, "present: tRue": "tRue",
    "present: null": None, "present: ~": None, "present:": None, "present: Null": None, "present: NULL": None,
    "date: 2026-12-01": "2026-12-01", "date: 2026-12-01 10:00:00": "2026-12-01 10:00:00",
    "age: 38": 38, "age: -3": -3, "age: 010": 10, "age: 0o17": 15, "age: 0x1F": 31, "age: 1_000": "1_000",
    "age: 1:30": "1:30", "age: 0b101": "0b101", "x: 1.5": 1.5, "x: 1e3": 1000.0, "x: .5": 0.5, "x: -.inf": float("-inf"),
    "x: '7'": "7", "x: \"no\"": "no", "x: =": "=", "<<: x": "x",
}


@pytest.mark.parametrize("line", sorted(CASE_SCALARS))
def test_case_scalars_are_yaml_1_2_core(line):
    data, problems = read_yaml(line + "\n", "case.yaml", case=True)
    assert not problems
    value = next(iter(data.values()))
    assert value == CASE_SCALARS[line] and type(value) is type(CASE_SCALARS[line])


def test_kb_scalars_keep_yaml_1_1():
    data, problems = read_yaml("a: no\nb: on\nc: 2026-12-01\nd: 010\n", "kb.yaml")
    assert not problems and data["a"] is False and data["b"] is True and data["d"] == 8
    assert str(data["c"]) == "2026-12-01" and not isinstance(data["c"], str)


def test_case_refuses_tags_beyond_json():
    for text, tag in (("x: !!timestamp 2026-12-01\n", "!!timestamp"), ("x: !!binary aGk=\n", "!!binary"),
                      ("x: !!set {a}\n", "!!set"), ("x: !!python/tuple [1]\n", "!!python/tuple"), ("x: !me 1\n", "!me")):
        data, problems = read_yaml(text, "case.yaml", case=True)
        assert data is None and problems[0].where == "case.yaml:1:4"
        assert f"the tag {tag} is not allowed in a case file" in problems[0].message
    data, problems = read_yaml("x: !!str 5\n", "case.yaml", case=True)
    assert data == {"x": "5"} and not problems


def json_values(ascii_only: bool):
    """JSON data; raw (not escaped) text avoids what YAML cannot hold unescaped (see the note below)."""
    chars = st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",) if ascii_only else ("Cs", "Cc"),
                          blacklist_characters="" if ascii_only else "\u2028\u2029\ufeff\ufffe\uffff")
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                       st.floats(allow_nan=False, allow_infinity=False), st.text(chars, max_size=12))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(string.ascii_letters + "_ ", max_size=8), inner, max_size=4)),
        max_leaves=15)


# YAML's reader refuses raw control characters (DEL, C1) and folds raw U+2028/U+2029/U+0085 as line
# breaks, and libyaml refuses JSON's surrogate-pair escapes (\ud83d\ude00) for characters beyond
# U+FFFF: those JSON texts are refused (never misread), so the property leaves them out.
@settings(max_examples=200, deadline=None)
@given(st.booleans().flatmap(lambda ascii_only: st.tuples(st.just(ascii_only), json_values(ascii_only))),
       st.sampled_from([None, 2]))
def test_json_reads_the_same_as_json_loads(generated, indent):
    ascii_only, value = generated
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    data, problems = read_yaml(text, "case.json", case=True)
    assert not problems and data == json.loads(text)


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"),
                    reason="libyaml refuses the escape; PyYAML's own reader keeps lone surrogates")
def test_json_beyond_the_basic_plane_is_refused_not_misread():
    data, problems = read_yaml(json.dumps({"text": "\U0001F600"}), "case.json", case=True)
    assert data is None and problems[0].where.startswith("case.json:1:") and "escape" in problems[0].message


# --- reading files -----------------------------------------------------------------------------------


@pytest.fixture
def specials(tmp_path):
    """Files named *.yaml that are not regular files."""
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "to_fifo.yaml").symlink_to(tmp_path / "fifo.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.yaml"))
    yield tmp_path
    server.close()


@pytest.mark.parametrize("name, kind", [("fifo.yaml", "a FIFO"), ("to_fifo.yaml", "a FIFO"), ("dir.yaml", "a directory"),
                                        ("zero.yaml", "a character device"), ("sock.yaml", "a socket")])
def test_special_files_are_refused_without_blocking(specials, name, kind):
    with deadline():
        text, problem = read_bounded_text(specials / name, MAX_CASE_BYTES, name=name, what="case file")
    assert text is None and problem.where == name
    assert problem.message.startswith(f"cannot read case file: it is {kind}") and "not a regular file" in problem.message


def test_a_fifo_swapped_in_after_the_check_does_not_block(specials, tmp_path, monkeypatch):
    regular = tmp_path / "regular.yaml"
    regular.write_text("a: 1\n")
    real_stat = os.stat
    # the check sees a regular file, the open finds the FIFO (as if swapped in between)
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(regular if str(p).endswith("fifo.yaml") else p))
    with deadline():
        text, problem = read_bounded_text(specials / "fifo.yaml", MAX_CASE_BYTES)
    assert text is None and "FIFO" in problem.message


def test_size_limit_is_exact_and_named(tmp_path):
    file = tmp_path / "case.yaml"
    file.write_bytes(b"#" * 1024)
    assert read_bounded_text(file, 1024) == ("#" * 1024, None)
    text, problem = read_bounded_text(file, 1023, what="case file")
    assert text is None and problem.where == str(file)
    assert problem.message == "cannot read case file: the file is 1 KiB, over the limit of 1023 bytes"
    file.write_bytes(b"a" * (10 * 1024 * 1024))
    with deadline():
        _, problem = read_bounded_text(file, MAX_CASE_BYTES, what="case file")
    assert problem.message == "cannot read case file: the file is 10 MiB, over the limit of 256 KiB"


def test_unsized_files_are_still_bounded():
    text, problem = read_bounded_text("/proc/self/status", 16)
    assert text is None and "over the limit of 16 bytes" in problem.message


def test_bad_utf8_points_at_the_byte(tmp_path):
    file = tmp_path / "case.yaml"
    file.write_bytes(b"pain:\n  - lower_back\n  - caf\xe9\n")
    text, problem = read_bounded_text(file, 100, name="case.yaml", what="case file")
    assert text is None
    assert str(problem) == "case.yaml:3:8: cannot read case file: not UTF-8 text (byte 0xe9); save it as UTF-8"
    file.write_bytes("pain: [genou, épaule, ".encode() + b"caf\xe9]\n")  # the column counts characters
    assert read_bounded_text(file, 100, name="case.yaml")[1].where == "case.yaml:1:26"


# --- the case file entry point ----------------------------------------------------------------------

HOSTILE_FILES = {name: text.encode() for name, text in HOSTILE_YAML.items()}
HOSTILE_FILES |= {"big": b"a" * (10 * 1024 * 1024), "bad_utf8": b"pain: [caf\xe9]\n", "nul": b"pain: [x]\n\x00\n",
                  "tab": b"pain:\n\t- lower_back\n"}
HOSTILE_MESSAGES = {"big": "over the limit of 256 KiB", "bad_utf8": "not UTF-8", "nul": "not valid YAML or JSON",
                    "tab": "not valid YAML or JSON"}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_case_files_raise_case_error_naming_the_file(tmp_path, name):
    file = tmp_path / f"{name}.yaml"
    file.write_bytes(HOSTILE_FILES[name])
    with deadline(), pytest.raises(CaseError) as caught:
        load_case_file_data(file)
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.where.startswith(str(file))
    assert HOSTILE_MESSAGES.get(name, "limit") in problem.message


def test_special_case_files_raise_case_error(specials):
    for name in ("fifo.yaml", "dir.yaml", "zero.yaml", "to_fifo.yaml", "missing.yaml"):
        with deadline(), pytest.raises(CaseError, match="cannot read case file") as caught:
            load_case_file_data(specials / name)
        assert caught.value.problems[0].where == str(specials / name)


def test_json_case_with_a_repeated_key_is_refused(tmp_path):
    file = tmp_path / "case.json"
    file.write_text('{"pain": ["lower_back"],\n "red_flags": [{"id": "fever", "present": true}],\n'
                    ' "red_flags": [{"id": "fever", "present": false}]}\n')
    with pytest.raises(CaseError) as caught:
        load_case_file_data(file)
    assert str(caught.value) == f"{file}:3:2: duplicate key 'red_flags' (first at line 2); YAML would keep only the last"


def test_case_files_read_as_yaml_1_2(tmp_path):
    file = tmp_path / "case.yaml"
    file.write_text("red_flags:\n  - {id: fever, present: no}\ndate: 2026-12-01\nage: 38\n")
    assert load_case_file_data(file) == {"red_flags": [{"id": "fever", "present": "no"}], "date": "2026-12-01", "age": 38}
    file.write_text("  \n# nothing\n")
    assert load_case_file_data(file) in ({}, None)
    file.write_text("pain: [lower_back\n")
    with pytest.raises(CaseError, match=r"case.yaml:2:1: not valid YAML or JSON"):
        load_case_file_data(file)


# --- the KB loader ----------------------------------------------------------------------------------


def _kb_with(tmp_path, name: str, content: bytes | None = None):
    folder = write_kb(tmp_path / "kb")
    if content is not None:
        (folder / name).write_bytes(content)
    return folder


@pytest.mark.parametrize("name, expected", [
    ("laughs.yaml", f"aliases expand to more than {MAX_ALIAS_NODES} nodes"),
    ("deep.yaml", f"nested more than {MAX_DEPTH} levels deep"),
    ("big.yaml", "over the limit of 2 MiB"),
    ("latin1.yaml", "not UTF-8 text (byte 0xe9)"),
])
def test_kb_folder_with_a_hostile_file_reports_it(tmp_path, name, expected):
    content = {"laughs.yaml": laughs().encode(), "deep.yaml": b"[" * 50_000, "latin1.yaml": b"x: caf\xe9\n",
               "big.yaml": b"#" * (MAX_KB_FILE_BYTES + 1)}[name]
    folder = _kb_with(tmp_path, name, content)
    with deadline():
        problems = [str(p) for p in read_kb(folder).problems]
    assert [p for p in problems if name in p and expected in p], problems


@pytest.mark.parametrize("name, kind", [("fifo.yaml", "a FIFO"), ("dir.yaml", "a directory"), ("to_fifo.yaml", "a FIFO"),
                                        ("zero.yaml", "a character device")])
def test_kb_folder_with_a_special_file_reports_it(tmp_path, name, kind):
    folder = _kb_with(tmp_path, "kb.yaml")
    if name == "dir.yaml":
        (folder / name).mkdir()
    elif name == "zero.yaml":
        (folder / name).symlink_to("/dev/zero")
    else:
        os.mkfifo(folder / "fifo.yaml")
        if name != "fifo.yaml":
            (folder / name).symlink_to(folder / "fifo.yaml")
    with deadline():
        problems = [str(p) for p in read_kb(folder).problems]
    expected = f"{name}: cannot read KB file: it is {kind}"
    assert any(expected in p and "not a regular file" in p for p in problems), problems


def test_bundled_kb_fits_the_limits_and_keeps_its_hash():
    files = sorted(BUNDLED_KB.glob("*.yaml"))
    assert max(f.stat().st_size for f in files) * 20 < MAX_KB_FILE_BYTES
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    read = read_kb()
    assert not read.problems and read.content_hash == digest.hexdigest()


# --- never raises, never hangs -----------------------------------------------------------------------

pieces = st.sampled_from(["[", "]", "{", "}", ",", ":", ": ", "- ", "&a ", "&b ", "*a", "*b", "? ", "!!str ", "!x ",
                          "\n", "\n  ", "\t", "#", "'", '"', "|", ">", "---\n", "...\n", "%YAML 1.1\n", "x", "yes",
                          "2026-12-01", "0o7", "1e9", "\x00", "\ufeff", "\x85", "\u2028", "é"])
yaml_like = st.lists(pieces, max_size=60).map("".join)
any_text = st.text(max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(yaml_like, any_text), case=st.booleans())
def test_read_yaml_never_raises_or_hangs(text, case):
    with deadline():
        data, problems = read_yaml(text, "fuzz.yaml", case=case)
    assert isinstance(problems, list) and all(p.where.startswith("fuzz.yaml") for p in problems)
    assert data is None or not any(p.message.startswith("YAML syntax") for p in problems)
