"""The one exception hierarchy of compensa.

Every error a user can cause (a broken knowledge-base file, a bad case) is a :class:`CompensaError`
carrying one or more :class:`Problem` records: what is wrong, where (``file:line:col`` for KB files,
a field path such as ``tests[2].result`` for cases) and the closest valid ids. The command line maps
``exit_code`` to its exit status; the HTTP service maps these errors to 422 responses.
"""

from __future__ import annotations

import difflib
import math
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
    "json_loc",
    "json_safe",
    "problem_json",
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


def json_loc(where: str, root: str = "body") -> list:
    """A problem's place as a JSON path list: ``'tests[1].result'`` -> ``[root, 'tests', 1, 'result']``."""
    out: list = [root]
    for part in where.replace("]", "").replace("[", ".").split("."):
        if part:
            out.append(int(part) if part.isdigit() else part)
    return out


def json_safe(value: object, depth: int = 0) -> object:
    """Echo an input value back in JSON safely: no bytes, NaN, infinities or unpaired surrogates, bounded."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes that are not a JSON object>"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text if len(text) <= 200 else text[:200] + "\u2026"
    if isinstance(value, (list, tuple)):
        return [json_safe(v, depth + 1) for v in list(value)[:20]] if depth < 3 else "\u2026"
    if isinstance(value, dict):
        return {str(json_safe(k, 3)): json_safe(v, depth + 1) for k, v in list(value.items())[:20]} if depth < 3 else "\u2026"
    if value is None or isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or abs(value) < 10**15 else "<a very large number>"
    return repr(value)[:200]


def problem_json(problem: Problem, root: str = "body") -> dict:
    """A problem as the service and ``compensa batch`` answer it: ``loc`` (a path list under ``root``),
    ``msg``, ``input`` (echoed safely, see :func:`json_safe`) and ``suggestions``."""
    return {"loc": json_loc(problem.where, root), "msg": problem.message, "input": json_safe(problem.value),
            "suggestions": list(problem.suggestions)}
