"""The pure-Python lower bound: the compiled rule specs run as a forward-chaining closure, no engine.

Same specs (:func:`compensa.engine.rules.compile_rules` / :func:`compile_joins`), same semantics as
the experta run, in the plainest code that can do it: facts are key tuples
(``FactType.key`` order), rules are found by dict lookups on their constant fields, and activations
wait on a heap ordered by salience. What it keeps of the engine's semantics:

* a rule fires once per distinct matching fact (a fact equal to one already held is not added);
* every firing records one support per emit, including emits whose fact already exists;
* ``unless_alarm`` (the NOT Alarm guard) is tested when the activation would fire, which is when
  experta's agenda would have dropped it;
* higher salience fires first; a ``halts`` rule stops the run after it fires;
* joins (criteria) only ever match case evidence, which is complete before the run starts, so
  each join's matches are found once, up front, by indexing the evidence on ``(kind, id)``.

Firing order within one salience level is arbitrary here, as in experta; the support *set* does
not depend on it (see :mod:`bench.anchors`).
"""

from __future__ import annotations

import heapq
from itertools import count, product

from compensa.engine.rules import Clause, JoinSpec, RuleSpec
from compensa.facts import FACT_TYPES

__all__ = ["Floor", "in_range"]

_EVIDENCE = FACT_TYPES["Evidence"]
_FIELD_INDEX = {name: {f: i + 1 for i, f in enumerate(t.fields)} for name, t in FACT_TYPES.items()}


def in_range(value: object, at_least: int, below: int) -> bool:
    """Whether a numeric evidence value (digits as text, e.g. an age) lies in ``[at_least, below)``."""
    if not isinstance(value, str) or not value.isdigit():
        return False
    number = int(value)
    return (at_least < 0 or number >= at_least) and (below < 0 or number < below)


def _side_of(key: tuple) -> str:
    position = _FIELD_INDEX[key[0]].get("side")
    return key[position] if position is not None else ""


class _Emit:
    """One emit, precomputed: its conclusion key with a hole for the side."""

    __slots__ = ("parts", "side_at", "declared", "via", "strength")

    def __init__(self, emit):
        fields = FACT_TYPES[emit.fact].fields
        values = dict(emit.values)
        self.parts = (emit.fact, *(values.get(f, "") for f in fields))  # an unsided emit leaves the side ""
        self.side_at = fields.index("side") + 1 if "side" in fields and emit.sided else None
        self.declared, self.via, self.strength = emit.declared, emit.via, emit.strength

    def key(self, side: str) -> tuple:
        at = self.side_at
        return self.parts if at is None else (*self.parts[:at], side, *self.parts[at + 1:])


class _Rule:
    __slots__ = ("spec", "emits")

    def __init__(self, spec: RuleSpec):
        self.spec = spec
        self.emits = tuple(_Emit(e) for e in spec.emits)


def _satisfies(clause: Clause, fact: tuple) -> bool:
    value = fact[4]
    if clause.at_least >= 0 or clause.below >= 0:
        return in_range(value, clause.at_least, clause.below)
    return value in clause.values


class _Join:
    """One join, precomputed: where each clause's candidates are found."""

    __slots__ = ("spec", "clauses", "excluded", "conclusion")

    def __init__(self, spec: JoinSpec):
        self.spec = spec
        self.clauses = tuple((dict(c.match)["kind"], dict(c.match)["id"], c) for c in spec.clauses)
        self.excluded = tuple((dict(c.match)["kind"], dict(c.match)["id"], c) for c in spec.excluded)
        self.conclusion = ("Criterion", spec.criterion)

    def matches(self, by_term: dict) -> list[tuple[tuple, ...]]:
        """Every combination of evidence facts (one per clause) that meets the join."""
        for kind, id_, clause in self.excluded:
            if any(_satisfies(clause, f) for f in by_term.get((kind, id_), ())):
                return []
        pools = []
        for kind, id_, clause in self.clauses:
            pool = [f for f in by_term.get((kind, id_), ()) if _satisfies(clause, f)]
            if not pool:
                return []
            pools.append(pool)
        bound = [c.bind_side for _, _, c in self.clauses]
        return [combo for combo in product(*pools)
                if len({f[3] for f, b in zip(combo, bound) if b}) <= 1]

    def side(self, combo: tuple) -> str:
        if not self.spec.sided:
            return ""
        sides = [f[3] for f, (_, _, c) in zip(combo, self.clauses) if c.bind_side]
        return sides[0] if sides else ""


