"""The one exception hierarchy of compensa.

Every error a user can cause (a broken knowledge-base file, a bad case) is a :class:`CompensaError`
carrying one or more :class:`Problem` records: what is wrong, where (``file:line:col`` for KB files,
a field path such as ``tests[2].result`` for cases) and the closest valid ids. The command line maps
``exit_code`` to its exit status; the HTTP service maps these errors to 422 responses.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "CaseError",
    "CompensaError",
    "KBError",
    "OutputError",
    "Problem",
    "UsageError",
    "closest",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: a message, where it is, and suggested fixes."""

    message: str
    where: str = ""
    value: object = None
    suggestions: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.suggestions:
            text += f" (did you mean {', '.join(repr(s) for s in self.suggestions)}?)"
        return text

    def to_dict(self) -> dict[str, object]:
        """The problem as JSON-ready data (``loc``, ``msg``, ``input``, ``suggestions``)."""
        return {
            "loc": self.where,
            "msg": self.message,
            "input": self.value,
            "suggestions": list(self.suggestions),
        }


class CompensaError(Exception):
    """Base of every error compensa raises on purpose; ``exit_code`` is the CLI exit status."""

    exit_code = 2

    def __init__(self, problems: Problem | str | Iterable[Problem]):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class KBError(CompensaError):
    """The knowledge base is malformed or inconsistent; problems carry ``file:line:col``."""


class CaseError(CompensaError):
    """Bad input in a case: malformed, or naming unknown terms. Problems carry the field path
    (``tests[1].result``) and the closest known ids."""


class UsageError(CompensaError):
    """A command or request was used wrongly: a bad option or combination, an unknown output format,
    or an option or lookup naming nothing in the KB (``explain --target MUSCLE``, ``--why-not ROOT``,
    ``kb show ID``, ``kb graph --root``), with the closest known ids. The KB and the case are fine."""


class OutputError(CompensaError):
    """Writing a result failed for a reason outside the input (disk full, I/O error): exit status 1."""

    exit_code = 1


def closest(word: object, known: Iterable[str], n: int = 3) -> tuple[str, ...]:
    """Return up to ``n`` known ids closest to ``word`` (for "did you mean" suggestions)."""
    if not isinstance(word, str):
        return ()
    known = list(known)
    lowered = word.strip().lower().replace(" ", "_").replace("-", "_")
    found = difflib.get_close_matches(lowered, known, n=n, cutoff=0.6)
    if not found:
        found = [k for k in known if lowered and (lowered in k or k in lowered)][:n]
    return tuple(found)
