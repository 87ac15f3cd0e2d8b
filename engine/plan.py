"""From certainties to advice: triage, root-cause ranking, targets and the next assessments.

All choices here happen after the run and depend only on the certainty factors and the KB, with
ties broken by id, so a report never depends on rule firing order or input order.
"""

from __future__ import annotations

from collections.abc import Iterator

from compensa.engine.case import Case
from compensa.engine.reasoning import Reasoning, belief_key
from compensa.engine.triage import ALARMING
from compensa.engine.triage import triage as screen
from compensa.kb.model import in_sentence, KnowledgeBase, muscle_state_id, split_muscle_state

__all__ = [
    "CAUTION_MIN", "CAUTION_NOTE_MIN", "LOADING_FIRST_MIN", "MEDICAL_REVIEW_MIN", "REFUTED", "REPORT_MIN",
    "REVIEW_ADVICE", "TARGET_MIN", "TARGET_ROOTS", "alarm_clusters", "confirming_assessments", "disagreeing_tests", "evidence_words", "medical_review",
    "next_assessments", "pattern_tested", "rank", "root_signs", "targets", "triage",
]

#: Beliefs below this certainty are left out of the ranked lists (``explain --why-not`` still sees them).
REPORT_MIN = 0.1
#: A root must reach this certainty for its muscles to become targets.
TARGET_MIN = 0.4
#: A muscle whose state the evidence refutes at least this much is never targeted.
REFUTED = -0.2
#: A muscle state a test supports at least this much is targeted even outside the chosen roots.
CONFIRMED_STATE = 0.5
#: An exercise is withheld when a condition it must not be given with is at least this likely.
CAUTION_MIN = 0.4
#: ... and given with its caution beside it when that condition is at least this possible (believed at all).
CAUTION_NOTE_MIN = 0.2
#: A condition that needs a medical diagnosis is flagged for medical review from this certainty on.
MEDICAL_REVIEW_MIN = 0.6
#: Targets come from at most this many of the top roots ...
TARGET_ROOTS = 3
#: ... and a root after the first must reach this certainty too (keeps the plan focused).
SECONDARY_TARGET_MIN = 0.5

REVIEW_ADVICE = ("Muscle balance work is deliberately one-sided until the body is back in balance; once the "
                 "pain has eased, return to normal activity and review posture and muscle balance about every "
                 "6 months to catch new imbalances early.")

def triage(kb: KnowledgeBase, case: Case, reasoning: Reasoning | None = None) -> dict:
    """The triage block (see :func:`compensa.engine.triage.triage`), with the red-flag clusters the run met."""
    return screen(kb, case, alarm_clusters(kb, reasoning) if reasoning is not None else ())


def alarm_clusters(kb: KnowledgeBase, reasoning: Reasoning) -> tuple[str, ...]:
    """The criteria met in the run that raise an alarm (red-flag clusters)."""
    return tuple(sorted({key[1] for key in reasoning.alarms if key[1] in kb.criteria}))


def rank(reasoning: Reasoning, kind: str, minimum: float = REPORT_MIN) -> list[tuple[tuple, float]]:
    """Beliefs of ``kind`` with certainty >= ``minimum``, ranked (certainty desc, then id, then side)."""
    return [(k, cf) for k, cf in reasoning.beliefs(kind) if cf >= minimum]


def _painful(kb: KnowledgeBase, muscle: str, side: str, case: Case) -> bool:
    sites = set(kb.muscles[muscle].sites)
    for pain in case.of_kind("pain"):
        if pain.id in sites and (not side or not pain.side or pain.side == side):
            return True
    return False


def _chain_to_pain(reasoning: Reasoning, root_key: tuple) -> list[str]:
    """Node ids from the root down to a reported pain site (or to its strongest evidence)."""
    path = reasoning.best_path(root_key, accept=lambda ev: ev[1] == "pain")
    if not path:
        path = reasoning.best_path(root_key)
    ids = [key[1] if key[0] == "Belief" else key[2] for key in reversed(path)]
    return list(dict.fromkeys(ids))


