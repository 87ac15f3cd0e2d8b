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

import networkx as nx

from compensa.engine.certainty import THRESHOLD
from compensa.engine.plan import confirming_assessments, root_signs
from compensa.engine.reasoning import belief_key
from compensa.errors import Problem, UsageError
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
    if kind in ("age", "sex"):
        return kb.evidence_label(kind, id_, value)
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
        raise UsageError(Problem(f"unknown {what} {term!r}", what, term, vocab.suggest(kind, term)))
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


def _supporting(kb, influence: dict) -> list[str]:
    """Evidence that raised a belief, strongest first."""
    return [_evidence_text(kb, e) for e, w in sorted(influence.items(), key=lambda kv: -kv[1]) if w > 0]


def _against(kb, influence: dict) -> list[tuple[str, float]]:
    """Evidence that lowered a belief with its (negative) weight, strongest first."""
    return [(_evidence_text(kb, e), w) for e, w in sorted(influence.items(), key=lambda kv: kv[1]) if w < 0]


def _link_of(kb, via: str):
    """The chain link a support's ``via`` names (``link:cause->effect``), or ``None``."""
    kind, _, rest = via.partition(":")
    if kind != "link":
        return None
    cause, _, effect = rest.partition("->")
    return kb.link(cause, effect)


# -- WHY (a target) ---------------------------------------------------------------------------------
_SIDES = ("", "left", "right")


def _refuted_states(report, muscle: str, label: str) -> list[str]:
    """A sentence for each state of the muscle (tight, weak) that the tests argue against, on every side."""
    out = []
    for state, verb in (("tight", "stretched"), ("weak", "strengthened")):
        cf = max(report.reasoning.reported_cf(belief_key(muscle_state_id(muscle, state), s)) for s in _SIDES)
        if cf <= -THRESHOLD:
            out.append(f"The tests argue against a {state} {in_sentence(label)} (certainty {cf:.2f}), so it is not "
                       f"{verb}.")
    return out


def _not_target_reasons(report, muscle: str, label: str) -> list[str]:
    """Why a muscle is not in the plan: red flags, tests against it, or no likely root that needs it."""
    reasons = _refuted_states(report, muscle, label)
    if report.plan_withheld:
        reasons.insert(0, "A red flag is present, so no exercise plan is given: seek medical care first.")
    if reasons:
        return reasons
    roots = [r for r in report.root_causes if muscle in r.tight or muscle in r.weak]
    if roots:
        return [f"It belongs to {', '.join(r.label for r in roots)}, but that pattern is not likely enough "
                f"(or adds nothing new) to act on yet."]
    return ["None of the likely root imbalances involves it."]


def _member_step(report, target, label: str) -> dict:
    """The first step of a target's chain: the muscle state belongs to the root that asks for it."""
    kb = report.kb
    state = "tight" if target.action == "stretch" else "weak"
    state_id = muscle_state_id(target.muscle, state)
    state_key = belief_key(state_id, target.side or "")
    root = kb.roots[target.root]
    confirmed = report.reasoning.reported_cf(state_key) >= THRESHOLD
    return {
        "from": target.muscle, "to": root.id,
        "text": f"A {state} {in_sentence(label)} is part of {root.label} ({', '.join(root.tight) or '-'} tight; "
                f"{', '.join(root.weak) or '-'} weak).",
        "mechanism": root.summary, "source": _source(kb, root.source),
        "evidence": _direct_evidence(report, state_key),
        "unconfirmed": [] if confirmed else _confirming_tests(report, {state_id})[:3],
    }


def _chain_step(report, cause: str, effect: str, side: str) -> dict | None:
    """One step along a target's chain: a KB link, or a condition hurting at a pain site."""
    kb = report.kb
    link = kb.link(cause, effect)
    if link is not None:
        effect_key = belief_key(effect, side if kb.is_sided(effect) else "")
        return {"from": cause, "to": effect,
                "text": f"{kb.label(cause)} -> {kb.label(effect)} (strength {link.strength:g}, evidence {link.evidence})",
                "mechanism": link.mechanism, "source": _source(kb, link.source),
                "evidence": _direct_evidence(report, effect_key)}
    if effect in kb.pain_sites and cause in kb.conditions:
        condition = kb.conditions[cause]
        return {"from": cause, "to": effect,
                "text": f"{condition.label} hurts at the {in_sentence(kb.label(effect))}.",
                "mechanism": condition.summary, "source": _source(kb, condition.source), "evidence": []}
    return None


