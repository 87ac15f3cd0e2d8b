"""Score the note reader on an annotated folder: per-field precision, recall and F1, red-flag answers,
parse time, and each note's misses (not collected by pytest; the same counting as tests/engine/test_notes.py).

Run: .venv/bin/python tests/data/notes/score_notes.py [FOLDER] [--misses]
     (FOLDER: this folder by default; tests/data/notes/heldout for the held-out notes)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

from compensa.engine import consultant_for

FIELDS = ("pain", "findings", "tests", "red_flags", "history", "age", "sex")


def items(case: dict, field: str) -> set:
    """One field of a case as comparable (id, side, result/present) items."""
    value = case.get(field)
    if value is None:
        return set()
    if not isinstance(value, list):
        return {("value", value)}
    out = set()
    for item in value:
        if isinstance(item, str):
            out.add((item.split(":")[0], None, True))
        else:
            out.add((item.get("id") or item.get("site"), item.get("side"), item.get("result", item.get("present", True))))
    return out


def _red_flags(got: dict, expected: dict, tally: dict, note_id: str) -> None:
    answers = {g["id"]: g["present"] for g in got.get("red_flags", [])}
    raised = [x for x in expected.get("red_flags", []) if isinstance(x, dict) and x.get("present") in (True, "unsure")]
    tally["denied_wrongly"] += [(note_id, x["id"]) for x in raised if answers.get(x["id"]) is False]
    tally["found"] += sum(1 for x in raised if answers.get(x["id"]) in (True, "unsure"))
    tally["raised"] += len(raised)
    for x in expected.get("red_flags", []):
        if isinstance(x, dict) and x.get("present") is False:
            tally["negated"] += 1
            tally["negated_read"] += answers.get(x["id"]) is False


def main(argv: list[str]) -> int:
    show_misses = "--misses" in argv
    folder = Path(next((a for a in argv if not a.startswith("--")), Path(__file__).resolve().parent))
    consultant = consultant_for()
    start = time.perf_counter()
    consultant.parse_note("R knee pain")
    first = time.perf_counter() - start
    counts = {f: [0, 0, 0] for f in FIELDS}
    tally: dict = {"denied_wrongly": [], "found": 0, "raised": 0, "negated": 0, "negated_read": 0}
    times = []
    for path in sorted(folder.glob("*.yaml")):
        note = yaml.safe_load(path.read_text(encoding="utf-8"))
        start = time.perf_counter()
        got = consultant.parse_note(note["text"])["case"]
        times.append(time.perf_counter() - start)
        misses = []
        for field in FIELDS:
            a, b = items(got, field), items(note["expect"], field)
            counts[field][0] += len(a & b)
            counts[field][1] += len(a - b)
            counts[field][2] += len(b - a)
            misses += [f"  {field} extra {sorted(a - b, key=str)}"] * bool(a - b)
            misses += [f"  {field} missed {sorted(b - a, key=str)}"] * bool(b - a)
        _red_flags(got, note["expect"], tally, note["id"])
        if show_misses and misses:
            print(note["id"], *misses, sep="\n")
    print(f"{len(times)} notes in {folder}")
    for field, (tp, fp, fn) in counts.items():
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        print(f"  {field:10s} precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}   (tp {tp}, fp {fp}, fn {fn})")
    print(f"  negated red flags read as denied: {tally['negated_read']}/{tally['negated']}; "
          f"raised (present or unsure) found: {tally['found']}/{tally['raised']}; "
          f"raised read as denied: {tally['denied_wrongly'] or 'none'}")
    print(f"  parse time: first note {first:.2f} s (spaCy import and pipeline), then median "
          f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms per note")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
