"""What the run's supports mean: certainty of every belief, and the paths that justify it.

:class:`Reasoning` is built after the rules have run, from the recorded
:class:`~compensa.engine.inference.Support` list. It is pure and deterministic: supports are put in
a canonical order first, certainty factors are computed over the support DAG (premises before
conclusions), and every derived fact keeps its contributions — the rule, the KB item, the premise
and how much it added — so explanations never read logs.
"""

from __future__ import annotations

from typing import NamedTuple
from functools import cached_property

from compensa.engine.certainty import THRESHOLD, Combination, combination, combine, contribution
from compensa.engine.inference import Run, Support
from compensa.kb.model import KnowledgeBase

__all__ = ["UNOBSERVED_CEILING", "VISUAL_ONLY_CEILING", "Contribution", "Reasoning", "belief_key", "evidence_key"]

#: Premise kinds read as given (certain) rather than derived: case evidence, and a met criterion
#: (whose members are all case evidence), so they propagate without EMYCIN's 0.2 threshold.
_GIVEN = ("Evidence", "Criterion")

#: Conclusions whose certainty is computed when asked for (the graph's plan nodes), not with the rest.
_ON_DEMAND = ("Plan", "Target")

#: A root no test of its signs supports is held below a confirmed level ...
VISUAL_ONLY_CEILING = 0.6
#: ... and one no finding or test of its signs supports (pain, conditions, history only) stays possible.
UNOBSERVED_CEILING = 0.3
_UNOBSERVED = "nothing seen or tested shows its signs (where it hurts does not name the root)"


#: What a piece of evidence adds through a support of each strength (a KB has a few dozen strengths).
_EVIDENCE_VALUE: dict[float, float] = {}

#: Builds a named tuple from its fields without its Python-level ``__new__`` (one per support).
_new_tuple = tuple.__new__


def belief_key(node: str, side: str = "") -> tuple:
    """The working-memory key of a belief."""
    return ("Belief", node, side)


def evidence_key(kind: str, id_: str, side: str, value: str) -> tuple:
    """The working-memory key of an evidence fact."""
    return ("Evidence", kind, id_, side, value)


class Contribution(NamedTuple):
    """One support of a belief, evaluated: premise certainty and what it added (0 if it did not propagate).

    An immutable named tuple, like :class:`~compensa.engine.inference.Support` (one per support)."""

    support: Support
    premise_cf: float
    value: float