def _away_from_pain(kb, muscle: str, label: str, chain: list[str]) -> str:
    """Why treating a muscle where it does not hurt makes sense (for a target away from the pain)."""
    pain = chain[-1] if chain[-1] in kb.pain_sites else None
    where = ", ".join(in_sentence(kb.label(s)) for s in kb.muscles[muscle].sites) or kb.muscles[muscle].region
    return (f"The {in_sentence(label)} lies at the {where}; "
            + (f"the pain is at the {in_sentence(kb.label(pain))}. " if pain else "")
            + "Treating only where it hurts would leave the cause in place: the chain above would keep "
              "loading the painful area, and the pain is likely to return or move.")


def _target_explanation(report, target, label: str) -> dict:
    """One plan entry for the muscle: its chain to the pain, step by step."""
    chain = target.chain
    steps = [_member_step(report, target, label)]
    steps += [step for cause, effect in zip(chain[1:], chain[2:])
              if (step := _chain_step(report, cause, effect, target.side or "")) is not None]
    away = None if target.painful else _away_from_pain(report.kb, target.muscle, label, chain)
    return {"action": target.action, "side": target.side, "root": target.root,
            "root_confidence": target.confidence, "painful": target.painful,
            "chain": chain, "steps": steps, "away_from_pain": away,
            "exercise": target.exercise.model_dump() if target.exercise else None}


def why_target(report, muscle_term: str, vocab) -> dict:
    """WHY this muscle is (or is not) a target: the chain from it to the pain, link by link.

    Raises :class:`~compensa.errors.UsageError` (with the closest muscle ids) for an unknown muscle.
    """
    muscle = _resolve(vocab, "muscle", muscle_term, "target")
    label = report.kb.muscles[muscle].label
    targets = [t for t in report.targets if t.muscle == muscle]
    out = {"kind": "why_target", "muscle": muscle, "label": label, "is_target": bool(targets)}
    if not targets:
        return {**out, "reasons": _not_target_reasons(report, muscle, label)}
    return {**out, "targets": [_target_explanation(report, t, label) for t in targets]}


# -- HOW (the leading conclusions) ------------------------------------------------------------------
def _product_text(name: str, values: tuple[float, ...], total: float) -> str:
    if not values:
        return f"{name} = 0"
    return f"{name} = 1 - " + " x ".join(f"(1 - {v:.3f})" for v in values) + f" = {total:.3f}"


def _arithmetic(report, key: tuple) -> dict:
    """The certainty-factor arithmetic of a reported belief, from the engine's own combination."""
    combined = report.reasoning.combination(key)
    cf = report.reasoning.reported_cf(key)
    text = (_product_text("MB", combined.positive, combined.mb) + "; " + _product_text("MD", combined.negative, combined.md)
            + f"; CF = (MB - MD) / (1 - min(MB, MD)) = {combined.cf:.3f}")
    ceiling = report.reasoning.ceiling(key)
    if ceiling and combined.cf > ceiling[0]:
        text += f"; held at {ceiling[0]:.2f}: {ceiling[1]}"
    return {"mb": round(combined.mb, 4), "md": round(combined.md, 4), "cf": round(cf, 4), "text": text}


def _support_step(kb, part) -> dict:
    """One evaluated support of a conclusion, with the link's mechanism and source when it is a link."""
    s = part.support
    entry = {"from": _node_text(kb, s.premise), "rule": s.rule, "via": s.via, "strength": s.strength,
             "premise_confidence": round(part.premise_cf, 3), "added": round(part.value, 3)}
    link = _link_of(kb, s.via)
    if link is not None:
        entry["mechanism"] = link.mechanism
        entry["source"] = _source(kb, link.source)
    return entry


