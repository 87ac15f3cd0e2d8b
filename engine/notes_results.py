"""How a test's result and side are read from the words after (and just before) its name.

Order of evidence, strongest first: an explicit mark (``+ve``, ``neg``, ``WNL``) anywhere up to the
next recognised item in the sentence; a descriptive word (``weak``, ``tight``, ``normal``, ``4/5``) in
the test's own clause; a measurement against the KB's cut-off (``Navicular drop 15 mm R``); a fault
seen during the test (``knee valgus on single-leg squat``); a name that states its finding
(``reduced neck rotation``). Results read for the left and the right alike become one ``both``.
Several measured sides keep the abnormal ones: the others are comparison values ("KTW 6 cm L vs
11 cm R" is one result, on the left).
"""

from __future__ import annotations

import re

from compensa.engine.notes_words import CUTOFFS, MARKS, NEGATIVE, NEGATIVE_PHRASES, NO_RESULT, POSITIVE, SIDES

__all__ = ["measured", "merge_sides", "no_result", "phrase_value", "side_at", "side_of", "word_results"]

_GRADE = re.compile(r"[0-5][+-]?/5")
_NUMBER = re.compile(r"[~≈<>]?(-?\d+(?:\.\d+)?)(/30)?$")
_UNITS = {"mm", "cm", "deg", "°", "degrees", "degree", "kg", "s", "sec", "reps", "mmhg"}


def side_of(token) -> str | None:
    """The side a token names ("R", "rt", "B/L" joined, "R." at a sentence end), or None."""
    word = token.lower_.strip(".,;:")
    return SIDES.get(word)


def side_at(doc, i: int) -> str | None:
    """The side named at token ``i``, reading "B / L" (three tokens) as both."""
    ahead = "".join(t.lower_ for t in doc[i:i + 3]).strip(".,;:")
    behind = "".join(t.lower_ for t in doc[max(i - 2, 0):i + 1]).strip(".,;:")
    return "both" if "b/l" in (ahead, behind) else side_of(doc[i])


def _bare_sign(doc, i: int) -> bool:
    """A lone ``+`` or ``-`` is a result only when it stands apart ("Thompson - "), not in "C1-2" or "70-120"."""
    token = doc[i]
    before = doc[i - 1] if i > 0 else None
    glued_before = before is not None and not before.whitespace_ and before.text not in "(["
    glued_after = not token.whitespace_ and i + 1 < len(doc) and doc[i + 1].text not in ("ve", ")", ",", ".")
    return not (glued_before or glued_after)


def _word_value(doc, i: int) -> tuple[str | None, bool]:
    """(positive | negative | None, whether it is an explicit mark) for the token at ``i``."""
    word = re.sub(r"[()]", "", doc[i].lower_)
    nxt = doc[i + 1].lower_ if i + 1 < len(doc) else ""
    if word in ("+", "-") and nxt == "ve":
        return ("positive" if word == "+" else "negative"), True
    if word in ("+", "-") and not _bare_sign(doc, i):
        return None, False
    if word in MARKS:
        return MARKS[word], True
    if word in NEGATIVE or re.fullmatch(r"5/5", word):
        return "negative", False
    if word in POSITIVE or _GRADE.fullmatch(word):
        return "positive", False
    return None, False


def phrase_value(text: str) -> str | None:
    return "negative" if any(p in text for p in NEGATIVE_PHRASES) else None


def no_result(doc, start: int, end: int) -> bool:
    """Whether the words say the test gave no result ("not tested", "equivocal", "unable to assess")."""
    text = " ".join(t.lower_ for t in doc[start:end])
    return any(p in text for p in NO_RESULT)