class Reasoning:
    """Certainty factors and justification paths for one consultation run."""

    def __init__(self, kb: KnowledgeBase, run: Run):
        self.kb = kb
        self.run = run
        # the canonical order is by conclusion, then premise, rule and via: the supports are grouped by
        # conclusion, the conclusions sorted, then each group (plain tuple order: a Support's fields
        # are in that order, then its strength, the same wherever the first four are); a support
        # repeating a group's premise and KB item is read once
        groups: dict[tuple, list[Support]] = {}
        for s in run.supports:
            group = groups.get(s[0])
            if group is None:
                groups[s[0]] = [s]
            else:
                group.append(s)
        ordered: list[Support] = []
        by_conclusion: dict[tuple, list[Support]] = {}
        for conclusion in sorted(groups):
            group = groups[conclusion]
            if len(group) > 1:
                group.sort()
                seen: set[tuple] = set()
                kept = []
                for s in group:
                    once = (s[1], s[3])
                    if once not in seen:
                        seen.add(once)
                        kept.append(s)
                group = kept
            by_conclusion[conclusion] = group
            ordered += group
        self.supports: tuple[Support, ...] = tuple(ordered)
        self.by_conclusion = by_conclusion
        self._cf: dict[tuple, float] = {}
        self._visiting: set[tuple] = set()  # beliefs being computed (a cycle guard)
        self._contributions: dict[tuple, tuple[Contribution, ...]] = {}
        # what read-outs remember per key (plans, ceilings and the report ask about the same beliefs)
        self._merged: dict[tuple, tuple[tuple, ...]] = {}
        self._reported: dict[tuple, float] = {}
        self._observed: dict[tuple, frozenset[str]] = {}
        self._beliefs: dict[str, list[tuple[tuple, float]]] = {}
        self._reported_influence: dict[tuple, dict[tuple, float]] = {}
        self._influence: dict[tuple, dict[tuple, float]] = {}
        computed = self._cf
        for key in self.by_conclusion:  # plans and their muscles only on demand: no read-out ranks them
            if key not in computed and key[0] not in _ON_DEMAND:
                self.cf(key)

    # -- certainty --------------------------------------------------------------------------
    def kind(self, key: tuple) -> str | None:
        """The kind of a fact: a belief's node kind, else the fact type in lower case."""
        if key[0] == "Belief":
            return self.kb.node_kind(key[1])
        return key[0].lower()

    def cf(self, key: tuple) -> float:
        """Certainty of a fact: 1 for evidence, combined contributions for a belief."""
        if key[0] == "Evidence":
            return 1.0
        memo = self._cf
        found = memo.get(key)
        if found is not None:
            return found
        if key in self._visiting:  # a cycle cannot come from a linted KB; count it as no support
            return 0.0
        self._visiting.add(key)
        try:
            parts = []
            values = []
            for s in self.by_conclusion.get(key, ()):
                premise, strength = s[1], s[4]
                head = premise[0]
                if head == "Evidence":  # given: certain, and always passed on
                    premise_cf = 1.0
                    value = _EVIDENCE_VALUE.get(strength)
                    if value is None:
                        value = _EVIDENCE_VALUE[strength] = contribution(1.0, strength, "evidence", True)
                else:
                    known = memo.get(premise)
                    premise_cf = self.cf(premise) if known is None else known
                    given = head in _GIVEN
                    # the kind decides only whether a disbelief passes on (certainty.propagates)
                    kind = None if given or premise_cf >= THRESHOLD else self.kind(premise)
                    value = contribution(premise_cf, strength, kind, given)
                parts.append(_new_tuple(Contribution, (s, premise_cf, value)))
                values.append(value)
        finally:
            self._visiting.discard(key)
        if key[0] == "Criterion":  # a conjunction of its members' evidence: EMYCIN's AND is the minimum
            result = round(min(values, default=0.0), 6)
        else:
            result = round(combine(values), 6)
        memo[key] = result
        self._contributions[key] = tuple(parts)
        return result

    def contributions(self, key: tuple) -> tuple[Contribution, ...]:
        """The evaluated supports of a belief (empty for evidence)."""
        found = self._contributions.get(key)
        if found is None:
            self.cf(key)
            found = self._contributions.get(key, ())
        return found

    @cached_property
    def criteria(self) -> tuple[tuple, ...]:
        """The criteria met in this run (``("Criterion", id, side)`` keys), in canonical order."""
        return tuple(sorted(k for k in self.by_conclusion if k[0] == "Criterion"))

    @cached_property
    def alarms(self) -> tuple[tuple, ...]:
        """Alarms raised in the run (``("Alarm", flag, level)``): red flags and red-flag clusters."""
        return tuple(sorted(k for k in self.by_conclusion if k[0] == "Alarm"))

    @cached_property
    def instances(self) -> dict[str, tuple[tuple, ...]]:
        """Every belief key of each node (one per side the evidence came from), in canonical order."""
        out: dict[str, list[tuple]] = {}
        for key in sorted(k for k in self._cf if k[0] == "Belief"):
            out.setdefault(key[1], []).append(key)
        return {node: tuple(keys) for node, keys in out.items()}

    def reported_key(self, key: tuple) -> tuple:
        """The key a belief is reported under: one side-less key for a node that has no side."""
        if key[0] == "Belief" and key[2] and not self.kb.is_sided(key[1]):
            return (key[0], key[1], "")
        return key

    def merged_keys(self, key: tuple) -> tuple[tuple, ...]:
        """The belief instances read together as ``key``.

        Every belief keeps the side of the evidence behind it, even about a node that has no side,
        so one node may be believed several times (left, right, side unknown). A node without a side
        is read as all its instances together. A sided node on a side also takes the side-unknown
        instance (evidence given without a side applies to either side). Each instance carries
        different evidence, so merging at read-out counts nothing twice.
        """
        found = self._merged.get(key)
        if found is None:
            found = self._merged[key] = self._merged_keys(key)
        return found

    def _merged_keys(self, key: tuple) -> tuple[tuple, ...]:
        if key[0] != "Belief":
            return (key,)
        if not self.kb.is_sided(key[1]):
            return self.instances.get(key[1], (key,))
        if key[2]:
            unsided = (key[0], key[1], "")
            if unsided in self.by_conclusion:
                return (key, unsided)
        return (key,)

    def reported_cf(self, key: tuple) -> float:
        """Certainty of a belief as reported (merged over its instances, see :meth:`merged_keys`), a
        root's held under the ceiling its evidence allows (:meth:`ceiling`)."""
        found = self._reported.get(key)
        if found is None:
            found = self._reported[key] = self._reported_cf(key)
        return found

    def _reported_cf(self, key: tuple) -> float:
        keys = self.merged_keys(key)
        cf = self.cf(keys[0]) if len(keys) == 1 else round(combine(self._across_sides(keys)), 6)  # = combination(key).cf
        ceiling = self.ceiling(key)
        return min(cf, ceiling[0]) if ceiling else cf

    def ceiling(self, key: tuple) -> tuple[float, str] | None:
        """The most a root may be believed on this evidence, and why; ``None`` when a test confirms it.

        Where it hurts, and which condition hurts, do not show which muscles are out of balance: only
        findings and tests of the pattern's own signs do (the seeds; domain.md 6.1). So a root whose
        signs (its muscle states, its postures, itself) no test supports stays below "confirmed"
        (visual only), and one whose signs nothing observed supports stays "possible".
        """
        if key[0] != "Belief" or self.kb.node_kind(key[1]) != "root":
            return None
        kinds = self.observed_kinds(key)
        if self.kb.roots[key[1]].kind != "muscular":  # a stiff capsule, a shorter bone: shown by its condition
            return None if kinds - {"pain", "history"} else (UNOBSERVED_CEILING, _UNOBSERVED)
        if "test" in kinds:
            return None
        if "finding" in kinds:
            return VISUAL_ONLY_CEILING, "no test confirms it yet (the physical should confirm the visual)"
        return UNOBSERVED_CEILING, _UNOBSERVED

    def observed_kinds(self, key: tuple) -> frozenset[str]:
        """Kinds of evidence that show a belief's own signs: for a muscular root, evidence reaching it
        other than through a condition (a positive SIJ test shows the joint, not which muscles); for
        anything else, all its supporting evidence. (Remembered per belief: plans and ceilings ask often.)"""
        cache = self._observed
        found = cache.get(key)
        if found is None:
            muscular = key[0] == "Belief" and key[1] in self.kb.roots and self.kb.roots[key[1]].kind == "muscular"
            found = cache[key] = frozenset(self.sign_evidence_kinds(key, through_conditions=not muscular))
        return found

    def sign_evidence_kinds(self, key: tuple, through_conditions: bool = False) -> set[str]:
        """Kinds of case evidence that support a belief (positive steps only), other than through a
        condition unless ``through_conditions``."""
        found: set[str] = set()
        seen: set[tuple] = set()
        todo = list(self.merged_keys(key))
        while todo:
            k = todo.pop()
            if k in seen:
                continue
            seen.add(k)
            for part in self.contributions(k):
                premise = part.support.premise
                if part.value <= 0:
                    continue
                if premise[0] == "Evidence":
                    found.add(premise[1])
                elif through_conditions or premise[0] == "Criterion" or self.kb.node_kind(premise[1]) != "condition":
                    todo.append(premise)
        return found

    def combination(self, key: tuple) -> Combination:
        """The certainty-factor combination behind :meth:`reported_cf` (MB, MD and what went in).

        Its ``cf``, rounded to 6 places, is the reported certainty: explanations show this
        arithmetic, not a recomputation of it.
        """
        keys = self.merged_keys(key)
        if len(keys) == 1:
            return combination(p.value for p in self.contributions(keys[0]))
        return combination(self._across_sides(keys))

    def _across_sides(self, keys: tuple[tuple, ...]) -> list[float]:
        """The contributions to a belief read over several sides, each piece of evidence once.

        The same step from the same node on the left and on the right (weak gluteus medius, both
        sides, supporting lower crossed syndrome) is one observation of the pattern, not two
        independent ones: it counts once, at its strongest support and its strongest refutation.
        """
        strongest: dict[tuple, list[float]] = {}
        for k in keys:
            for support, _, value in self.contributions(k):
                premise, via = support[1], support[3]
                group = (premise[0], premise[1], via) if premise[0] == "Belief" else (premise, via)
                best = strongest.get(group)
                if best is None:  # [max(0, value), min(0, value)], as max and min would keep them
                    strongest[group] = [value if value > 0.0 else 0.0, value if value < 0.0 else 0.0]
                else:
                    if value > best[0]:
                        best[0] = value
                    if value < best[1]:
                        best[1] = value
        return [v for pair in strongest.values() for v in pair if v]

    def shown(self, key: tuple) -> bool:
        """Whether this key is reported on its own (not merged into another)."""
        if key[0] != "Belief":
            return True
        if not self.kb.is_sided(key[1]):
            return key[2] == ""
        if key[2]:
            return True
        return not any((key[0], key[1], side) in self.by_conclusion for side in ("left", "right"))

    def beliefs(self, kind: str) -> list[tuple[tuple, float]]:
        """Reported beliefs about nodes of ``kind``, strongest first, ties by id then side."""
        cache = self._beliefs
        if kind not in cache:
            keys = self._reported_keys_by_kind.get(kind, ())
            out = [(k, self.reported_cf(k)) for k in keys if self.shown(k)]
            cache[kind] = sorted(out, key=lambda kv: (-kv[1], kv[0][1], kv[0][2]))
        return list(cache[kind])

    @cached_property
    def _reported_keys_by_kind(self) -> dict[str | None, set[tuple]]:
        """Every belief's reported key, grouped by its node's kind (one pass over the beliefs)."""
        by_kind: dict[str | None, set[tuple]] = {}
        for k in self._cf:
            if k[0] == "Belief":
                by_kind.setdefault(self.kb.node_kind(k[1]), set()).add(self.reported_key(k))
        return by_kind

    def reported_influence(self, key: tuple) -> dict[tuple, float]:
        """Evidence influence on a belief as reported (merged like :meth:`reported_cf`); a fresh dict
        each time (the merge is remembered)."""
        cache = self._reported_influence
        out = cache.get(key)
        if out is None:
            out = cache[key] = {}
            for k in self.merged_keys(key):
                for ev, weight in self.influence(k).items():
                    if abs(weight) > abs(out.get(ev, 0.0)):
                        out[ev] = weight
        return dict(out)

    # -- justification ---------------------------------------------------------------------
    def influence(self, key: tuple) -> dict[tuple, float]:
        """Each evidence fact's signed influence on ``key`` along its strongest live path (empty when
        ``key`` was never concluded). Computed on demand, so beliefs nobody reports cost nothing."""
        if key not in self.by_conclusion:
            return {}
        return self._walk_influence(key, set(), self._influence)

    def _walk_influence(self, key: tuple, visiting: set, memo: dict) -> dict[tuple, float]:
        """``visiting``: the keys on the path walked down to ``key`` (added going down, removed coming up)."""
        if key in memo:
            return memo[key]
        out: dict[tuple, float] = {}
        if key[0] == "Evidence":
            out[key] = 1.0
        elif key not in visiting:
            visiting.add(key)
            try:
                for part in self.contributions(key):
                    if part.value == 0.0:
                        continue
                    strength = part.support.strength
                    for ev, weight in self._walk_influence(part.support.premise, visiting, memo).items():
                        candidate = weight * strength
                        if abs(candidate) > abs(out.get(ev, 0.0)):
                            out[ev] = candidate
            finally:
                visiting.discard(key)
        memo[key] = out
        return out

    def best_path(self, key: tuple, accept=lambda premise: True) -> list[tuple]:
        """The strongest chain of live supports from an accepted evidence fact up to ``key``.

        Returns the keys from the evidence to ``key`` (inclusive), or ``[]`` when no accepted
        evidence reaches it.
        """
        memo: dict[tuple, tuple[float, list[tuple]]] = {}

        def walk(k: tuple, visiting: frozenset) -> tuple[float, list[tuple]]:
            if k in memo:
                return memo[k]
            if k[0] == "Evidence":
                result = (1.0, [k]) if accept(k) else (0.0, [])
            elif k in visiting:
                result = (0.0, [])
            else:
                result = (0.0, [])
                for part in self.contributions(k):
                    if part.value <= 0.0:
                        continue
                    score, path = walk(part.support.premise, visiting | {k})
                    score *= part.support.strength
                    if path and (score > result[0] + 1e-12 or (abs(score - result[0]) <= 1e-12 and result[1] and path < result[1][:-1])):
                        result = (score, path + [k])
            memo[k] = result
            return result

        best: tuple[float, list[tuple]] = (0.0, [])
        for k in self.merged_keys(key):
            score, path = walk(k, frozenset())
            if path and score > best[0]:
                best = (score, path[:-1] + [key])
        return best[1]
