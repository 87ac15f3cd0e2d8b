"""Compile a knowledge base into rule specifications (plain data; no experta here).

Every rule has ONE pattern that filters on constants (the Rete matcher hashes those), so a
consultation costs about one match per fact. Rules are generated from the KB, never written by hand:

=================  =====================================================  =========================
rule id            matches                                                 declares
=================  =====================================================  =========================
screen:<flag>[:u]  Evidence(kind=red_flag, id=<flag>, value=present|unsure) Alarm(flag, level)
stop:emergency     Alarm(level=emergency)                                  halts the run
pain:<site>        Evidence(kind=pain, id=<site>)                          Belief(condition) per site link
<kind>:<id>:<res>  Evidence(kind=finding|test, id, value=<result>)         Belief(target) per effect
history:<id>       Evidence(kind=history, id, value=present)               Belief(target) per effect
diagnosis:<id>     Evidence(kind=diagnosis, id=<condition>)                Belief(condition)
explain:<node>     Belief(node=<dysfunction or condition>)                 Belief(cause) per chain link
member:<state>     Belief(node=tight:<m> / weak:<m>)                       Belief(root) per root listing it
plan:<root>        Belief(node=<root>) and no Alarm                        Plan(root); Target per muscle (*)
join:<crit>:<i..>  one Evidence per member in the subset (same side bound   Criterion(id, side)
                   when the criterion says so), and NOT each excluded one
criterion:<crit>   Criterion(id=<crit>)                                    Belief per effect; Alarm
=================  =====================================================  =========================

A criterion (``kb/data/criteria.yaml``: all-of, k-of-n, none-of, optionally on one side) is the one
exception to "one pattern per rule": it compiles to real joins, one rule per k-subset of its members
(lint bounds the count), each joining its members' evidence facts on a shared side variable.

(*) recorded, not declared: no rule reads them (a conclusion no pattern can match stays out of working
memory, :func:`declared_only_when_read`).

Salience: red-flag screening (and criteria that raise an alarm) 100, the emergency stop 90, everything
else 0 (ranking happens after the run, so the order of equal-salience rules never matters).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

from compensa.kb.model import Criterion, KnowledgeBase, Member, muscle_state_id

__all__ = ["DIAGNOSIS_STRENGTH", "Clause", "Emit", "JoinSpec", "RuleSpec", "compile_joins", "compile_rules",
           "declared_only_when_read", "reachable"]

#: Belief given to a condition the case says is already diagnosed.
DIAGNOSIS_STRENGTH = 0.9

SCREEN_SALIENCE = 100
STOP_SALIENCE = 90


@dataclass(frozen=True, slots=True)
class Emit:
    """One conclusion a rule declares, with the KB item that justifies it.

    ``via`` names the justification: ``site:<condition>@<site>``, ``effect:<assessment>:<result>``,
    ``link:<cause>-><effect>``, ``member:<root>``, ``flag:<id>`` or ``plan:<root>``.
    ``sided`` says whether the conclusion keeps the premise's side. Beliefs always do — even about
    nodes that have no side (low back pain) — so that left-sided evidence reaching a sided cause
    through an unsided node stays left-sided; an unsided node is read out as one merged belief.
    """

    fact: str  # Belief | Alarm | Plan | Target
    values: tuple[tuple[str, object], ...]
    strength: float
    via: str
    sided: bool
    declared: bool = True  # False: recorded as a conclusion only (no rule reads it), not put in working memory


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A generated rule: one constant pattern, optional "no alarm" guard, and what it declares."""

    id: str
    salience: int
    fact: str
    match: tuple[tuple[str, object], ...]
    emits: tuple[Emit, ...]
    unless_alarm: bool = False
    halts: bool = False


@dataclass(frozen=True, slots=True)
class Clause:
    """One Evidence pattern of a joined rule.

    ``match`` holds the constant fields (kind, id); ``values`` the values that satisfy it (one is a
    constant, several an OR); ``at_least``/``below`` a numeric test of the value instead (age);
    ``bind_side`` joins the pattern's side with the rule's other sided patterns.
    """

    match: tuple[tuple[str, object], ...]
    values: tuple[str, ...]
    at_least: int = -1
    below: int = -1
    bind_side: bool = False


