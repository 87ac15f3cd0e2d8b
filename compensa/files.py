"""Writing output files without ever leaving half of one behind (shared by every layer)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The reader sees the old file or the whole new one, never a part; the file gets the usual
    permissions (0666 less the umask, not mkstemp's 0600); on any failure the temporary file is
    removed and the error (an OSError for I/O) is raised.
    """
    fd, tmp = tempfile.mkstemp(prefix=".compensa-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
