"""Writing output files without ever leaving half of one behind (shared by every layer)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_writer"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The reader sees the old file or the whole new one, never a part; the file gets the usual
    permissions (0666 less the umask, not mkstemp's 0600); on any failure the temporary file is
    removed and the error (an OSError for I/O) is raised.
    """
    with atomic_writer(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file to stream into; on leaving the block it becomes ``path`` at once (a rename).

    Like :func:`atomic_write` for output too big to hold in memory (``compensa batch``): the data
    goes to a temporary file in the same folder; an exception inside the block (or an I/O error on
    closing) removes it and leaves ``path`` as it was."""
    import tempfile  # on first use: the command line imports this module for every command

    fd, tmp = tempfile.mkstemp(prefix=".compensa-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