@dataclass(frozen=True, slots=True)
class JoinSpec:
    """A joined rule: every clause matched (sides joined when asked), no excluded clause matched;
    declares ``Criterion(id=criterion, side)`` justified by each matched evidence fact."""

    id: str
    salience: int
    criterion: str
    clauses: tuple[Clause, ...]
    excluded: tuple[Clause, ...]
    sided: bool


def _clause(member: Member, bind_side: bool) -> Clause:
    return Clause((("kind", member.kind), ("id", member.id)), member.values, member.at_least, member.below,
                  bind_side and member.sided)


def _joins(criterion: Criterion) -> list[JoinSpec]:
    salience = SCREEN_SALIENCE if criterion.alarm else 0
    excluded = tuple(_clause(m, False) for m in criterion.excluded)  # excluded on any side
    required = tuple(_clause(m, criterion.same_side) for m in criterion.required)
    out = []
    for subset in combinations(range(len(criterion.members)), criterion.need):
        clauses = required + tuple(_clause(criterion.members[i], criterion.same_side) for i in subset)
        out.append(JoinSpec(f"join:{criterion.id}:{'+'.join(map(str, subset))}", salience, criterion.id, clauses,
                            excluded, criterion.same_side))
    return out


def compile_joins(kb: KnowledgeBase) -> tuple[JoinSpec, ...]:
    """The joined rules of every criterion, in a stable order."""
    return tuple(j for c in sorted(kb.criteria.values(), key=lambda c: c.id) for j in _joins(c))


def _criterion_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """What each met criterion concludes: its effects (like a test result) and its alarm."""
    rules = []
    for criterion in sorted(kb.criteria.values(), key=lambda c: c.id):
        via = f"criterion:{criterion.id}"
        emits = tuple(_belief(kb, e.target, e.strength, via) for e in criterion.effects)
        if criterion.alarm:
            emits += (Emit("Alarm", (("flag", criterion.id), ("level", criterion.alarm)), 1.0, via, False),)
        if emits:
            rules.append(RuleSpec(f"criterion:{criterion.id}", SCREEN_SALIENCE if criterion.alarm else 0, "Criterion",
                                  (("id", criterion.id),), emits))
    return rules


#: Red-flag answers that raise the alarm: present, and unsure (never read an unsure answer as clear).
ALARMING_ANSWERS = ("present", "unsure")


def _belief(kb: KnowledgeBase, node: str, strength: float, via: str) -> Emit:
    return Emit("Belief", (("node", node),), strength, via, True)


def _screen_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One alarm rule per emergency or urgent red flag and alarming answer (present, unsure)."""
    rules = []
    for flag in sorted(kb.red_flags.values(), key=lambda f: f.id):
        if flag.level == "review":
            continue  # a review sign alone raises suspicion but does not stop the plan (IFOMPT 2020)
        for answer in ALARMING_ANSWERS:  # an "unsure" answer alarms like a "yes": safety first
            suffix = "" if answer == "present" else f":{answer}"
            rules.append(RuleSpec(
                f"screen:{flag.id}{suffix}", SCREEN_SALIENCE, "Evidence",
                (("kind", "red_flag"), ("id", flag.id), ("value", answer)),
                (Emit("Alarm", (("flag", flag.id), ("level", flag.level)), 1.0, f"flag:{flag.id}", False),)))
    return rules


def _stop_rule() -> RuleSpec:
    """The emergency stop: an emergency alarm halts the run."""
    return RuleSpec("stop:emergency", STOP_SALIENCE, "Alarm", (("level", "emergency"),), (), halts=True)


def _pain_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per pain site linked to a condition: a belief in each condition felt there."""
    rules = []
    for site in sorted(kb.pain_sites):
        emits = tuple(_belief(kb, c.id, s.strength, f"site:{c.id}@{site}") for c, s in kb.conditions_at(site))
        if emits:
            rules.append(RuleSpec(f"pain:{site}", 0, "Evidence", (("kind", "pain"), ("id", site)), emits))
    return rules


