"""The knowledge base: YAML files, the typed model they load into, and the checks that keep them right.

Use :func:`load_kb` (strict, cached) to get a :class:`KnowledgeBase`, and :func:`lint_kb` to list
every problem with ``file:line:col``. The names are imported on first use (PEP 562), so that a
command answered from the KB cache (``compensa kb lint`` on an unchanged KB) does not pay for the
model and the checks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compensa.kb.lint import lint_kb
    from compensa.kb.loader import BUNDLED_KB, load_kb, read_kb
    from compensa.kb.model import KnowledgeBase

__all__ = ["BUNDLED_KB", "KnowledgeBase", "lint_kb", "load_kb", "read_kb"]

_WHERE = {"lint_kb": "lint", "BUNDLED_KB": "loader", "load_kb": "loader", "read_kb": "loader",
          "KnowledgeBase": "model"}


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