def _phrase(kb: KnowledgeBase, chain: list[str]) -> str:
    """'explains the pain at the outside of the knee through iliotibial band syndrome' from a chain."""
    if len(chain) < 2:
        return ""
    end = chain[-1]
    middle = [in_sentence(kb.label(n)) for n in chain[1:-1] if kb.node_kind(n) in ("dysfunction", "condition")]
    end_label = in_sentence(kb.label(end))
    if end in kb.pain_sites:
        text = f"explains the pain at the {end_label.removeprefix('the ')}"
    elif kb.node_kind(end) in ("dysfunction", "condition"):
        text = f"explains the {end_label}"
    else:
        text = f"is supported by the {end_label} result"
        middle = [in_sentence(kb.label(n)) for n in chain[1:-1] if kb.node_kind(n) in ("dysfunction", "condition", "muscle_state")]
        return text + (" (" + ", ".join(middle) + ")" if middle else "")
    if middle:
        text += " through " + (", ".join(middle[:-1]) + " and " + middle[-1] if len(middle) > 1 else middle[0])
    return text


def _observed(reasoning: Reasoning, key: tuple, kinds: tuple[str, ...] = ("finding", "test")) -> bool:
    """Whether a finding or test (not only pain or history) shows this belief's own signs
    (:meth:`~compensa.engine.reasoning.Reasoning.observed_kinds`)."""
    return bool(set(kinds) & reasoning.observed_kinds(key))


def pattern_tested(reasoning: Reasoning, root_key: tuple) -> bool:
    """Whether a test shows the pattern's muscles: a test of the root itself, or of a muscle state it lists.

    A test of a posture only (a navicular drop shows the arch, not which muscles let it fall) does
    not confirm the muscles of a pattern: its targets stay tentative until one of them is tested.
    """
    for key in reasoning.merged_keys(root_key):
        for part in reasoning.contributions(key):
            premise = part.support.premise
            if part.value <= 0:
                continue
            if premise[0] == "Evidence" and premise[1] == "test":
                return True
            if premise[0] == "Belief" and reasoning.kb.node_kind(premise[1]) == "muscle_state" \
                    and _observed(reasoning, premise, ("test",)):
                return True
    return False


def _choose_roots(reasoning: Reasoning) -> list[tuple[tuple, float]]:
    """The roots whose plans are given: the leader, plus likely roots resting on evidence of their own.

    A root only reached from pain and history gives no plan: without a finding or a test behind it,
    exercise risks stretching or strengthening the wrong muscles (the method's own warning).
    """
    ranked = [(k, cf) for k, cf in rank(reasoning, "root", TARGET_MIN) if _observed(reasoning, k)][:TARGET_ROOTS]
    # the leader, on every side it is as likely on (a bilateral presentation is one pattern, both sides)
    roots = [(k, cf) for k, cf in ranked if ranked and k[1] == ranked[0][0][1] and cf >= ranked[0][1] - 1e-9]
    explained = {ev for k, _ in roots for ev, w in reasoning.reported_influence(k).items() if w > 0}
    for key, cf in ranked[len(roots):]:
        own = {ev for ev, w in reasoning.reported_influence(key).items() if w > 0}
        # a further root must be likely AND rest on evidence the roots before it do not already explain
        if cf >= SECONDARY_TARGET_MIN and own - explained:
            roots.append((key, cf))
            explained |= own
    return roots


def _condition_cfs(reasoning: Reasoning, minimum: float) -> dict[str, float]:
    """Each condition at least ``minimum`` likely, with its highest certainty over sides."""
    out: dict[str, float] = {}
    for key, cf in rank(reasoning, "condition", minimum):
        out[key[1]] = max(out.get(key[1], cf), cf)
    return out


def _named_conditions(kb: KnowledgeBase, ids: list[str], cfs: dict[str, float]) -> str:
    """'herniated disc (0.88)' for the conditions behind a caution."""
    return " and ".join(f"{in_sentence(kb.conditions[c].label)} ({cfs[c]:.2f})" for c in ids)


