"""Text explanations built from a report's provenance (MYCIN-style WHY / HOW, plus WHY NOT).

* :func:`why_target` — WHY treat this muscle: the chain from the muscle to the pain it explains,
  link by link, with mechanism sentences, the evidence behind each step and the sources.
* :func:`how` — HOW each leading conclusion was reached: supporting, conflicting and unconfirmed
  evidence, and (verbose) the certainty-factor arithmetic.
* :func:`why_not` — WHY NOT a root imbalance: what is missing or against it, and which assessment
  would change the answer.

Each returns plain data (JSON-ready); :func:`to_text` renders any of them for a person.
"""

from __future__ import annotations

import textwrap

from compensa.engine.certainty import THRESHOLD
from compensa.engine.plan import confirming_assessments, root_signs
from compensa.engine.reasoning import belief_key
from compensa.errors import CaseError, Problem
from compensa.kb.model import in_sentence, muscle_state_id

__all__ = ["how", "to_text", "why_not", "why_target"]


def _evidence_text(kb, key: tuple) -> str:
    _, kind, id_, side, value = key
    side_text = f" ({side})" if side else ""
    if kind == "pain":
        return f"pain at the {in_sentence(kb.label(id_))}{side_text}"
    if kind == "history":
        return f"history: {in_sentence(kb.label(id_))}"
    if kind == "diagnosis":
        return f"diagnosed {in_sentence(kb.label(id_))}"
    return f"{kb.label(id_)}{side_text} {value}"


def _node_text(kb, key: tuple) -> str:
    if key[0] == "Evidence":
        return _evidence_text(kb, key)
    side = f" ({key[2]})" if len(key) > 2 and key[2] else ""
    return f"{kb.label(key[1])}{side}"


def _source(kb, source_id: str) -> dict:
    source = kb.sources.get(source_id)
    return {"id": source_id, "citation": source.citation if source else "", "url": source.url if source else ""}


def _resolve(vocab, kind: str, term: str, what: str):
    found = vocab.resolve(kind, term)
    if found is None:
        raise CaseError(Problem(f"unknown {what} {term!r}", what, term, vocab.suggest(kind, term)))
    return found


def _direct_evidence(report, key: tuple) -> list[dict]:
    """Evidence that supported or refuted this belief directly (one step), with what it added."""
    out = []
    for part in report.reasoning.contributions(key):
        premise = part.support.premise
        if premise[0] == "Evidence" and part.value:
            out.append({"evidence": _evidence_text(report.kb, premise), "added": round(part.value, 3)})
    return sorted(out, key=lambda e: (-abs(e["added"]), e["evidence"]))


def _confirming_tests(report, targets: set[str]) -> list[str]:
    return confirming_assessments(report.kb, report.case, targets)


