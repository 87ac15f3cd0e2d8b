"""Run a consultation through experta and record why every fact was declared.

:class:`CompiledKB` turns the rule specs of :mod:`compensa.engine.rules` into an experta
``KnowledgeEngine`` subclass once per KB, and keeps a pool of engine instances (an engine is not
thread-safe; each consultation takes one, resets it to a fresh working memory, and gives it back).

Provenance is captured where the facts are in hand: inside the generated rule bodies, at declare
time. Every attempt to declare is recorded as a :class:`Support` — including the ones experta
silently drops because an equal fact already exists — so a belief reached by three chains keeps
all three justifications.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

from compensa.engine import experta_runtime as rt
from compensa.engine.rules import (Clause, JoinSpec, RuleSpec, compile_joins, compile_rules, declared_only_when_read,
                                   reachable)
from compensa.facts import FACT_TYPES
from compensa.kb.model import KnowledgeBase

__all__ = ["CompiledKB", "Run", "Support"]


class Support(NamedTuple):
    """One justification: ``rule`` matched ``premise`` and declared ``conclusion`` via a KB item.

    An immutable named tuple (a run records a couple of hundred: a frozen dataclass takes about
    three times as long to build)."""

    conclusion: tuple
    premise: tuple
    rule: str
    via: str
    strength: float


#: Builds a Support from its fields without the named tuple's Python-level ``__new__`` (hundreds a run).
_new_tuple = tuple.__new__


@dataclass(frozen=True, slots=True)
class Run:
    """What one consultation produced: the supports in firing order, rules fired, and whether it halted."""

    supports: tuple[Support, ...]
    fired: tuple[str, ...]
    halted: bool


def _in_range(value: object, at_least: int, below: int) -> bool:
    """Whether an evidence value (a number written as text, e.g. an age) lies in ``[at_least, below)``."""
    if not isinstance(value, str) or not value.isdigit():
        return False
    number = int(value)
    return (at_least < 0 or number >= at_least) and (below < 0 or number < below)


@functools.cache
def _range_test(at_least: int, below: int):
    """One predicate per age range, so experta (and the alpha index) test each range once per fact."""
    return rt.P(lambda value: _in_range(value, at_least, below))


def _method_name(index: int, rule_id: str) -> str:
    return f"r{index:04d}_" + re.sub(r"[^0-9a-zA-Z_]", "_", rule_id)


class _EmitsBySide(dict):
    """What a rule declares, worked out once per side of the fact it matched.

    ``emits_on[side]`` lists, per emitted conclusion, ``(fact maker or None, key, via, strength)``: a
    sided conclusion takes the side of the fact that fired the rule, an unsided one ``""``; the maker
    (a function building the fact) is None when the conclusion is recorded but not declared (a plan)."""

    def __init__(self, spec: RuleSpec, classes: dict[str, type]):
        super().__init__()
        self.spec, self.classes = spec, classes

    def __missing__(self, side: str) -> tuple:
        out = []
        for emit in self.spec.emits:
            ftype = FACT_TYPES[emit.fact]
            values = dict(emit.values)
            if "side" in ftype.fields:
                values["side"] = side if emit.sided else ""
            cls: Any = self.classes.get(emit.fact) if emit.declared else None  # a fact class of experta_runtime
            out.append((cls.maker(values) if cls is not None else None, ftype.key(values), emit.via, emit.strength))
        found = tuple(out)
        if side in ("", "left", "right"):  # the sides a parsed case has: kept (anything else is not)
            self[side] = found
        return found


class CompiledKB:
    """A knowledge base compiled into an experta engine class, with a pool of instances."""

    def __init__(self, kb: KnowledgeBase, matcher: type | None = None, max_engines: int = 8,
                 evidence: list[dict] | None = None):
        """Compile ``kb``; at most ``max_engines`` engines exist at once (more callers wait their turn).

        ``matcher`` overrides the Rete matcher class (tests compare against experta's own).
        ``evidence``: compile only the rules these evidence facts can reach
        (:func:`~compensa.engine.rules.reachable`), for a process that runs one consultation; the
        run is the same as on the whole KB's rules, at a fraction of the network's build time.
        """
        self.kb = kb
        self.max_engines = max(1, max_engines)
        self._created = 0
        self._create_lock = threading.Lock()
        self.rules: tuple[RuleSpec, ...] = compile_rules(kb)
        self.joins: tuple[JoinSpec, ...] = compile_joins(kb)
        if evidence is not None:
            self.rules, self.joins = reachable(self.rules, self.joins, evidence)
        self.rules = declared_only_when_read(self.rules)  # a plan, read by no rule, stays out of working memory
        self.classes = rt.fact_classes(t for t in FACT_TYPES.values() if t.name != "Target")
        body = {_method_name(i, spec.id): self._make_rule(spec) for i, spec in enumerate(self.rules)}
        offset = len(self.rules)
        body.update({_method_name(offset + i, spec.id): self._make_join(spec) for i, spec in enumerate(self.joins)})
        body["__matcher__"] = matcher or rt.DispatchReteMatcher
        if matcher is None:  # with experta's own matcher (a comparison), experta's own strategy too
            body["__strategy__"] = rt.DepthAgenda
        self.engine_class = type("CompiledCompensaKB", (rt.CompiledEngine,), body)
        self._pool: queue.SimpleQueue = queue.SimpleQueue()
        self._pool.put(self._new_engine())
        self._created = 1

    def _new_engine(self):
        engine = self.engine_class()
        engine.supports = []
        engine.fired = []
        engine.declared = set()
        engine.halted = False
        return engine

    def _make_rule(self, spec: RuleSpec):
        classes = self.classes
        fact_types = FACT_TYPES
        pattern = rt.AS.fact << classes[spec.fact](**dict(spec.match))
        lhs = [pattern]
        if spec.unless_alarm:
            lhs.append(rt.NOT(classes["Alarm"]()))
        premise_type = fact_types[spec.fact]
        emits_on = _EmitsBySide(spec, classes)
        rule_id, halts = spec.id, spec.halts

        def fire(engine, fact):
            premise = premise_type.key(fact)
            engine.fired.append(rule_id)
            declared, supports = engine.declared, engine.supports
            for make, key, via, strength in emits_on[fact.get("side", "")]:
                supports.append(_new_tuple(Support, (key, premise, rule_id, via, strength)))
                # experta would drop an equal fact anyway; skipping it saves building one
                if make is not None and key not in declared:
                    declared.add(key)
                    engine.declare(make())
            if halts:
                engine.halted = True
                engine.halt()

        fire.__name__ = spec.id
        return rt.Rule(*lhs, salience=spec.salience)(fire)

    def _pattern(self, clause: Clause, bind: str | None):
        """The experta pattern of one clause (bound to the fact variable ``bind`` when given)."""
        fields: dict[str, object] = dict(clause.match)
        if clause.at_least >= 0 or clause.below >= 0:
            fields["value"] = _range_test(clause.at_least, clause.below)
        elif len(clause.values) == 1:
            fields["value"] = clause.values[0]
        else:
            constraint = rt.L(clause.values[0])
            for value in clause.values[1:]:
                constraint = constraint | rt.L(value)
            fields["value"] = constraint
        if clause.bind_side:
            fields["side"] = rt.MATCH.side
        pattern = self.classes["Evidence"](**fields)
        return getattr(rt.AS, bind) << pattern if bind else pattern

    def _make_join(self, spec: JoinSpec):
        """A rule joining one Evidence fact per clause; it declares the criterion, justified by each."""
        names = [f"f{i}" for i in range(len(spec.clauses))]
        lhs = [self._pattern(c, n) for c, n in zip(spec.clauses, names)]
        lhs += [rt.NOT(self._pattern(c, None)) for c in spec.excluded]
        criterion_cls = self.classes["Criterion"]
        evidence_type, criterion_type = FACT_TYPES["Evidence"], FACT_TYPES["Criterion"]
        via = f"criterion:{spec.criterion}"

        def fire(engine, **bound):
            engine.fired.append(spec.id)
            values = {"id": spec.criterion, "side": bound.get("side", "") if spec.sided else ""}
            key = criterion_type.key(values)
            for name in names:
                engine.supports.append(_new_tuple(Support, (key, evidence_type.key(bound[name]), spec.id, via, 1.0)))
            if key not in engine.declared:
                engine.declared.add(key)
                engine.declare(criterion_cls(**values))

        fire.__name__ = spec.id
        return rt.Rule(*lhs, salience=spec.salience)(fire)

    def _borrow(self):
        """An idle engine; builds a new one while fewer than ``max_engines`` exist, else waits for one."""
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._create_lock:
            if self._created < self.max_engines:
                self._created += 1
                build = True
            else:
                build = False
        if not build:
            return self._pool.get()
        try:
            return self._new_engine()
        except BaseException:
            with self._create_lock:
                self._created -= 1  # give the slot back, or callers could wait forever
            raise

    def run(self, evidence: list[dict]) -> Run:
        """Run one consultation on evidence dicts (``kind``, ``id``, ``side``, ``value``)."""
        engine = self._borrow()
        try:
            engine.reset()
            engine.supports = []
            engine.fired = []
            engine.declared = set()
            engine.halted = False
            evidence_cls = self.classes["Evidence"]
            evidence_type = FACT_TYPES["Evidence"]
            for item in evidence:
                engine.declared.add(evidence_type.key(item))
            if evidence:  # in one call: the agenda is updated once, not after every fact
                engine.declare(*(evidence_cls(**item) for item in evidence))
            engine.run()
            return Run(tuple(engine.supports), tuple(engine.fired), engine.halted)
        finally:
            engine.supports, engine.fired, engine.declared = [], [], set()
            self._pool.put(engine)