def _exercise(kb: KnowledgeBase, muscle: str, action: str,
              conditions: dict[str, float]) -> tuple[dict | None, str, dict | None]:
    """The exercise for a target, its caution, and what was withheld: ``(exercise, caution, withheld)``.

    An exercise the KB says to avoid with a condition is withheld when that condition is likely
    (>= ``CAUTION_MIN``): no exercise, a caution naming the exercise, the condition and why. When the
    condition is only possible (>= ``CAUTION_NOTE_MIN``) the exercise is given with the caution beside it.
    """
    exercise = kb.exercise(muscle, action)
    if exercise is None:
        return None, "", None
    view = {"id": exercise.id, "label": exercise.label, "how": exercise.how, "dose": exercise.dose}
    likely = sorted(c for c in exercise.avoid_with if conditions.get(c, 0.0) >= CAUTION_MIN)
    if likely:
        because = _named_conditions(kb, likely, conditions)
        caution = f"{exercise.label} withheld because {because} is likely: {exercise.caution}"
        return None, caution, {"id": exercise.id, "label": exercise.label, "because": likely}
    possible = sorted(c for c in exercise.avoid_with if conditions.get(c, 0.0) >= CAUTION_NOTE_MIN)
    if possible:
        return view, f"Caution, {_named_conditions(kb, possible, conditions)} is possible: {exercise.caution}", None
    return view, "", None


def evidence_words(kb: KnowledgeBase, ev: tuple) -> str:
    """'Trendelenburg test negative on the right' for an evidence key."""
    side = f" on the {ev[3]}" if ev[3] else ""
    return f"{kb.label(ev[2])} {ev[4]}{side}"


def state_keys(key: tuple) -> list[tuple]:
    """The beliefs a target's muscle state rests on: itself, and for an unsided one both sides too.

    A pattern without a side (lower crossed syndrome) targets a muscle without a side, but the tests
    of that muscle are one-sided: what they say about either side bears on the unsided target."""
    return [key] if key[2] else [key, (*key[:2], "left"), (*key[:2], "right")]


def disagreeing_tests(reasoning: Reasoning, key: tuple) -> list[tuple[tuple, float]]:
    """The test results with a negative influence on a muscle state (either side of an unsided one),
    most negative first (ties by key)."""
    against: dict[tuple, float] = {}
    for k in state_keys(key):
        for ev, w in reasoning.reported_influence(k).items():
            if ev[1] == "test" and w < 0:
                against[ev] = min(w, against.get(ev, 0.0))
    return sorted(against.items(), key=lambda item: (item[1], item[0]))


def refuted_sides(reasoning: Reasoning, key: tuple) -> set[str]:
    """The sides on which the evidence refutes a muscle state (certainty <= ``REFUTED``); "" for unsided."""
    return {k[2] for k in state_keys(key) if reasoning.reported_cf(k) <= REFUTED}


def _best_confirming_tests(kb: KnowledgeBase, case: Case, node: str) -> list[str]:
    """Tests not yet done that would support ``node``, strongest support first (ties by id)."""
    def strength(test_id: str) -> float:
        assessment = kb.assessments[test_id]
        return max(e.strength for e in assessment.outcomes[assessment.results[0]] if e.target == node)

    return sorted(confirming_assessments(kb, case, {node}, ("test",)), key=lambda a: (-strength(a), a))


def _disagreement(kb: KnowledgeBase, reasoning: Reasoning, case: Case, state_key: tuple) -> dict | None:
    """The tests that argue against a target's muscle state, in words, or ``None`` when none does.

    The fields describe the strongest one (``test``, ``side``, ``result``, ``weight``); ``tests``
    lists them all and ``text`` says it as a clinician would ("Trendelenburg test negative on the
    right argues against this").
    """
    against = disagreeing_tests(reasoning, state_key)
    if not against:
        return None
    words = [evidence_words(kb, ev) for ev, _ in against]
    verb = "argues" if len(words) == 1 else "argue"
    confirm = [kb.label(a) for a in _best_confirming_tests(kb, case, state_key[1])[:2]]
    check = f"confirm it ({' or '.join(confirm)})" if confirm else "recheck the muscle"
    ev, weight = against[0]
    return {
        "test": ev[2], "label": kb.label(ev[2]), "side": ev[3] or None, "result": ev[4], "weight": round(weight, 3),
        "tests": [{"test": e[2], "side": e[3] or None, "result": e[4], "weight": round(w, 3)} for e, w in against],
        "text": f"{' and '.join(words)} {verb} against this ({in_sentence(kb.label(state_key[1]))}: "
                f"{reasoning.reported_cf(state_key):.2f}); tentative - {check} before loading it",
    }


