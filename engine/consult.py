"""``consult(case) -> Report``: the whole consultation, from raw case to ranked, explained report."""

from __future__ import annotations

import dataclasses
import gc
import threading
from typing import Literal

from compensa.engine import caveats, plan
from compensa.engine.case import Case, Unrecognised, parse_case
from compensa.engine.inference import CompiledKB
from compensa.engine.psychosocial import psychosocial
from compensa.engine.reasoning import Reasoning
from compensa.engine.report import Report
from compensa.kb import KnowledgeBase, load_kb
from compensa.kb.vocabulary import Vocabulary

__all__ = ["Consultant", "consult", "consultant_for", "freeze_long_lived"]


class Consultant:
    """A knowledge base made ready to consult: vocabulary plus compiled rules (build once, reuse)."""

    def __init__(self, kb: KnowledgeBase, max_engines: int = 8, scope: Literal["kb", "case"] = "kb"):
        """``scope="kb"`` compiles every rule once, for many consultations (a service, a batch);
        ``"case"`` compiles, for each consultation, only the rules its evidence can reach: the same
        report, built much faster when a process runs one consultation (the command line)."""
        self.kb = kb
        self.vocabulary = Vocabulary(kb)
        self.scope = scope
        self.compiled = CompiledKB(kb, max_engines=max_engines) if scope == "kb" else None

    def parse(self, case: object, strict: bool = False) -> Case:
        """Validate a raw case (dict) against this KB's vocabulary (``strict``: refuse unknown terms).

        A ``text`` field (a clinical note) is parsed and merged in first; what the note held that was
        not understood joins ``unrecognised`` (``where``: its characters in the text)."""
        if isinstance(case, Case):
            return case
        if isinstance(case, dict) and isinstance(case.get("text"), str):
            from compensa.engine.notes import merge_note, parse_note

            parsed = parse_note(case["text"], self.vocabulary)
            result = parse_case(merge_note(case, parsed["case"]), self.vocabulary, strict)
            leftovers = tuple(Unrecognised(u["text"], f"text[{u['start']}:{u['end']}]", "note", ())
                              for u in parsed["unrecognised"])
            return dataclasses.replace(result, unrecognised=result.unrecognised + leftovers)
        return parse_case(case, self.vocabulary, strict)

    def parse_note(self, text: str) -> dict:
        """A clinical note as ``{case, spans, unrecognised}`` (see :mod:`compensa.engine.notes`)."""
        from compensa.engine.notes import parse_note

        return parse_note(text, self.vocabulary)

    def consult(self, case: object, strict: bool = False) -> Report:
        """Run one consultation on a raw case dict (or a parsed :class:`Case`).

        Unknown terms are listed in the report's ``unrecognised`` (the rest is consulted), unless
        ``strict`` (or the case's ``strict: true``) asks to refuse them."""
        parsed = self.parse(case, strict)
        facts = parsed.facts()
        compiled = self.compiled or CompiledKB(self.kb, max_engines=1, evidence=facts)
        run = compiled.run(facts)
        reasoning = Reasoning(self.kb, run)
        return build_report(self.kb, parsed, reasoning)

    def triage(self, case: object, strict: bool = False) -> dict:
        """Only the red-flag triage of a case."""
        return self.consult(case, strict).to_dict()["triage"]  # a run is needed: red-flag clusters are rules


def _evidence_view(kb: KnowledgeBase, key: tuple, influence: float) -> dict:
    _, kind, id_, side, value = key
    out = {"kind": kind, "id": id_, "value": value, "label": kb.evidence_label(kind, id_, value),
           "weight": round(influence, 3)}
    if side:
        out["side"] = side
    return out


def _root_view(kb: KnowledgeBase, case: Case, reasoning: Reasoning, key: tuple, cf: float) -> dict:
    """One ranked root cause as the report shows it: evidence for and against, status, what would confirm it."""
    _, root_id, side = key
    root = kb.roots[root_id]
    influence = reasoning.reported_influence(key)
    supporting = sorted((k for k, v in influence.items() if v > 0), key=lambda k: (-influence[k], k))
    conflicting = sorted((k for k, v in influence.items() if v < 0), key=lambda k: (influence[k], k))
    tested = plan.pattern_tested(reasoning, key)  # a test of the pattern or its muscles, not of a posture or condition
    return {
        "id": root_id, "label": root.label, "side": side or None, "confidence": round(cf, 3),
        "status": _status(cf, tested), "physically_confirmed": tested, "tight": list(root.tight), "weak": list(root.weak),
        "supporting": [_evidence_view(kb, k, influence[k]) for k in supporting],
        "conflicting": [_evidence_view(kb, k, influence[k]) for k in conflicting],
        "unconfirmed": [] if tested else plan.confirming_assessments(kb, case, plan.root_signs(kb, root_id), ("test",))[:5],
    }


