"""Strict check of the annotated notes in this folder (not collected by pytest).

Every expect id must be a canonical KB id (not an alias), every expect must pass consult() with an
empty `unrecognised`, and every `unrecognised` phrase must occur in the note's text.
Run: .venv/bin/python tests/data/notes/check_notes.py  (this folder and heldout/; or name folders)
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import yaml

from compensa.engine import consult
from compensa.errors import CaseError
from compensa.kb import load_kb
from compensa.kb.vocabulary import Vocabulary

HERE = Path(__file__).resolve().parent
KIND = {"pain": "pain", "findings": "finding", "tests": "test", "red_flags": "red_flag",
        "yellow_flags": "yellow_flag", "history": "history", "diagnoses": "diagnosis"}
EXPECT_KEYS = set(KIND) | {"age", "sex", "onset", "duration_weeks"}
NOTE_KEYS = {"id", "region", "text", "expect", "unrecognised"}


def main() -> int:
    kb = load_kb()
    vocab = Vocabulary(kb).to_dict()
    ids = {kind: {e["id"] for e in entries} for kind, entries in vocab.items()}
    regions = set(kb.regions)
    problems: list[str] = []
    by_region: Counter[str] = Counter()
    folders = [Path(a) for a in sys.argv[1:]] or [HERE, HERE / "heldout"]
    files = sorted(p for folder in folders for p in folder.glob("*.yaml"))
    for path in files:
        note = yaml.safe_load(path.read_text(encoding="utf-8"))
        stem = path.stem

        def bad(msg: str, stem: str = stem) -> None:
            problems.append(f"{stem}: {msg}")

        if set(note) - NOTE_KEYS:
            bad(f"unknown keys {sorted(set(note) - NOTE_KEYS)}")
        if note.get("id") != stem:
            bad("id differs from the file name")
        if not stem.removeprefix("held_").startswith(f"{note.get('region')}_") or note.get("region") not in regions:
            bad(f"region {note.get('region')!r}")
        by_region[note.get("region")] += 1
        expect = note["expect"]
        if set(expect) - EXPECT_KEYS:
            bad(f"unknown expect keys {sorted(set(expect) - EXPECT_KEYS)}")
        for section, kind in KIND.items():
            seen = set()
            for item in expect.get(section, []):
                item = {"id": item} if isinstance(item, str) else item
                term = item.get("site", item.get("id"))
                if term not in ids[kind]:
                    bad(f"{section}: {term!r} is not a canonical {kind} id")
                key = (term, item.get("side"), item.get("result"))
                if key in seen:
                    bad(f"{section}: duplicate {key}")
                seen.add(key)
        for phrase in note.get("unrecognised", []):
            if phrase.lower() not in note["text"].lower():
                bad(f"unrecognised phrase not in the text: {phrase!r}")
        try:
            report = consult(expect).to_dict()
        except CaseError as exc:  # the validator names the bad id
            bad(f"consult refused it: {exc}")
        else:
            if report["unrecognised"]:
                bad(f"consult did not recognise {report['unrecognised']}")
    print(f"{len(files)} notes: " + ", ".join(f"{r} {n}" for r, n in sorted(by_region.items())))
    print("\n".join(problems) or "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