class _Planner:
    """The targets of one consultation as they are chosen (see :func:`targets`).

    A muscle any test argued against (a negative influence from a test on its muscle state) is
    **kept, marked tentative, with the disagreement in words**, unless the evidence refutes it
    (certainty <= ``REFUTED``), when it is left out. Why keep it: tests such as Trendelenburg are
    insensitive (a level pelvis refutes abductor weakness only weakly, -0.15), so dropping the muscle
    would hide the most plausible part of the pattern, while keeping it silently would hide the
    disagreement. Kept and flagged, the clinician sees both and confirms before loading.
    """

    def __init__(self, kb: KnowledgeBase, reasoning: Reasoning, case: Case):
        self.kb, self.reasoning, self.case = kb, reasoning, case
        self.planned = {k[1:] for k in reasoning.by_conclusion if k[0] == "Target"}  # (muscle, action, side, root)
        self.conditions = _condition_cfs(reasoning, CAUTION_NOTE_MIN)
        self.chosen: dict[tuple[str, str], dict] = {}
        self.chains: dict[tuple, list[str]] = {}

    def add(self, muscle: str, action: str, root_key: tuple, cf: float, found_by: str = "") -> None:
        """Target ``muscle`` for ``action`` from a root (or note a second root / an opposite request)."""
        key = (muscle, root_key[2])
        if key in self.chosen:
            self._merge(self.chosen[key], action, root_key[1])
            return
        state = "tight" if action == "stretch" else "weak"
        state_key = belief_key(muscle_state_id(muscle, state), root_key[2])
        refuted = refuted_sides(self.reasoning, state_key)
        if root_key[2] in refuted or {"left", "right"} <= refuted:
            return  # the tests refute it (on every side, for a pattern without a side): never targeted
        side = root_key[2]
        if refuted:  # one side refuted: an unsided pattern's target stays on the other side only
            side = "left" if "right" in refuted else "right"
            key = (muscle, side)
            if key in self.chosen:
                self._merge(self.chosen[key], action, root_key[1])
                return
            state_key = belief_key(muscle_state_id(muscle, state), side)
        self.chosen[key] = self._target(muscle, action, root_key, cf, state_key, found_by, side)

    def _merge(self, first: dict, action: str, root_id: str) -> None:
        if first["action"] != action:  # another likely pattern asks the opposite: say so, keep the leader's
            note = (f"{in_sentence(self.kb.roots[root_id].label)} would {action} it instead; the leading pattern "
                    f"decides - confirm the muscle's state with a test before loading it")
            first["conflict"] = {"root": root_id, "action": action, "note": note}
        elif root_id not in first["also_roots"] and first["root"] != root_id:
            first["also_roots"].append(root_id)

    def _chain(self, root_key: tuple) -> list[str]:
        if root_key not in self.chains:
            self.chains[root_key] = _chain_to_pain(self.reasoning, root_key)
        chain = self.chains[root_key]
        return chain if chain and chain[0] == root_key[1] else [root_key[1]] + chain

    def _target(self, muscle: str, action: str, root_key: tuple, cf: float, state_key: tuple, found_by: str,
                side: str) -> dict:
        kb = self.kb
        state_cf = self.reasoning.reported_cf(state_key)
        chain = self._chain(root_key)
        painful = _painful(kb, muscle, side, self.case)
        disagreement = _disagreement(kb, self.reasoning, self.case, state_key)
        state_tested = state_cf >= 0.2 and _observed(self.reasoning, state_key, ("test",))  # seen alone is not confirmed
        untested = not pattern_tested(self.reasoning, root_key) and not state_tested
        because = self._because(muscle, action, root_key, cf, chain, found_by, painful)
        if side != root_key[2]:
            because += f"; on the {side} only, as the tests refute it on the other side"
        if disagreement:
            because += f". A test disagrees: {disagreement['text']}"
        elif untested:
            because += ". Tentative: no test confirms this pattern yet - check the muscle before loading it"
        exercise, caution, withheld = _exercise(kb, muscle, action, self.conditions)
        return {
            "muscle": muscle, "label": kb.muscles[muscle].label, "action": action, "region": kb.muscles[muscle].region,
            "side": side or None, "painful": painful, "because": because + ".",
            "chain": [muscle] + chain, "root": root_key[1], "confidence": round(cf, 3),
            "muscle_state_confirmed": state_tested, "exercise": exercise, "caution": caution or None,
            "withheld": withheld, "also_roots": [], "conflict": None,
            "tentative": untested or disagreement is not None, "disagreement": disagreement,
        }

    def _because(self, muscle: str, action: str, root_key: tuple, cf: float, chain: list[str],
                 found_by: str, painful: bool) -> str:
        kb = self.kb
        state = "tight" if action == "stretch" else "weak"
        verb = "Stretch" if action == "stretch" else "Strengthen"
        because = f"{verb} the {state} {in_sentence(kb.muscles[muscle].label)}: "
        because += f"{found_by}; it is part of " if found_by else "part of "
        because += f"{in_sentence(kb.roots[root_key[1]].label)} ({cf:.2f})"
        phrase = _phrase(kb, chain)
        if phrase:
            because += f", which {phrase}"
        if not painful:
            because += ". It does not hurt there: it is where the chain starts"
        return because

    def add_confirmed_states(self) -> None:
        """Every muscle state a test confirmed (>= ``CONFIRMED_STATE``) not yet covered, via its likeliest root."""
        roots = rank(self.reasoning, "root")
        for state_key, _ in rank(self.reasoning, "muscle_state", CONFIRMED_STATE):
            parts = split_muscle_state(state_key[1])
            if parts is None:
                continue
            state, muscle = parts
            side = state_key[2]
            tests = [ev for ev, w in self.reasoning.reported_influence(state_key).items() if ev[1] == "test" and w > 0]
            if (muscle, side) in self.chosen or not tests:
                continue
            action = "stretch" if state == "tight" else "strengthen"
            found = self._likeliest_root(roots, muscle, action, side)
            if found is not None:
                root_key, cf = found
                self.add(muscle, action, root_key, cf, f"the {in_sentence(self.kb.label(tests[0][2]))} found it {state}")

    def _likeliest_root(self, roots: list, muscle: str, action: str, side: str) -> tuple | None:
        """The most likely root (on this side or unsided) that plans ``action`` for ``muscle``: (key, cf)."""
        return next(((key, cf) for key, cf in roots
                     if (muscle, action, key[2], key[1]) in self.planned and key[2] in (side, "")), None)


