"""Arbitrary YAML never crashes the loader: it yields problems (a KBError), never another exception."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compensa.errors import KBError
from compensa.kb import load_kb, read_kb
from compensa.kb.loader import _load_cached
from tests.kb.minimal import FILES, write_kb

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["id", "glute", "valgus", "src", "M", "H", "tight"]))
keys = st.one_of(st.sampled_from(["id", "label", "from", "to", "strength", "evidence", "source", "sites", "muscles",
                                  "links", "roots", "kb", "tight", "weak", "on_positive", "node", "muscle"]),
                 st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=20)
documents = st.one_of(values, st.dictionaries(st.sampled_from(list(FILES) and
                      ["kb", "sources", "muscles", "roots", "links", "conditions", "assessments", "history",
                       "red_flags", "pain_sites", "dysfunctions", "interventions", "junk"]),
                      st.lists(st.dictionaries(keys, values, max_size=6), max_size=3), max_size=3))
raw_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


def _folder_with(name: str, text: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="kbfuzz-"))
    write_kb(folder)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def _check(folder: Path) -> None:
    try:
        read = read_kb(folder)
        assert isinstance(read.problems, list)
        _load_cached.cache_clear()
        try:
            load_kb(folder)
        except KBError as exc:
            assert exc.problems and all(str(p) for p in exc.problems)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(FILES)), document=documents)
def test_arbitrary_yaml_structures_give_kb_errors_only(name, document):
    _check(_folder_with(name, yaml.safe_dump(document, allow_unicode=True)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(FILES)), text=raw_text)
def test_arbitrary_text_gives_kb_errors_only(name, text):
    _check(_folder_with(name, text))


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(FILES)), cut=st.integers(0, 400))
def test_truncated_files_give_kb_errors_only(name, cut):
    _check(_folder_with(name, FILES[name][:cut]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(FILES)), raw=st.binary(max_size=300))
def test_arbitrary_bytes_give_kb_errors_only(name, raw):
    folder = _folder_with(name, "")
    (folder / name).write_bytes(raw)  # not UTF-8, NUL bytes, a BOM: problems, never an exception
    _check(folder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(FILES)), depth=st.integers(1, 3000), opener=st.sampled_from(["[", "{a: ", "- ", "&a ["]))
def test_deep_nesting_gives_kb_errors_only(name, depth, opener):
    _check(_folder_with(name, opener * depth))