class Floor:
    """The compiled specs as dict indexes; :meth:`run` computes the closure of one case's evidence."""

    def __init__(self, rules: tuple[RuleSpec, ...], joins: tuple[JoinSpec, ...]):
        """Index ``rules`` by fact type and constant fields, and ``joins`` by the terms they need."""
        self.index: dict[str, dict[tuple, dict[tuple, list[_Rule]]]] = {}
        for spec in rules:
            fields = tuple(f for f, _ in spec.match)
            by_fields = self.index.setdefault(spec.fact, {}).setdefault(fields, {})
            by_fields.setdefault(tuple(v for _, v in spec.match), []).append(_Rule(spec))
        self.positions = {name: {fields: tuple(_FIELD_INDEX[name][f] for f in fields) for fields in groups}
                          for name, groups in self.index.items()}
        self.joins_by_term: dict[tuple, list[_Join]] = {}
        for spec in joins:
            join = _Join(spec)
            self.joins_by_term.setdefault(join.clauses[0][:2], []).append(join)

    def _rules_for(self, fact: tuple):
        groups = self.index.get(fact[0])
        if not groups:
            return
        positions = self.positions[fact[0]]
        for fields, table in groups.items():
            yield from table.get(tuple(fact[i] for i in positions[fields]), ())

    def run(self, evidence: list[dict]) -> tuple[set[tuple], bool]:
        """The supports ``(conclusion, premise, rule, via, strength)`` of one case, and whether it halted."""
        state = _State()
        facts = [_EVIDENCE.key(item) for item in evidence]
        by_term: dict[tuple, list[tuple]] = {}
        for fact in facts:
            if fact not in state.held:
                state.held.add(fact)
                by_term.setdefault((fact[1], fact[2]), []).append(fact)
                self._activate(state, fact)
        for term in by_term:
            for join in self.joins_by_term.get(term, ()):
                for combo in join.matches(by_term):
                    state.push(join.spec.salience, (join, combo))
        return self._drain(state), state.halted

    def _activate(self, state: _State, fact: tuple) -> None:
        for rule in self._rules_for(fact):
            state.push(rule.spec.salience, (rule, fact))

    def _drain(self, state: _State) -> set[tuple]:
        while state.agenda and not state.halted:
            _, _, (what, premise) = heapq.heappop(state.agenda)
            if isinstance(what, _Join):
                self._fire_join(state, what, premise)
            else:
                self._fire(state, what, premise)
        return state.supports

    def _declare(self, state: _State, key: tuple) -> None:
        if key not in state.held:
            state.held.add(key)
            if key[0] == "Alarm":
                state.alarms += 1
            self._activate(state, key)

    def _fire(self, state: _State, rule: _Rule, premise: tuple) -> None:
        spec = rule.spec
        if spec.unless_alarm and state.alarms:
            return  # experta's agenda drops the activation once an Alarm exists
        side = _side_of(premise)
        for emit in rule.emits:
            key = emit.key(side)
            state.supports.add((key, premise, spec.id, emit.via, emit.strength))
            if emit.declared:
                self._declare(state, key)
        if spec.halts:
            state.halted = True

    def _fire_join(self, state: _State, join: _Join, combo: tuple) -> None:
        key = (*join.conclusion, join.side(combo))
        via = f"criterion:{join.spec.criterion}"
        for fact in combo:
            state.supports.add((key, fact, join.spec.id, via, 1.0))
        self._declare(state, key)


class _State:
    """One run's working memory: held facts, the agenda, the supports."""

    __slots__ = ("held", "agenda", "supports", "alarms", "halted", "order")

    def __init__(self):
        self.held: set[tuple] = set()
        self.agenda: list = []
        self.supports: set[tuple] = set()
        self.alarms = 0
        self.halted = False
        self.order = count()

    def push(self, salience: int, item: tuple) -> None:
        heapq.heappush(self.agenda, (-salience, next(self.order), item))