def why_target(report, muscle_term: str, vocab) -> dict:
    """WHY this muscle is (or is not) a target: the chain from it to the pain, link by link."""
    kb = report.kb
    muscle = _resolve(vocab, "muscle", muscle_term, "target")
    label = kb.muscles[muscle].label
    targets = [t for t in report.targets if t.muscle == muscle]
    if not targets:
        reasons = []
        if report.plan_withheld:
            reasons.append("A red flag is present, so no exercise plan is given: seek medical care first.")
        for state in ("tight", "weak"):
            cf = max((report.reasoning.reported_cf(belief_key(muscle_state_id(muscle, state), s)) for s in ("", "left", "right")))
            if cf <= -THRESHOLD:
                reasons.append(f"The tests argue against a {state} {in_sentence(label)} (certainty {cf:.2f}), so it is not "
                               f"{'stretched' if state == 'tight' else 'strengthened'}.")
        roots = [r for r in report.root_causes if muscle in r.tight or muscle in r.weak]
        if roots and not reasons:
            reasons.append(f"It belongs to {', '.join(r.label for r in roots)}, but that pattern is not likely enough "
                           f"(or adds nothing new) to act on yet.")
        if not roots and not reasons:
            reasons.append("None of the likely root imbalances involves it.")
        return {"kind": "why_target", "muscle": muscle, "label": label, "is_target": False, "reasons": reasons}
    explanations = []
    for target in targets:
        chain = target.chain
        side = target.side or ""
        steps = []
        state = "tight" if target.action == "stretch" else "weak"
        state_key = belief_key(muscle_state_id(muscle, state), side)
        root = kb.roots[target.root]
        steps.append({
            "from": muscle, "to": root.id,
            "text": f"A {state} {in_sentence(label)} is part of {root.label} ({', '.join(root.tight) or '-'} tight; "
                    f"{', '.join(root.weak) or '-'} weak).",
            "mechanism": root.summary, "source": _source(kb, root.source),
            "evidence": _direct_evidence(report, state_key),
            "unconfirmed": [] if report.reasoning.reported_cf(state_key) >= THRESHOLD
            else _confirming_tests(report, {muscle_state_id(muscle, state)})[:3],
        })
        for cause, effect in zip(chain[1:], chain[2:]):
            link = next((x for x in kb.causes_of(effect) if x.cause == cause), None)
            effect_key = belief_key(effect, side if kb.is_sided(effect) else "")
            if link is not None:
                steps.append({"from": cause, "to": effect,
                              "text": f"{kb.label(cause)} -> {kb.label(effect)} (strength {link.strength:g}, evidence {link.evidence})",
                              "mechanism": link.mechanism, "source": _source(kb, link.source),
                              "evidence": _direct_evidence(report, effect_key)})
            elif effect in kb.pain_sites and cause in kb.conditions:
                condition = kb.conditions[cause]
                steps.append({"from": cause, "to": effect,
                              "text": f"{condition.label} hurts at the {in_sentence(kb.label(effect))}.",
                              "mechanism": condition.summary, "source": _source(kb, condition.source),
                              "evidence": []})
        pain = chain[-1] if chain[-1] in kb.pain_sites else None
        away = None
        if not target.painful:
            where = ", ".join(in_sentence(kb.label(s)) for s in kb.muscles[muscle].sites) or kb.muscles[muscle].region
            away = (f"The {in_sentence(label)} lies at the {where}; "
                    + (f"the pain is at the {in_sentence(kb.label(pain))}. " if pain else "")
                    + "Treating only where it hurts would leave the cause in place: the chain above would keep "
                      "loading the painful area, and the pain is likely to return or move.")
        explanations.append({"action": target.action, "side": target.side, "root": root.id,
                             "root_confidence": target.confidence, "painful": target.painful,
                             "chain": chain, "steps": steps, "away_from_pain": away,
                             "exercise": target.exercise.model_dump() if target.exercise else None})
    return {"kind": "why_target", "muscle": muscle, "label": label, "is_target": True, "targets": explanations}


def _arithmetic(report, key: tuple) -> dict:
    parts = [p for k in report.reasoning.merged_keys(key) for p in report.reasoning.contributions(k)]
    positive = [p.value for p in parts if p.value > 0]
    negative = [-p.value for p in parts if p.value < 0]
    keep_for, keep_against = 1.0, 1.0
    for v in positive:
        keep_for *= 1 - v
    for v in negative:
        keep_against *= 1 - v
    mb, md = 1 - keep_for, 1 - keep_against
    cf = report.reasoning.reported_cf(key)
    text = ("MB = 1 - " + " x ".join(f"(1 - {v:.3f})" for v in positive) + f" = {mb:.3f}" if positive else "MB = 0")
    text += "; " + ("MD = 1 - " + " x ".join(f"(1 - {v:.3f})" for v in negative) + f" = {md:.3f}" if negative else "MD = 0")
    text += f"; CF = (MB - MD) / (1 - min(MB, MD)) = {cf:.3f}"
    return {"mb": round(mb, 4), "md": round(md, 4), "cf": round(cf, 4), "text": text}