def _conclusion(report, key: tuple, verbose: bool) -> dict:
    kb = report.kb
    reasoning = report.reasoning
    supports = [_support_step(kb, part) for k in reasoning.merged_keys(key) for part in reasoning.contributions(k)]
    supports.sort(key=lambda e: (-abs(e["added"]), e["from"]))
    influence = reasoning.reported_influence(key)
    out = {"id": key[1], "label": kb.label(key[1]), "side": key[2] or None,
           "confidence": round(reasoning.reported_cf(key), 3),
           "supporting": _supporting(kb, influence),
           "conflicting": [text for text, _ in _against(kb, influence)],
           "steps": supports if verbose else [s for s in supports if s["added"]]}
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


# -- WHY NOT (a root) -------------------------------------------------------------------------------
def _why_not_key(report, root_id: str, entry) -> tuple:
    """The belief a WHY NOT reads: the reported one, else the instance the evidence speaks to most."""
    if entry is not None:
        return belief_key(root_id, entry.side or "")
    candidates = [belief_key(root_id, s) for s in _SIDES]  # a one-sided belief counts
    return max(candidates, key=lambda k: (abs(report.reasoning.reported_cf(k)), -candidates.index(k)))


def _status(report, root_id: str, entry, cf: float) -> str:
    if entry is None:
        if cf == 0:
            return "not reached: no evidence given points to it"
        if cf < 0:
            return f"the evidence argues against it (certainty {cf:.2f})"
        return f"reached but below the report threshold (certainty {cf:.2f})"
    status = f"ranked #{report.root_causes.index(entry) + 1} with certainty {cf:.2f}"
    top = report.root_causes[0]
    if top.id != root_id:
        status += f"; the leading root is {top.label} ({top.confidence:.2f})"
    return status


def _would_change(report, root_id: str, missing_signs: list[str], limit: int = 5) -> list[str]:
    """Assessments that would change the answer: the root's own signs first, then what it leads to."""
    kb = report.kb
    found = _confirming_tests(report, root_signs(kb, root_id) | set(missing_signs))
    if len(found) < limit:
        more = _confirming_tests(report, nx.descendants(kb.graph, root_id))
        found += [a for a in more if a not in found]
    return found[:limit]


def _missing_signs(report, root_id: str) -> list[str]:
    """Findings the root leads to directly that the case does not record (either way)."""
    kb = report.kb
    given = {e.id for e in report.case.evidence}
    return sorted(n for n in set(kb.graph.successors(root_id)) if n in kb.assessments and n not in given)


def _untested_muscles(report, root_id: str) -> list[str]:
    """Labels of the root's muscle states nothing in the case spoke to, on any side."""
    kb = report.kb
    untested = sorted(m for m in root_signs(kb, root_id) - {root_id}
                      if all(report.reasoning.reported_cf(belief_key(m, s)) == 0 for s in _SIDES))
    return [kb.label(m) for m in untested]


def why_not(report, root_term: str, vocab) -> dict:
    """WHY NOT a root imbalance: its rank, what is against it, what is missing, what would change the answer.

    Raises :class:`~compensa.errors.UsageError` (with the closest root ids) for an unknown root.
    """
    kb = report.kb
    reasoning = report.reasoning
    root_id = _resolve(vocab, "root", root_term, "why_not")
    entry = next((r for r in report.root_causes if r.id == root_id), None)
    key = _why_not_key(report, root_id, entry)
    cf = reasoning.reported_cf(key)
    influence = reasoning.reported_influence(key)
    missing_signs = _missing_signs(report, root_id)
    return {"kind": "why_not", "root": root_id, "label": kb.roots[root_id].label, "confidence": round(cf, 3),
            "status": _status(report, root_id, entry, cf),
            "against": [{"evidence": text, "weight": round(w, 3)} for text, w in _against(kb, influence)],
            "supporting": _supporting(kb, influence),
            "missing_findings": missing_signs, "untested_muscles": _untested_muscles(report, root_id),
            "would_change_answer": _would_change(report, root_id, missing_signs),
            "plan_withheld": report.plan_withheld}


# -- text -------------------------------------------------------------------------------------------
def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent + "  ", break_long_words=False,
                         break_on_hyphens=False)


def _labelled(label: str, items, sep: str = ", ") -> list[str]:
    """``label: a, b`` wrapped, or nothing when there are no items."""
    return [_wrap(label + sep.join(items))] if items else []


