"""The on-disk KB cache: a hit gives the same KB, an edit is never missed, a bad entry is rebuilt."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from compensa.kb import BUNDLED_KB, cache, loader


def _fresh_load(folder: Path):
    loader._load_cached.cache_clear()
    return loader.load_kb(folder)


def test_a_cached_kb_is_the_same_and_an_edit_is_seen(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPENSA_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "kb"
    shutil.copytree(BUNDLED_KB, folder)
    first = _fresh_load(folder)
    assert list((tmp_path / "cache").glob("*.pickle"))  # stored
    again = _fresh_load(folder)
    assert again == first and again.version_string == first.version_string
    meta = folder / "kb.yaml"
    meta.write_text(meta.read_text().replace("version:", "version: '9.9'\n# was:", 1))
    edited = _fresh_load(folder)
    assert edited.version == "9.9" and edited.content_hash != first.content_hash


def test_a_corrupt_or_foreign_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPENSA_CACHE_DIR", str(tmp_path / "cache"))
    key = cache.key_for("test", [BUNDLED_KB])
    cache.store(key, {"a": 1})
    assert cache.fetch(key) == {"a": 1}
    (tmp_path / "cache" / f"{key}.pickle").write_bytes(b"not a pickle")
    assert cache.fetch(key) is None


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPENSA_CACHE_DIR", "off")
    assert cache.cache_dir() is None
    key = cache.key_for("test", [BUNDLED_KB])
    cache.store(key, 1)
    assert cache.fetch(key) is None


def test_kb_lint_remembers_a_clean_result_and_says_the_same(tmp_path):
    env = {"COMPENSA_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "compensa", "kb", "lint"]
    first = subprocess.run(run, capture_output=True, text=True, env=env, check=True)
    second = subprocess.run(run, capture_output=True, text=True, env=env, check=True)
    fresh = subprocess.run(run + ["--no-cache"], capture_output=True, text=True, env=env, check=True)
    assert "clean" in first.stdout and first.stdout == second.stdout == fresh.stdout