def _conclusion(report, key: tuple, verbose: bool) -> dict:
    kb = report.kb
    reasoning = report.reasoning
    supports = []
    for k in reasoning.merged_keys(key):
        for part in reasoning.contributions(k):
            s = part.support
            entry = {"from": _node_text(kb, s.premise), "rule": s.rule, "via": s.via, "strength": s.strength,
                     "premise_confidence": round(part.premise_cf, 3), "added": round(part.value, 3)}
            if s.via.startswith("link:"):
                cause, _, effect = s.via[5:].partition("->")
                link = next((x for x in kb.causes_of(effect) if x.cause == cause), None)
                if link:
                    entry["mechanism"] = link.mechanism
                    entry["source"] = _source(kb, link.source)
            supports.append(entry)
    supports.sort(key=lambda e: (-abs(e["added"]), e["from"]))
    influence = reasoning.reported_influence(key)
    out = {"id": key[1], "label": kb.label(key[1]), "side": key[2] or None,
           "confidence": round(reasoning.reported_cf(key), 3),
           "supporting": [_evidence_text(kb, e) for e, w in sorted(influence.items(), key=lambda kv: -kv[1]) if w > 0],
           "conflicting": [_evidence_text(kb, e) for e, w in sorted(influence.items(), key=lambda kv: kv[1]) if w < 0],
           "steps": [s for s in supports if s["added"]] if not verbose else supports}
    if key[1] in kb.roots:
        out["unconfirmed"] = _confirming_tests(report, root_signs(kb, key[1]))[:5]
    if verbose:
        out["arithmetic"] = _arithmetic(report, key)
    return out


def how(report, verbose: bool = False, roots: int = 3, conditions: int = 2) -> dict:
    """HOW the leading root causes and conditions were reached."""
    keys = [belief_key(r.id, r.side or "") for r in report.root_causes[:roots]]
    keys += [belief_key(c.id, c.side or "") for c in report.conditions[:conditions]]
    return {"kind": "how", "triage": report.triage.model_dump(mode="json"), "verbose": verbose,
            "conclusions": [_conclusion(report, k, verbose) for k in keys]}


def _descendants(kb, node: str) -> set[str]:
    seen, todo = set(), [node]
    while todo:
        for link in kb.effects_of(todo.pop()):
            if link.effect not in seen:
                seen.add(link.effect)
                todo.append(link.effect)
    return seen


def why_not(report, root_term: str, vocab) -> dict:
    """WHY NOT a root imbalance: its rank, what is against it, what is missing, what would change the answer."""
    kb = report.kb
    root_id = _resolve(vocab, "root", root_term, "why_not")
    root = kb.roots[root_id]
    ranked = [r for r in report.root_causes if r.id == root_id]
    entry = ranked[0] if ranked else None
    if entry:
        key = belief_key(root_id, entry.side or "")
    else:  # not reported: the instance the evidence speaks to most (a one-sided belief counts)
        candidates = [belief_key(root_id, s) for s in ("", "left", "right")]
        key = max(candidates, key=lambda k: (abs(report.reasoning.reported_cf(k)), -candidates.index(k)))
    cf = report.reasoning.reported_cf(key)
    position = report.root_causes.index(entry) + 1 if entry else None
    top = report.root_causes[0] if report.root_causes else None
    influence = report.reasoning.reported_influence(key)
    against = [{"evidence": _evidence_text(kb, e), "weight": round(w, 3)} for e, w in sorted(influence.items(), key=lambda kv: kv[1]) if w < 0]
    supporting = [_evidence_text(kb, e) for e, w in sorted(influence.items(), key=lambda kv: -kv[1]) if w > 0]
    given = {e.id for e in report.case.evidence}
    missing_signs = sorted({link.effect for link in kb.effects_of(root_id) if link.effect in kb.assessments
                            and link.effect not in given})
    states = root_signs(kb, root_id) - {root_id}
    untested = sorted(m for m in states if all(report.reasoning.reported_cf(belief_key(m, s)) == 0
                                              for s in ("", "left", "right")))
    would_change = _confirming_tests(report, root_signs(kb, root_id) | set(missing_signs))
    if len(would_change) < 5:  # then what bears on the dysfunctions and conditions it leads to
        more = _confirming_tests(report, _descendants(kb, root_id))
        would_change += [a for a in more if a not in would_change]
    would_change = would_change[:5]
    if entry is None and cf == 0:
        status = "not reached: no evidence given points to it"
    elif entry is None and cf < 0:
        status = f"the evidence argues against it (certainty {cf:.2f})"
    elif entry is None:
        status = f"reached but below the report threshold (certainty {cf:.2f})"
    else:
        status = f"ranked #{position} with certainty {cf:.2f}"
        if top and top.id != root_id:
            status += f"; the leading root is {top.label} ({top.confidence:.2f})"
    return {"kind": "why_not", "root": root_id, "label": root.label, "confidence": round(cf, 3), "status": status,
            "against": against, "supporting": supporting,
            "missing_findings": missing_signs, "untested_muscles": [kb.label(m) for m in untested],
            "would_change_answer": would_change, "plan_withheld": report.plan_withheld}


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent + "  ", break_long_words=False,
                         break_on_hyphens=False)