def _step_lines(number: int, step: dict) -> list[str]:
    deep = "     "
    lines = [_wrap(f"{number}. {step['text']}")]
    if step.get("mechanism"):
        lines.append(_wrap(f"how: {step['mechanism']}", deep))
    lines += [_wrap(f"evidence: {ev['evidence']} ({ev['added']:+.2f})", deep) for ev in step.get("evidence", [])]
    if step.get("unconfirmed"):
        lines.append(_wrap("not yet tested; would confirm: " + ", ".join(step["unconfirmed"]), deep))
    src = step.get("source") or {}
    if src.get("citation"):
        lines.append(_wrap(f"source: {src['citation']} {src.get('url', '')}".rstrip(), deep))
    return lines


def _target_lines(t: dict) -> list[str]:
    side = f" ({t['side']})" if t["side"] else ""
    lines = [f"  {t['action'].capitalize()}{side}, because of {t['root']} (certainty {t['root_confidence']:.2f}).",
             _wrap("chain: " + " -> ".join(t["chain"]))]
    for number, step in enumerate(t["steps"], 1):
        lines += _step_lines(number, step)
    if t["away_from_pain"]:
        lines.append(_wrap("AWAY FROM THE PAIN: " + t["away_from_pain"]))
    exercise = t.get("exercise")
    if exercise:
        lines.append(_wrap(f"exercise: {exercise['label']} — {exercise['how']} {exercise.get('dose', '')}".rstrip()))
    return lines


def _why_target_text(explanation: dict) -> list[str]:
    lines = [f"WHY {explanation['label'].upper()}?"]
    if not explanation["is_target"]:
        lines.append("  It is not a target in this plan.")
        lines += [_wrap(r) for r in explanation["reasons"]]
    for t in explanation.get("targets", []):
        lines += _target_lines(t)
    return lines


def _conclusion_lines(c: dict) -> list[str]:
    side = f" ({c['side']})" if c["side"] else ""
    lines = ["", f"{c['label']}{side}: certainty {c['confidence']:.2f}"]
    lines += _labelled("supporting: ", c["supporting"], "; ")
    lines += _labelled("conflicting: ", c["conflicting"], "; ")
    lines += _labelled("unconfirmed; would confirm: ", c.get("unconfirmed"))
    for step in c["steps"]:
        lines.append(_wrap(f"{step['added']:+.3f} from {step['from']} [{step['rule']}] "
                           f"(strength {step['strength']:+g} x certainty {step['premise_confidence']:.2f})", "    "))
        if step.get("mechanism"):
            lines.append(_wrap(step["mechanism"], "       "))
    if c.get("arithmetic"):
        lines.append(_wrap("arithmetic: " + c["arithmetic"]["text"], "    "))
    return lines


def _how_text(explanation: dict) -> list[str]:
    lines = [f"HOW THE CONCLUSIONS WERE REACHED   (triage: {explanation['triage']['level']})"]
    for c in explanation["conclusions"]:
        lines += _conclusion_lines(c)
    return lines


def _why_not_text(explanation: dict) -> list[str]:
    lines = [f"WHY NOT {explanation['label'].upper()}?", _wrap(explanation["status"] + ".")]
    if explanation["plan_withheld"]:
        lines.append(_wrap("A red flag is present: no exercise plan is given whatever the ranking."))
    lines += _labelled("against it: ", [f"{a['evidence']} ({a['weight']:+.2f})" for a in explanation["against"]], "; ")
    lines += _labelled("for it: ", explanation["supporting"], "; ")
    lines += _labelled("signs not recorded: ", explanation["missing_findings"])
    lines += _labelled("muscles not assessed: ", explanation["untested_muscles"])
    lines += _labelled("would change the answer: ", explanation["would_change_answer"])
    return lines


_RENDERERS = {"why_target": _why_target_text, "how": _how_text, "why_not": _why_not_text}


def to_text(explanation: dict) -> str:
    """Render an explanation from :func:`why_target`, :func:`how` or :func:`why_not` for a person."""
    render = _RENDERERS.get(explanation["kind"])
    lines = render(explanation) if render else []
    return "\n".join(lines) + "\n"