def targets(kb: KnowledgeBase, reasoning: Reasoning, case: Case) -> list[dict]:
    """Muscles to stretch or strengthen (none at all when a red flag is present).

    From the chosen roots: their tight muscles to stretch and weak ones to strengthen, except muscles
    the tests refuted. Then every muscle state a test confirmed (certainty >= 0.5) that those roots
    do not cover, through the most likely root that lists it, so a weakness found is never ignored.
    A muscle a test argued against (without refuting it) stays, tentative, with ``disagreement``
    saying which test and how much (see :class:`_Planner`).
    """
    if case_has_alarm(case, kb) or reasoning.alarms:
        return []  # a red flag, or a red-flag cluster met in the run
    planner = _Planner(kb, reasoning, case)
    for root_key, cf in _choose_roots(reasoning):
        root = kb.roots[root_key[1]]
        for action, muscles in (("stretch", root.tight), ("strengthen", root.weak)):
            for muscle in muscles:
                if (muscle, action, root_key[2], root_key[1]) in planner.planned:
                    planner.add(muscle, action, root_key, cf)
    planner.add_confirmed_states()
    return _loading_first(kb, reasoning, list(planner.chosen.values()))


#: A tendon problem this likely puts loading before stretching.
LOADING_FIRST_MIN = 0.4


def _loading_first(kb: KnowledgeBase, reasoning: Reasoning, chosen: list[dict]) -> list[dict]:
    """With a likely tendinopathy, strengthening comes first and every stretch waits for it.

    A painful tendon recovers with progressive loading; stretching it early (and compressing it
    across a joint) can provoke it (Mellor 2018: loading exercise, and no compressive stretch, for gluteal tendinopathy). So the strengthening targets
    lead, and each stretch says to add it only once loading is under way and only if it does not
    bring on the tendon pain.
    """
    tendons = [c for c, cf in _condition_cfs(reasoning, LOADING_FIRST_MIN).items() if kb.conditions[c].loading_first]
    if not tendons:
        return chosen
    names = " and ".join(in_sentence(kb.conditions[c].label) for c in sorted(tendons))
    note = (f"Load first: with a likely {names}, start with the strengthening (progressive tendon loading); add "
            "this stretch only once that is under way, and only if it does not bring on the tendon pain.")
    for target in chosen:
        if target["action"] == "stretch":
            target["caution"] = f"{target['caution']} {note}" if target.get("caution") else note
    return sorted(chosen, key=lambda t: t["action"] != "strengthen")  # stable: the order within each stays


