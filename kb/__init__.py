"""The knowledge base: YAML files, the typed model they load into, and the checks that keep them right.

Use :func:`load_kb` (strict, cached) to get a :class:`KnowledgeBase`, and :func:`lint_kb` to list
every problem with ``file:line:col``.
"""

from compensa.kb.lint import lint_kb
from compensa.kb.loader import BUNDLED_KB, load_kb, read_kb
from compensa.kb.model import KnowledgeBase

__all__ = ["BUNDLED_KB", "KnowledgeBase", "lint_kb", "load_kb", "read_kb"]