def _sides_between(doc, low: int, high: int) -> str | None:
    """The side said between two tokens: after "vs" only a comparison follows ("14 L vs 25 R" is the left);
    both sides named ("L 20 reps, R 24 - WNL") is both; else the nearest."""
    found = [(j, side_at(doc, j)) for j in range(low, high) if side_at(doc, j)]
    if not found:
        return None
    versus = next((j for j in range(low, high) if doc[j].lower_ in ("vs", "v", "versus", "cf")), None)
    if versus is not None and found[0][0] < versus:
        return found[0][1]
    named = {s for _j, s in found}
    return "both" if {"left", "right"} <= named else found[-1][1]


def _pair_sides(doc, events: list[tuple[int, str]], start: int, end: int) -> list[tuple[str, str | None]]:
    """Each result with the side right after it (before the next result), else the side between it and the
    previous result (or the test's name)."""
    out = []
    for n, (i, value) in enumerate(events):
        stop = events[n + 1][0] if n + 1 < len(events) else end
        side = next((side_at(doc, j) for j in range(i + 1, min(stop, i + 5)) if side_at(doc, j)), None)
        if side is None:
            side = _sides_between(doc, events[n - 1][0] + 1 if n else start, i)
        out.append((value, side))
    return out


def word_results(doc, start: int, end: int, clause_end: int) -> list[tuple[str, str | None]]:
    """Results said in words after a test name, tokens ``start:end`` (marks) and ``start:clause_end``."""
    marks, words = [], []
    negative_phrase = phrase_value(" ".join(t.lower_ for t in doc[start:clause_end]))
    for i in range(start, end):
        value, mark = _word_value(doc, i)
        if value and mark:
            marks.append((i, value))
        elif value and i < clause_end:
            words.append((i, negative_phrase or value))
    chosen = marks or words[:1]
    if not chosen and negative_phrase:
        chosen = [(start, negative_phrase)]
    return _pair_sides(doc, chosen, start, end)


def _compare(value: float, rule: str, cut: float) -> bool:
    return {"gt": value > cut, "lt": value < cut, "le": value <= cut, "ge_abs": abs(value) >= cut}[rule]


def _values(doc, start: int, end: int, units: tuple[str, ...]) -> list[tuple[float, str | None]]:
    out = []
    for i in range(start, end):
        found = _NUMBER.match(doc[i].text)
        if not found:
            continue
        unit = found.group(2) or (doc[i + 1].lower_.strip(".,") if i + 1 < end else "")
        unit = "" if "" in units and unit in SIDES else unit
        if unit not in units and not ("" in units and unit not in _UNITS):
            continue
        skip = 2 if unit and not found.group(2) else 1
        side = side_of(doc[i + skip]) if i + skip < len(doc) else None
        side = side or (side_of(doc[i - 1]) if i > start else None)
        out.append((float(found.group(1)), side))
    return out


def measured(test_id: str, doc, start: int, end: int) -> list[tuple[str, str | None]]:
    """Results of a measurement after a test name, by the cut-off in ``CUTOFFS`` (abnormal sides kept)."""
    rule = CUTOFFS.get(test_id)
    if rule is None:
        return []
    units, comparison, cut, _source = rule
    values = _values(doc, start, end, units)
    if not values:
        return []
    if comparison == "lsi":  # the first side against the other: "SL heel raise 12 L vs 22 R"
        if len(values) < 2 or not values[1][0]:
            return []
        return [("positive" if values[0][0] / values[1][0] < cut else "negative", values[0][1])]
    positive = [("positive", side) for value, side in values if _compare(value, comparison, cut)]
    return positive or [("negative", values[0][1])]


def merge_sides(results: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """One result per side; the same result on the left and the right is ``both``."""
    by_result: dict[str, list[str | None]] = {}
    for value, side in results:
        by_result.setdefault(value, [])
        if side not in by_result[value]:
            by_result[value].append(side)
    out: list[tuple[str, str | None]] = []
    for value, sides in by_result.items():
        named = [s for s in sides if s]
        if "both" in named or {"left", "right"} <= set(named):
            out.append((value, "both"))
        elif named:
            out.extend((value, s) for s in named)
        else:
            out.append((value, None))
    return out