def _assessment_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per finding or test result that has effects: a belief in each effect's target."""
    rules = []
    for assessment in sorted(kb.assessments.values(), key=lambda a: a.id):
        for result in assessment.results:
            effects = assessment.outcomes.get(result, ())
            if effects:
                emits = tuple(_belief(kb, e.target, e.strength, f"effect:{assessment.id}:{result}") for e in effects)
                rules.append(RuleSpec(
                    f"{assessment.kind}:{assessment.id}:{result}", 0, "Evidence",
                    (("kind", assessment.kind), ("id", assessment.id), ("value", result)), emits))
    return rules


def _history_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per history item answered present: a belief in each of its effects' targets."""
    rules = []
    for item in sorted(kb.history.values(), key=lambda h: h.id):
        emits = tuple(_belief(kb, e.target, e.strength, f"effect:{item.id}:present") for e in item.effects)
        rules.append(RuleSpec(f"history:{item.id}", 0, "Evidence",
                              (("kind", "history"), ("id", item.id), ("value", "present")), emits))
    return rules


def _diagnosis_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per condition: a diagnosis the case already names is believed (``DIAGNOSIS_STRENGTH``)."""
    return [RuleSpec(f"diagnosis:{condition}", 0, "Evidence", (("kind", "diagnosis"), ("id", condition)),
                     (_belief(kb, condition, DIAGNOSIS_STRENGTH, f"diagnosis:{condition}"),))
            for condition in sorted(kb.conditions)]


def _explain_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per dysfunction or condition with causes: a belief in each cause, along the chain links."""
    rules = []
    for node in sorted(set(kb.dysfunctions) | set(kb.conditions)):
        links = sorted(kb.causes_of(node), key=lambda link: link.cause)
        if links:
            rules.append(RuleSpec(
                f"explain:{node}", 0, "Belief", (("node", node),),
                tuple(_belief(kb, link.cause, link.strength, f"link:{link.id}") for link in links)))
    return rules


def _root_muscle_states(kb: KnowledgeBase) -> list[str]:
    """Every muscle state (tight or weak) some root lists, sorted."""
    return sorted({muscle_state_id(m, s) for r in kb.roots.values()
                   for s, ms in (("tight", r.tight), ("weak", r.weak)) for m in ms})


