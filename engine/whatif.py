"""What-if: the same consultation with findings or tests added or taken away, and what that changes.

``what_if(consultant, case, add=..., remove=...)`` consults the case as given and the case changed,
and lists every difference a clinician would act on — the ranked root causes, the triage, the plan's
targets — each with why, in the explanation's own words (the evidence that now supports or
refutes a root, the target's ``because``). ``add`` and ``remove`` are partial cases in the case
contract's shapes: an added item replaces one with the same id and side (a test's result changes);
a removed item takes away that id (on every side unless a side is given).

The command line writes changes as terms (``ober_test:positive:right``); :func:`changes_from_terms`
finds the section of each term from the KB's vocabulary and refuses one it cannot place.
"""

from __future__ import annotations

from compensa.engine.case_schema import ITEM_FIELDS, SECTIONS
from compensa.errors import CaseError, Problem

__all__ = ["apply_changes", "changes_from_terms", "summary", "what_if"]

#: Sections a term of the command line may belong to, in the order they are tried.
_TERM_SECTIONS = ("tests", "findings", "pain", "red_flags", "history", "yellow_flags", "diagnoses")


def _key(section: str, item: object) -> tuple[str, str, str]:
    """(section, id, side) of one case item, shorthand strings included."""
    if isinstance(item, str):
        parts = [p.strip() for p in item.split(":")]
        fields = ITEM_FIELDS[section]
        values = dict(zip(fields, parts))
        return section, parts[0], values.get("side", "")
    if isinstance(item, dict):
        term = item.get("site", item.get("id"))
        return section, str(term), str(item.get("side") or "")
    raise CaseError(Problem(f"an item of {section} must be a name or a mapping", section))


_CONTEXT = ("age", "sex", "onset", "duration_weeks", "date")


def _check_part(part: object, name: str) -> dict:
    """A partial case of ``add``/``remove``: a mapping of known sections (a typo is refused, never ignored)."""
    if part is None:
        return {}
    if not isinstance(part, dict):
        raise CaseError(Problem(f"{name} must be a partial case (a mapping of sections)", name))
    unknown = sorted(set(part) - set(SECTIONS) - set(_CONTEXT))
    if unknown:
        raise CaseError(Problem(f"{name}: unknown section {unknown[0]!r}", f"{name}.{unknown[0]}", unknown[0],
                                tuple(SECTIONS)))
    return part


def _without(section: str, items: list, gone: list) -> list:
    """``items`` minus those ``gone`` names (by id; by id and side when a side is given)."""
    keys = [_key(section, g) for g in gone]

    def removed(item: object) -> bool:
        _, id_, side = _key(section, item)
        return any(id_ == g[1] and (not g[2] or side == g[2]) for g in keys)

    return [i for i in items if not removed(i)]


def apply_changes(case: dict, add: dict | None = None, remove: dict | None = None) -> dict:
    """``case`` (canonical contract form) with ``remove``'s items taken away, then ``add``'s put in."""
    add, remove = _check_part(add, "add"), _check_part(remove, "remove")
    out = {k: (list(v) if k in SECTIONS else v) for k, v in case.items()}
    for section, items in remove.items():
        if section in SECTIONS:
            out[section] = _without(section, out.get(section, []), items)
        else:
            out.pop(section, None)
    for section, items in add.items():
        if section in SECTIONS:
            new = {_key(section, i) for i in items}
            out[section] = [i for i in out.get(section, []) if _key(section, i) not in new] + list(items)
        else:
            out[section] = items
    return {k: v for k, v in out.items() if v != []}


def changes_from_terms(vocabulary, terms: list[str], where: str) -> dict:
    """A partial case from command-line terms: the section of each is found from its first part."""
    out: dict[str, list] = {}
    for term in terms:
        head = term.split(":")[0].strip()
        sections = [s for s in _TERM_SECTIONS if vocabulary.resolve(SECTIONS[s], head)]
        if len(sections) != 1:
            known = list(dict.fromkeys(i for s in _TERM_SECTIONS for i in vocabulary.suggest(SECTIONS[s], head)))
            why = "matches several kinds: " + ", ".join(sections) if sections else "is not a known term"
            raise CaseError(Problem(f"{term!r}: {head!r} {why}", where, head, tuple(known[:5])))
        out.setdefault(sections[0], []).append(term)
    return out