def _status(cf: float, tested: bool) -> str:
    """confirmed (likely and a test supports it) | probable | possible."""
    if cf >= 0.6 and tested:
        return "confirmed"
    return "probable" if cf >= 0.4 else "possible"


def _condition_views(kb: KnowledgeBase, reasoning: Reasoning) -> list[dict]:
    """The ranked conditions (one reached from history alone is left out: context only raises suspicion)."""
    conditions = []
    for k, cf in plan.rank(reasoning, "condition"):
        if all(ev[1] == "history" for ev in reasoning.reported_influence(k)):
            continue  # context alone does not make a condition: it only raises suspicion upstream
        c = kb.conditions[k[1]]
        conditions.append({"id": c.id, "label": c.label, "side": k[2] or None, "confidence": round(cf, 3),
                           "codes": dict(c.codes), "medical": c.medical})
    return conditions


def _criteria_views(kb: KnowledgeBase, reasoning: Reasoning) -> list[dict]:
    """The criteria the case met, red-flag clusters first, each with the evidence that met it."""
    out = []
    for key in reasoning.criteria:
        criterion = kb.criteria[key[1]]
        evidence = sorted({s.premise for s in reasoning.by_conclusion[key]})
        met_by = [{k: v for k, v in _evidence_view(kb, ev, 1.0).items() if k != "weight"} for ev in evidence]
        out.append({"id": criterion.id, "label": criterion.label, "side": key[2] or None, "met_by": met_by,
                    "alarm": criterion.alarm or None, "advice": criterion.advice or None, "source": criterion.source})
    return sorted(out, key=lambda c: (c["alarm"] is None, c["id"], c["side"] or ""))


def build_report(kb: KnowledgeBase, case: Case, reasoning: Reasoning) -> Report:
    """Assemble the report from a parsed case and the reasoning of its run (warnings last: they read the rest)."""
    roots = [_root_view(kb, case, reasoning, key, cf) for key, cf in plan.rank(reasoning, "root")]
    dysfunctions = [{"id": k[1], "label": kb.label(k[1]), "side": k[2] or None, "confidence": round(cf, 3),
                     "codes": dict(kb.codes(k[1])) or None}
                    for k, cf in plan.rank(reasoning, "dysfunction")]
    conditions = _condition_views(kb, reasoning)
    triage = plan.medical_review(kb, reasoning, plan.triage(kb, case, reasoning))
    targets = plan.targets(kb, reasoning, case)
    nexts = plan.next_assessments(kb, reasoning, case)
    warnings = caveats.warnings(kb, reasoning, case, triage, roots, targets)
    return Report.build(kb, case, reasoning, triage=triage, root_causes=roots, dysfunctions=dysfunctions,
                        conditions=conditions, targets=targets, next_assessments=nexts, warnings=warnings,
                        criteria=_criteria_views(kb, reasoning), psychosocial=psychosocial(kb, case))


_cache: dict[int, Consultant] = {}
_lock = threading.Lock()


def freeze_long_lived() -> None:
    """Take the objects alive now (a compiled KB, its rules) out of the garbage collector's sight.

    A consultation makes many short-lived objects; every so often Python's collector then walks the
    whole heap (a compiled KB is ~100 000 objects, a pause of 50-150 ms: the slowest consultations).
    After a full collection, ``gc.freeze()`` moves every live object to a generation no collection
    walks, so later collections see only what consultations made. Call it once, after building the
    consultants a process keeps (a service worker, a batch worker; :func:`consultant_for` does);
    objects frozen are still freed when nothing refers to them, only reference cycles among them are
    never collected."""
    gc.collect()
    gc.freeze()


def consultant_for(kb: KnowledgeBase | None = None) -> Consultant:
    """The (cached) consultant of ``kb``, or of the bundled KB, built once per process (and the heap
    then frozen, :func:`freeze_long_lived`: the consultant lives as long as the process)."""
    kb = kb if kb is not None else load_kb()
    with _lock:
        found = _cache.get(id(kb))
        if found is None or found.kb is not kb:
            found = Consultant(kb)
            _cache[id(kb)] = found
            freeze_long_lived()
            while len(_cache) > 8:  # a library user loading many KBs keeps only the recent ones
                _cache.pop(next(iter(_cache)))
        return found


def consult(case: object, kb: KnowledgeBase | None = None, *, strict: bool = False) -> Report:
    """Consult ``case`` (the case contract as a dict) against ``kb`` (the bundled KB by default).

    ``strict``: refuse a case with an unknown term (CaseError) instead of listing it in ``unrecognised``."""
    return consultant_for(kb).consult(case, strict)