def _member_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per muscle state a root lists: a belief in each root that lists it."""
    rules = []
    for state in _root_muscle_states(kb):
        roots = sorted(kb.roots_with(state), key=lambda r: r.id)
        rules.append(RuleSpec(
            f"member:{state}", 0, "Belief", (("node", state),),
            tuple(_belief(kb, r.id, r.member_strength, f"member:{r.id}") for r in roots)))
    return rules


def _plan_rules(kb: KnowledgeBase) -> list[RuleSpec]:
    """One rule per root with muscles: without an alarm, its plan and a target per muscle to stretch or strengthen."""
    rules = []
    for root in sorted(kb.roots.values(), key=lambda r: r.id):
        emits = (Emit("Plan", (("root", root.id),), 1.0, f"plan:{root.id}", root.sided),) + tuple(
            Emit("Target", (("muscle", m), ("action", action), ("root", root.id)), 1.0, f"plan:{root.id}", root.sided, False)
            for action, muscles in (("stretch", root.tight), ("strengthen", root.weak)) for m in muscles)
        if len(emits) > 1:
            rules.append(RuleSpec(f"plan:{root.id}", 0, "Belief", (("node", root.id),), emits, unless_alarm=True))
    return rules


def compile_rules(kb: KnowledgeBase) -> tuple[RuleSpec, ...]:
    """All rules for ``kb``, in a stable order (sorted by id within each family)."""
    rules: list[RuleSpec] = _screen_rules(kb) + _criterion_rules(kb)
    rules.append(_stop_rule())
    for family in (_pain_rules, _assessment_rules, _history_rules, _diagnosis_rules, _explain_rules,
                   _member_rules, _plan_rules):
        rules += family(kb)
    return tuple(rules)


def declared_only_when_read(rules: tuple[RuleSpec, ...]) -> tuple[RuleSpec, ...]:
    """``rules``, each conclusion none of their patterns can match recorded but not declared.

    Every pattern tests constants, so whether any rule can ever match a conclusion is known from the
    specs. A fact in working memory matters only to the patterns that can match it: one no pattern
    reads (a plan once drawn up, like each muscle of it) is kept as a support and left out of working
    memory, the same supports and the same firings for one fact less to build, declare and route.
    A "no alarm" guard reads every Alarm; a pattern testing a side is taken to read every side.
    (Joins read only Evidence, which no rule declares.) Applied to the rules one network compiles
    (a case's reachable rules read fewer facts than the whole KB's)."""
    read: dict[str, dict[tuple[str, ...], set[tuple]]] = {}
    for spec in rules:
        fields = tuple(f for f, _ in spec.match if f != "side")
        values = tuple(v for f, v in spec.match if f != "side")
        read.setdefault(spec.fact, {}).setdefault(fields, set()).add(values)
        if spec.unless_alarm:
            read.setdefault("Alarm", {}).setdefault((), set()).add(())

    def unread(emit: Emit) -> bool:
        if not emit.declared:
            return False
        values = dict(emit.values)
        for fields, seen in read.get(emit.fact, {}).items():
            if tuple([values.get(f, _UNSET) for f in fields]) in seen:
                return False
        return True

    out = []
    for spec in rules:
        flags = [unread(e) for e in spec.emits]
        if True in flags:
            spec = replace(spec, emits=tuple(replace(e, declared=False) if flag else e
                                             for e, flag in zip(spec.emits, flags)))
        out.append(spec)
    return tuple(out)


_UNSET = object()  # a field a conclusion does not set: it matches no constant


def _matches(match: tuple[tuple[str, object], ...], fact: dict) -> bool:
    return all(fact.get(field) == value for field, value in match)


def _clause_met(clause: Clause, facts: list[dict]) -> bool:
    """Whether some evidence fact can satisfy ``clause`` (the side join aside)."""
    for fact in facts:
        if not _matches(clause.match, fact):
            continue
        value = fact.get("value")
        if clause.at_least >= 0 or clause.below >= 0:
            if isinstance(value, str) and value.isdigit() and (clause.at_least < 0 or int(value) >= clause.at_least) \
                    and (clause.below < 0 or int(value) < clause.below):
                return True
        elif value in clause.values:
            return True
    return False


def reachable(rules: tuple[RuleSpec, ...], joins: tuple[JoinSpec, ...],
              evidence: list[dict]) -> tuple[tuple[RuleSpec, ...], tuple[JoinSpec, ...]]:
    """The rules and joins that can fire on ``evidence``: what the case can reach, in their KB order.

    Working memory only ever holds the evidence and what fired rules declare, and every pattern tests
    constants, so a forward closure over the specs finds every rule that could match: a join whose
    every clause some evidence satisfies, then each rule whose constants some reachable fact holds
    (sides left aside, so it may keep a rule that then does not fire, never drop one that would).
    Excluded clauses and the "no alarm" guard only stop rules, so they do not narrow the closure.
    """
    kept_joins = tuple(j for j in joins if all(_clause_met(c, evidence) for c in j.clauses))
    by_type: dict[str, list[RuleSpec]] = {}
    for spec in rules:
        by_type.setdefault(spec.fact, []).append(spec)
    todo: list[tuple[str, dict]] = [("Evidence", dict(e)) for e in evidence]
    todo += [("Criterion", {"id": j.criterion}) for j in kept_joins]
    seen_facts: set[tuple] = set()
    kept: set[str] = set()
    while todo:
        fact_type, fact = todo.pop()
        identity = (fact_type, tuple(sorted((k, v) for k, v in fact.items() if k != "side")))
        if identity in seen_facts:
            continue
        seen_facts.add(identity)
        for spec in by_type.get(fact_type, ()):
            if spec.id not in kept and _matches(spec.match, fact):
                kept.add(spec.id)
                todo += [(e.fact, dict(e.values)) for e in spec.emits if e.declared]
    return tuple(r for r in rules if r.id in kept), kept_joins