def summary(report) -> dict:
    """What a what-if compares: ranked roots, triage, whether the plan is withheld, and the targets."""
    data = report.to_dict()
    return {
        "triage": data["triage"]["level"],
        "plan_withheld": data["plan_withheld"],
        "root_causes": [{k: r[k] for k in ("id", "label", "side", "confidence", "status")} for r in data["root_causes"]],
        "targets": [{k: t[k] for k in ("muscle", "label", "action", "side", "root")} for t in data["targets"]],
    }


def _root_key(root: dict) -> tuple:
    return root["id"], root.get("side")


def _evidence_words(root: dict) -> dict[tuple, str]:
    out = {}
    for sign, items in (("supports", root.get("supporting", [])), ("refutes", root.get("conflicting", []))):
        for e in items:
            side = f" ({e['side']})" if e.get("side") else ""
            out[(e["kind"], e["id"], e.get("side"), e["value"])] = f"{e['label']} {e['value']}{side} {sign} it"
    return out


def _root_why(key: tuple, a: dict | None, b: dict | None, halted: bool) -> str:
    """Why one root moved, in the explanation's words: the evidence that now supports or refutes it."""
    was, now = (a or {}).get("confidence", 0.0), (b or {}).get("confidence", 0.0)
    words_a, words_b = _evidence_words(a or {}), _evidence_words(b or {})
    reasons = [words_b[k] for k in words_b if k not in words_a] + [
        f"no longer: {words_a[k]}" for k in words_a if k not in words_b]
    if halted:
        reasons = ["the consultation stopped at an emergency red flag (red flags come first), so no root is ranked"]
    label = (b or a or {}).get("label", key[0]) + (f" ({key[1]})" if key[1] else "")
    trend = "rises" if now > was else "falls"
    return f"{label} {trend} from {was:.2f} to {now:.2f}" + (": " + "; ".join(reasons) if reasons else "")


def _root_changes(before: dict, after: dict) -> list[dict]:
    """Each root whose confidence moved by at least 0.01, entered or left the ranking, with why."""
    halted = after["engine"]["halted"] and not before["engine"]["halted"]
    old = {_root_key(r): r for r in before["root_causes"]}
    new = {_root_key(r): r for r in after["root_causes"]}
    out = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1] or "")):
        a, b = old.get(key), new.get(key)
        was, now = (a or {}).get("confidence", 0.0), (b or {}).get("confidence", 0.0)
        if abs(now - was) < 0.01 and (a is None) == (b is None):
            continue
        out.append({"kind": "root", "id": key[0], "side": key[1], "before": was, "after": now,
                    "why": _root_why(key, a, b, halted)})
    return out


def _target_changes(before_report, after_report) -> list[dict]:
    def keyed(report) -> dict:
        return {(t.muscle, t.action, t.side): t for t in report.targets}

    old, new = keyed(before_report), keyed(after_report)
    out = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1], k[2] or "")):
        if (key in old) == (key in new):
            continue
        target = new.get(key) or old[key]
        if key in new:
            why = target.because
        elif after_report.plan_withheld:
            why = "the exercise plan is withheld: " + after_report.triage.advice
        else:
            why = f"no longer part of the plan: its root ({target.root}) is no longer the one the plan follows"
        out.append({"kind": "target", "id": key[0], "action": key[1], "side": key[2],
                    "before": key in old, "after": key in new, "why": why})
    return out


def what_if(consultant, case: object, add: dict | None = None, remove: dict | None = None,
            strict: bool = False) -> dict:
    """``{before, after, changes}``: the case consulted as given and as changed, and every difference."""
    first = consultant.consult(case, strict)
    changed = apply_changes(first.to_dict()["case"], add, remove)
    second = consultant.consult(changed, strict)
    before, after = summary(first), summary(second)
    changes = []
    if before["triage"] != after["triage"] or before["plan_withheld"] != after["plan_withheld"]:
        changes.append({"kind": "triage", "id": "level", "before": before["triage"], "after": after["triage"],
                        "why": second.triage.advice})
    changes += _root_changes(first.to_dict(), second.to_dict()) + _target_changes(first, second)
    return {"before": before, "after": after, "changes": changes, "case": second.to_dict()["case"]}
