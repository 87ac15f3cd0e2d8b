"""Invariants of consultation, over generated cases (hypothesis)."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compensa.engine import consult, load_kb
from compensa.engine.case import MAX_ITEMS
from compensa.engine.reasoning import belief_key
from compensa.errors import CaseError

KB = load_kb()
SIDES = st.sampled_from([None, "left", "right"])
FINDINGS = sorted(a.id for a in KB.assessments.values() if a.kind == "finding")
TESTS = sorted(a.id for a in KB.assessments.values() if a.kind == "test")


def _item(draw, kind):
    side = draw(SIDES)
    if kind == "pain":
        item = {"site": draw(st.sampled_from(sorted(KB.pain_sites)))}
    elif kind == "findings":
        item = {"id": draw(st.sampled_from(FINDINGS)), "present": draw(st.booleans())}
    else:
        item = {"id": draw(st.sampled_from(TESTS)), "result": draw(st.sampled_from(["positive", "negative"]))}
    if side:
        item["side"] = side
    return item


def _dedupe(items, key):
    seen, out = set(), []
    for item in items:
        k = (item.get("site") or item.get("id"), item.get("side"))
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


@st.composite
def cases(draw, red_flags=True):
    case = {
        "pain": _dedupe([_item(draw, "pain") for _ in range(draw(st.integers(0, 3)))], "site"),
        "findings": _dedupe([_item(draw, "findings") for _ in range(draw(st.integers(0, 4)))], "id"),
        "tests": _dedupe([_item(draw, "tests") for _ in range(draw(st.integers(0, 4)))], "id"),
        "history": sorted(set(draw(st.lists(st.sampled_from(sorted(KB.history)), max_size=2)))),
    }
    if red_flags:
        flags = sorted(set(draw(st.lists(st.sampled_from(sorted(KB.red_flags)), max_size=2))))
        case["red_flags"] = [{"id": f, "present": draw(st.booleans())} for f in flags]
    return case


def _stable(report) -> str:
    return json.dumps(report.to_dict(), sort_keys=True)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(case=cases(), seed=st.integers(0, 10**6))
def test_reordering_input_never_changes_the_report(case, seed):
    shuffled = {k: (list(v) if isinstance(v, list) else v) for k, v in case.items()}
    rng = random.Random(seed)
    for value in shuffled.values():
        if isinstance(value, list):
            rng.shuffle(value)
    shuffled = dict(sorted(shuffled.items(), key=lambda kv: rng.random()))
    assert _stable(consult(case)) == _stable(consult(shuffled))


@SETTINGS
@given(case=cases())
def test_same_input_same_report(case):
    assert _stable(consult(case)) == _stable(consult(case))


ALARMS = sorted(f for f, flag in KB.red_flags.items() if flag.level in ("emergency", "urgent"))
REVIEW_SIGNS = sorted(f for f, flag in KB.red_flags.items() if flag.level == "review")


@SETTINGS
@given(case=cases(red_flags=False), flag=st.sampled_from(ALARMS), answer=st.sampled_from([True, "unsure"]))
def test_any_red_flag_empties_the_plan(case, flag, answer):
    report = consult({**case, "red_flags": [{"id": flag, "present": answer}]}).to_dict()
    assert report["targets"] == []
    assert report["triage"]["level"] in ("urgent", "emergency") and flag in report["triage"]["red_flags"]
    assert report["plan_withheld"] is True


@SETTINGS
@given(case=cases(red_flags=False), flag=st.sampled_from(REVIEW_SIGNS or ["-"]))
def test_a_review_sign_alone_keeps_the_plan_and_is_listed(case, flag):
    if flag == "-":
        return
    plain = consult(case).to_dict()
    report = consult({**case, "red_flags": [{"id": flag, "present": True}]}).to_dict()
    assert flag in report["triage"]["review"]
    if set(report["triage"]["clusters"]) - set(plain["triage"]["clusters"]):
        return  # the sign completed a red-flag cluster (e.g. a criterion it belongs to): that cluster acts
    # alone it changes neither the level nor the plan (a case may already meet a cluster by its tests)
    assert report["triage"]["level"] == plain["triage"]["level"]
    assert report["targets"] == plain["targets"] and report["plan_withheld"] == plain["plan_withheld"]


def _roots(report) -> dict[tuple, float]:
    reasoning = report.reasoning
    return {(r, s): reasoning.reported_cf(belief_key(r, s)) for r in KB.roots for s in ("", "left", "right")}


def _pure_effects(sign: int):
    """(kind, id, result) evidence whose every effect has the given sign."""
    out = []
    for a in KB.assessments.values():
        for result in a.results:
            effects = a.outcomes[result]
            if effects and all((e.strength > 0) == (sign > 0) for e in effects):
                out.append((a.kind, a.id, result))
    return sorted(out)


CONFIRMING = _pure_effects(+1)
REFUTING = _pure_effects(-1)


def _add(case, kind, id_, result, side):
    case = json.loads(json.dumps(case))
    section = "findings" if kind == "finding" else "tests"
    existing = {(i["id"], i.get("side")) for i in case[section]}
    assume((id_, side) not in existing and (id_, None) not in existing)
    if side is None:
        assume(all(i["id"] != id_ for i in case[section]))
    item = {"id": id_, "side": side} if side else {"id": id_}
    if kind == "finding":
        item["present"] = result == "present"
    else:
        item["result"] = result
    case[section].append(item)
    return case


@SETTINGS
@given(case=cases(red_flags=False), sign=st.sampled_from([+1, -1]), pick=st.integers(0, 10**6), side=SIDES)
def test_confirming_evidence_never_lowers_a_root_and_refuting_never_raises_one(case, sign, pick, side):
    pool = CONFIRMING if sign > 0 else REFUTING
    extra = pool[pick % len(pool)]
    before = _roots(consult(case))
    after = _roots(consult(_add(case, *extra, side)))
    for key, cf in before.items():
        assert sign * (after[key] - cf) >= -1e-9, (extra, key, cf, after[key])


@SETTINGS
@given(case=cases())
def test_every_derived_fact_has_a_justification_path_to_input_evidence(case):
    report = consult(case)
    reasoning = report.reasoning
    given_evidence = {("Evidence", e.kind, e.id, e.side, e.value) for e in report.case.evidence}
    for support in reasoning.supports:
        # walk premises back: every chain ends at evidence that was given in the case
        key, seen = support.premise, set()
        stack = [key]
        reached_evidence = False
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            if k[0] == "Evidence":
                assert k in given_evidence
                reached_evidence = True
                continue
            parents = reasoning.by_conclusion.get(k, ())
            assert parents, f"{k} was used but never justified"
            stack.extend(p.premise for p in parents)
        assert reached_evidence
    for target in report.targets:
        assert target.root in {r.id for r in report.root_causes}


@settings(max_examples=40, deadline=None)
@given(word=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=14),
       section=st.sampled_from(["pain", "findings", "tests", "history", "diagnoses"]))
def test_unknown_ids_always_give_an_error_with_a_suggestion(word, section):
    from compensa.engine import consultant_for

    vocab = consultant_for().vocabulary
    kind = {"pain": "pain", "findings": "finding", "tests": "test", "history": "history", "diagnoses": "diagnosis"}[section]
    assume(all(vocab.resolve(k, word) is None for k in ("pain", "finding", "test", "history", "diagnosis", "red_flag")))
    assume(not vocab.other_kinds(kind, word))  # known in another section (a yellow flag): "belongs under" it
    item = f"{word}:positive" if section == "tests" else word
    try:
        consult({section: [item]}, strict=True)
    except CaseError as exc:
        [problem] = exc.problems
        assert word in problem.message and problem.where.startswith(f"{section}[0]")
        assert problem.suggestions, problem
        assert set(problem.suggestions) <= set(vocab.ids(kind)), "suggestions must be valid ids of that section"
    else:
        raise AssertionError("an unknown id was accepted")


def test_case_size_is_bounded():
    try:
        consult({"history": ["runner"] * (MAX_ITEMS + 1)})
    except CaseError as exc:
        assert "too many items" in str(exc)
    else:
        raise AssertionError("oversized case accepted")
