"""Resolve the words people type ("IT band", "low back", "Ober's test") to knowledge-base ids.

Matching ignores case, spaces, hyphens, underscores, slashes and apostrophes. Each case section
has its own vocabulary (pain sites, findings, tests, history, diagnoses, red flags), so the same
word can be a finding and a dysfunction without ambiguity; a word found in the wrong section is
reported with the section it belongs to.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from compensa.errors import closest
from compensa.kb.model import KnowledgeBase

__all__ = ["KINDS", "Vocabulary", "normalize"]

#: Vocabulary kinds, in the order of the case sections.
KINDS = ("pain", "finding", "test", "history", "diagnosis", "red_flag", "yellow_flag", "muscle", "root")

_SEPARATORS = re.compile(r"[\s\-_/.,]+")


#: Words that carry no meaning for matching a phrase to a name.
_FILLER = frozenset({"the", "a", "an", "of", "on", "in", "at", "to", "and", "or", "with", "when", "while", "my", "his",
                     "her", "their", "is", "are", "was", "pain", "painful", "ache", "aching", "sore"})


def _stems(text: str) -> list[str]:
    """The meaningful words of a term as written, each lightly stemmed (crosses/crossing -> cross).

    Words are split on spaces only, so a compound keeps its hyphen: "sit-ups" is not "sits"."""
    out = []
    for part in (w.strip(".,;:()'\"").lower() for w in text.split()):
        if not part or part in _FILLER:
            continue
        for suffix in ("ing", "es", "s"):
            if len(part) > len(suffix) + 2 and part.endswith(suffix):
                part = part[: -len(suffix)]
                break
        out.append(part)
    return out


def _fuzzy(word: str, index: dict[str, str], n: int) -> tuple[str, ...]:
    """Up to ``n`` ids whose names are close to ``word`` (rapidfuzz token-set ratio >= 70), best first."""
    from rapidfuzz import fuzz, process

    found: list[str] = []
    hits = process.extract(word.replace("_", " "), {k: k.replace("_", " ") for k in index},
                           scorer=fuzz.token_set_ratio, limit=n * 4, score_cutoff=70)
    top = hits[0][1] if hits else 0
    for _shown, score, name in hits:
        id_ = index[name]
        if id_ not in found and score >= top - 12:  # only the near-best: a weak tail misleads more than it helps
            found.append(id_)
    return tuple(found[:n])


def normalize(term: str) -> str:
    """Canonical form used for matching: lower case, words joined by ``_``, no apostrophes."""
    term = term.strip().lower().replace("'", "").replace("\u2019", "")
    return _SEPARATORS.sub("_", term).strip("_")


class Vocabulary:
    """Term -> id lookup for every kind of case term, with aliases and suggestions."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self._ids: dict[str, list[str]] = {k: [] for k in KINDS}
        self._index: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self._entries: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {k: [] for k in KINDS}
        self._names: dict[str, list[tuple[str, str]]] = {k: [] for k in KINDS}  # (label or alias as written, id)
        findings = [a for a in kb.assessments.values() if a.kind == "finding"]
        tests = [a for a in kb.assessments.values() if a.kind == "test"]
        sections: tuple[tuple[str, Iterable[Any]], ...] = (
            ("pain", kb.pain_sites.values()), ("finding", findings), ("test", tests),
            ("history", kb.history.values()), ("diagnosis", kb.conditions.values()),
            ("red_flag", kb.red_flags.values()), ("yellow_flag", kb.yellow_flags.values()),
            ("muscle", kb.muscles.values()), ("root", kb.roots.values()),
        )
        for kind, records in sections:
            for record in sorted(records, key=lambda r: r.id):
                aliases = tuple(record.aliases)
                if kind == "finding" and record.id in kb.dysfunctions:
                    aliases += tuple(a for a in kb.dysfunctions[record.id].aliases if a not in aliases)
                self._add(kind, record.id, record.label, aliases)

    def _add(self, kind: str, id_: str, label: str, aliases: Iterable[str]) -> None:
        self._ids[kind].append(id_)
        self._entries[kind].append((id_, label, tuple(aliases)))
        index = self._index[kind]
        for word in (id_, label, *aliases):
            index.setdefault(normalize(word), id_)
            self._names[kind].append((word.replace("_", " "), id_))

    def ids(self, kind: str) -> list[str]:
        """All ids of ``kind``, sorted."""
        return list(self._ids[kind])

    def names(self, kind: str) -> list[tuple[str, str]]:
        """Every ``(name as written, id)`` of ``kind``: ids (spaced), labels and aliases."""
        return list(self._names[kind])

    def resolve(self, kind: str, term: object) -> str | None:
        """The id ``term`` names in ``kind`` (by id, label or alias, or a phrase variant), or ``None``.

        A phrase variant is a term that contains every word of one name of exactly one entry of this
        kind ("crosses legs when sitting" holds "crosses legs"): the longest such name wins, and when
        two entries' names fit equally the term stays unknown (never a guess, never another kind)."""
        if not isinstance(term, str):
            return None
        return self._index[kind].get(normalize(term)) or self._phrase(kind, term)

    def _phrase(self, kind: str, term: str) -> str | None:
        words = set(_stems(term))
        if len(words) < 2:
            return None
        best: dict[str, int] = {}
        for name, id_ in self._names[kind]:
            name_words = set(_stems(name))
            # every word of the name is in the term, and the name is most of what the term says
            if len(name_words) >= 2 and name_words <= words and len(name_words) >= 0.6 * len(words):
                best[id_] = max(best.get(id_, 0), len(name_words))
        if not best:
            return None
        top = max(best.values())
        winners = [i for i, n in best.items() if n == top]
        return winners[0] if len(winners) == 1 else None

    def suggest(self, kind: str, term: object, n: int = 3) -> tuple[str, ...]:
        """The closest ids of ``kind`` to an unknown ``term`` (rapidfuzz over ids, labels and aliases)."""
        if not isinstance(term, str):
            return ()
        word = normalize(term)
        fuzzy = _fuzzy(word, self._index[kind], n)
        if fuzzy:
            return fuzzy
        found = list(closest(word, self._ids[kind], n))
        if len(found) < n:
            for alias, id_ in self._index[kind].items():
                if id_ not in found and (word and (word in alias or alias in word)):
                    found.append(id_)
                if len(found) >= n:
                    break
        if len(found) < n:
            for id_ in closest(word, list(self._index[kind]), n):
                mapped = self._index[kind][id_]
                if mapped not in found:
                    found.append(mapped)
        if not found:  # nothing is close: still offer the nearest few, so the user sees what is valid
            ranked = sorted(self._ids[kind], key=lambda i: (-difflib.SequenceMatcher(None, word, i).ratio(), i))
            found = ranked[:n]
        return tuple(found[:n])

    def resembles_red_flag(self, term: object) -> bool:
        """Whether an unknown term reads like a red flag ("cauda equina" under diagnoses): its name, a
        phrase variant of it, or a close spelling (rapidfuzz) of a red flag's label or alias."""
        if not isinstance(term, str):
            return False
        if self.resolve("red_flag", term):
            return True
        from rapidfuzz import fuzz, process

        names = [name for name, _ in self._names["red_flag"] if " " in name.strip() or len(name) >= 6]  # "ca", "temp": too generic
        return process.extractOne(term.lower(), [n.lower() for n in names], scorer=fuzz.token_set_ratio,
                                  score_cutoff=88) is not None

    def other_kinds(self, kind: str, term: object) -> list[str]:
        """Case kinds other than ``kind`` in which ``term`` is known (to say where it belongs)."""
        return [k for k in KINDS[:7] if k != kind and self.resolve(k, term)]

    def to_dict(self) -> dict[str, list[dict[str, object]]]:
        """Every kind's ids with labels and aliases (for ``GET /v1/kb/vocabulary``)."""
        def entry(id_: str, label: str, aliases: tuple[str, ...]) -> dict[str, object]:
            out: dict[str, object] = {"id": id_, "label": label, "aliases": list(aliases)}
            codes = self.kb.codes(id_)
            if codes:
                out["codes"] = dict(codes)
            return out

        return {kind: [entry(*e) for e in entries] for kind, entries in self._entries.items()}