def root_signs(kb: KnowledgeBase, root_id: str) -> set[str]:
    """The nodes that show a root directly: its member muscle states, and the root itself."""
    root = kb.roots[root_id]
    return ({muscle_state_id(m, "tight") for m in root.tight} | {muscle_state_id(m, "weak") for m in root.weak}
            | {root_id})


def confirming_assessments(kb: KnowledgeBase, case: Case, targets: set[str],
                           kinds: tuple[str, ...] = ("finding", "test")) -> list[str]:
    """Assessments not yet done whose positive result would support any of ``targets`` (sorted by id)."""
    done = {e.id for e in case.evidence}
    index = _supporters(kb)
    found = {a for target in targets for a in index.get(target, ())}
    return sorted(a for a in found if kb.assessments[a].kind in kinds and a not in done)


def _supporters(kb: KnowledgeBase) -> dict[str, tuple[str, ...]]:
    """For each node: the assessments whose positive result supports it (KB-static; cached)."""
    cache = kb._index.get("supporters")
    if cache is None:
        found: dict[str, set[str]] = {}
        for a in kb.assessments.values():
            for effect in a.outcomes[a.results[0]]:
                if effect.strength > 0:
                    found.setdefault(effect.target, set()).add(a.id)
        cache = kb._index["supporters"] = {node: tuple(sorted(ids)) for node, ids in found.items()}
    return cache


def medical_review(kb: KnowledgeBase, reasoning: Reasoning, triage_block: dict) -> dict:
    """Add likely conditions that need a medical diagnosis (disc, stenosis, frozen shoulder...) to triage."""
    review = [k[1] for k, cf in rank(reasoning, "condition", MEDICAL_REVIEW_MIN) if kb.conditions[k[1]].medical]
    review = list(dict.fromkeys(review))
    out = dict(triage_block, medical_review=review)
    if review:
        names = ", ".join(in_sentence(kb.conditions[c].label) for c in review)
        out["advice"] = (triage_block["advice"] + f" Likely {names}: this needs a medical diagnosis (examination, "
                         "and imaging if the doctor advises it); the exercise plan complements that assessment and "
                         "does not replace it.")
    return out


def case_has_alarm(case: Case, kb: KnowledgeBase) -> bool:
    """True when an emergency or urgent red flag was answered present or unsure (no plan is then built).

    A ``review`` sign alone keeps the plan: it is listed in ``triage.review``."""
    if case.unmatched_red_flags:  # a yes or unsure that could not be matched is never dropped
        return True
    return any(e.value in ALARMING and kb.red_flags[e.id].level in ("emergency", "urgent")
               for e in case.of_kind("red_flag"))


def _assessment_reach(kb: KnowledgeBase, assessment) -> dict[str, float]:
    """For one assessment: each node's summed |effect| x impact over both results (KB-static; cached)."""
    cache = kb._index.setdefault("assessment_reach", {})
    if assessment.id not in cache:
        reach: dict[str, float] = {}
        for result in assessment.results:
            for effect in assessment.outcomes[result]:
                for node, impact in _impacts(kb, effect.target).items():
                    reach[node] = reach.get(node, 0.0) + abs(effect.strength) * impact
        cache[assessment.id] = reach
    return cache[assessment.id]


def _impacts(kb: KnowledgeBase, target: str) -> dict[str, float]:
    """How one assessment effect target bears on roots and conditions (up to three steps; cached per KB)."""
    cache = kb._index.setdefault("impacts", {})
    if target not in cache:
        cache[target] = _compute_impacts(kb, target)
    return cache[target]


def _compute_impacts(kb: KnowledgeBase, target: str) -> dict[str, float]:
    out: dict[str, float] = {target: 1.0}
    state = split_muscle_state(target)
    if state:
        for root in kb.roots_with(target):
            out[root.id] = max(out.get(root.id, 0.0), root.member_strength)
        return out
    frontier = [(target, 1.0)]
    for _ in range(3):
        nxt = []
        for node, weight in frontier:
            for link in kb.causes_of(node):
                w = weight * link.strength
                if w > out.get(link.cause, 0.0):
                    out[link.cause] = w
                    nxt.append((link.cause, w))
        frontier = nxt
    return out