def to_text(explanation: dict) -> str:
    """Render an explanation from :func:`why_target`, :func:`how` or :func:`why_not` for a person."""
    kind = explanation["kind"]
    lines: list[str] = []
    if kind == "why_target":
        lines.append(f"WHY {explanation['label'].upper()}?")
        if not explanation["is_target"]:
            lines.append("  It is not a target in this plan.")
            lines.extend(_wrap(r) for r in explanation["reasons"])
        for t in explanation.get("targets", []):
            side = f" ({t['side']})" if t["side"] else ""
            lines.append(f"  {t['action'].capitalize()}{side}, because of {t['root']} (certainty {t['root_confidence']:.2f}).")
            lines.append(_wrap("chain: " + " -> ".join(t["chain"])))
            for i, step in enumerate(t["steps"], 1):
                lines.append(_wrap(f"{i}. {step['text']}"))
                if step.get("mechanism"):
                    lines.append(_wrap(f"how: {step['mechanism']}", "     "))
                for ev in step.get("evidence", []):
                    lines.append(_wrap(f"evidence: {ev['evidence']} ({ev['added']:+.2f})", "     "))
                if step.get("unconfirmed"):
                    lines.append(_wrap("not yet tested; would confirm: " + ", ".join(step["unconfirmed"]), "     "))
                src = step.get("source") or {}
                if src.get("citation"):
                    lines.append(_wrap(f"source: {src['citation']} {src.get('url', '')}".rstrip(), "     "))
            if t["away_from_pain"]:
                lines.append(_wrap("AWAY FROM THE PAIN: " + t["away_from_pain"]))
            if t.get("exercise"):
                lines.append(_wrap(f"exercise: {t['exercise']['label']} — {t['exercise']['how']} {t['exercise'].get('dose', '')}".rstrip()))
    elif kind == "how":
        lines.append(f"HOW THE CONCLUSIONS WERE REACHED   (triage: {explanation['triage']['level']})")
        for c in explanation["conclusions"]:
            side = f" ({c['side']})" if c["side"] else ""
            lines.append("")
            lines.append(f"{c['label']}{side}: certainty {c['confidence']:.2f}")
            if c["supporting"]:
                lines.append(_wrap("supporting: " + "; ".join(c["supporting"])))
            if c["conflicting"]:
                lines.append(_wrap("conflicting: " + "; ".join(c["conflicting"])))
            if c.get("unconfirmed"):
                lines.append(_wrap("unconfirmed; would confirm: " + ", ".join(c["unconfirmed"])))
            for step in c["steps"]:
                lines.append(_wrap(f"{step['added']:+.3f} from {step['from']} [{step['rule']}] "
                                   f"(strength {step['strength']:+g} x certainty {step['premise_confidence']:.2f})", "    "))
                if step.get("mechanism"):
                    lines.append(_wrap(step["mechanism"], "       "))
            if c.get("arithmetic"):
                lines.append(_wrap("arithmetic: " + c["arithmetic"]["text"], "    "))
    elif kind == "why_not":
        lines.append(f"WHY NOT {explanation['label'].upper()}?")
        lines.append(_wrap(explanation["status"] + "."))
        if explanation["plan_withheld"]:
            lines.append(_wrap("A red flag is present: no exercise plan is given whatever the ranking."))
        if explanation["against"]:
            lines.append(_wrap("against it: " + "; ".join(f"{a['evidence']} ({a['weight']:+.2f})" for a in explanation["against"])))
        if explanation["supporting"]:
            lines.append(_wrap("for it: " + "; ".join(explanation["supporting"])))
        if explanation["missing_findings"]:
            lines.append(_wrap("signs not recorded: " + ", ".join(explanation["missing_findings"])))
        if explanation["untested_muscles"]:
            lines.append(_wrap("muscles not assessed: " + ", ".join(explanation["untested_muscles"])))
        if explanation["would_change_answer"]:
            lines.append(_wrap("would change the answer: " + ", ".join(explanation["would_change_answer"])))
    return "\n".join(lines) + "\n"