def _reached_by(kb: KnowledgeBase) -> dict[str, tuple[str, ...]]:
    """For each root or condition: the assessments that bear on it (KB-static; cached), so scoring
    looks only at the assessments the leading hypotheses can use, however large the KB is."""
    cache = kb._index.get("reached_by")
    if cache is None:
        found: dict[str, list[str]] = {}
        for assessment in kb.assessments.values():
            for node in _assessment_reach(kb, assessment):
                found.setdefault(node, []).append(assessment.id)
        cache = kb._index["reached_by"] = {node: tuple(ids) for node, ids in found.items()}
    return cache


def _leading_hypotheses(reasoning: Reasoning) -> list[tuple[tuple, float]]:
    """The hypotheses worth testing next: the top 5 roots, then the top 3 conditions at least 0.2 likely."""
    return rank(reasoning, "root")[:5] + rank(reasoning, "condition", 0.2)[:3]


def _candidate_assessments(kb: KnowledgeBase, hypotheses: list[tuple[tuple, float]]) -> Iterator:
    """The assessments that bear on any of ``hypotheses`` (each once, in the order first reached)."""
    reached_by = _reached_by(kb)
    candidates = dict.fromkeys(a for (_, node, _), _ in hypotheses for a in reached_by.get(node, ()))
    return (kb.assessments[a] for a in candidates)


def _assessed(case: Case) -> tuple[set[tuple[str, str]], set[str]]:
    """The findings and tests the case already has: as ``(id, side)`` pairs, and as ids."""
    done = {(e.id, e.side) for e in case.evidence if e.kind in ("finding", "test")}
    return done, {i for i, _ in done}


def _best_use(assessment_id: str, reach: dict[str, float], hypotheses: list[tuple[tuple, float]],
              done: set[tuple[str, str]], done_ids: set[str]) -> tuple[float, str | None, str | None]:
    """How much one assessment would tell about the hypotheses it can still test: ``(total, node, side)``.

    Each hypothesis it reaches, on a side not yet assessed, adds reach x max(cf, 0.1) x (1 - cf) to
    the total; ``node`` and ``side`` name the hypothesis it would tell most about (``None`` when none).
    """
    best = (0.0, None, None)
    total = 0.0
    if (assessment_id, "") in done:  # done without a side: done for every hypothesis
        return total, None, None
    for (_, node, side), cf in hypotheses:
        weight = reach.get(node)
        if weight is None:
            continue
        if (assessment_id, side) in done or (not side and assessment_id in done_ids):
            continue  # already done for this side
        value = weight * max(cf, 0.1) * (1.0 - cf)
        total += value
        if value > best[0]:
            best = (value, node, side)
    return total, best[1], best[2]


def _suggestion(kb: KnowledgeBase, reasoning: Reasoning, assessment, node: str, side: str) -> dict:
    """The suggested assessment in a report: what it is, how to do it, and why (the hypothesis it tests)."""
    cf = reasoning.reported_cf(belief_key(node, side))
    verb = "confirm or refute" if assessment.outcomes[assessment.results[1]] else "support"
    why = f"Would {verb} {in_sentence(kb.label(node))}{f' ({side})' if side else ''}, now at {cf:.2f}: {assessment.reading}"
    return {
        "id": assessment.id, "label": assessment.label, "kind": assessment.kind,
        "side": side or None, "why": why, "how": assessment.how, "for": node,
    }


def next_assessments(kb: KnowledgeBase, reasoning: Reasoning, case: Case, limit: int = 5) -> list[dict]:
    """Assessments not yet done that would best confirm or refute the leading hypotheses."""
    hypotheses = _leading_hypotheses(reasoning)
    if not hypotheses:
        return []
    done, done_ids = _assessed(case)
    scored: list[tuple] = []
    for assessment in _candidate_assessments(kb, hypotheses):
        if assessment.id in done_ids and not assessment.sided:
            continue
        total, node, side = _best_use(assessment.id, _assessment_reach(kb, assessment), hypotheses, done, done_ids)
        if node is None or total < 0.01:
            continue
        scored.append((-round(total, 9), assessment.id, assessment, node, side or ""))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [_suggestion(kb, reasoning, assessment, node, side) for _, _, assessment, node, side in scored[:limit]]
