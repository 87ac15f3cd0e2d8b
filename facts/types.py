"""The fact types of a consultation's working memory.

* ``Evidence`` — one piece of case input: ``kind`` (pain, finding, test, history, diagnosis,
  red_flag), ``id``, ``side`` (``left``, ``right`` or ``""``) and ``value`` (present, absent,
  positive, negative). "Absent" and "negative" are real facts; an unasked question is no fact.
* ``Belief`` — a hypothesis reached from evidence: a chain node (condition, dysfunction, root, or a
  muscle state such as ``tight:iliopsoas``) on a side. Rules only add beliefs; how strongly each is
  held is computed after the run from the recorded supports.
* ``Criterion`` — a KB criterion (a cluster such as Laslett's 3 of 5 SIJ tests) was met on a side:
  its members' evidence, joined in one rule, justify it; it then supports beliefs like a test.
* ``Alarm`` — a red flag that is present, with its triage level.
* ``Plan`` — the exercise plan of a root imbalance on a side was drawn up (no red flag stopped it).
  Its muscles (what to stretch, what to strengthen) are recorded as ``Target`` conclusions in the
  provenance, one per muscle. Plans and targets are recorded rather than declared: no rule matches
  them, and a fact nobody reads would only cost time (the compiler declares a conclusion only when
  some rule's pattern can match it).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALARM", "BELIEF", "CRITERION", "EVIDENCE", "FACT_TYPES", "PLAN", "TARGET", "FactType"]


@dataclass(frozen=True, slots=True)
class FactType:
    """A working-memory fact type: its name and its fields, in key order."""

    name: str
    fields: tuple[str, ...]
    meaning: str

    def key(self, values: dict) -> tuple:
        """A hashable identity of one fact of this type: ``(name, field values...)``."""
        return (self.name, *map(values.__getitem__, self.fields))


EVIDENCE = FactType("Evidence", ("kind", "id", "side", "value"), "one piece of case input")
BELIEF = FactType("Belief", ("node", "side"), "a hypothesis reached from evidence")
CRITERION = FactType("Criterion", ("id", "side"), "a KB criterion (all-of / k-of-n / none-of) was met")
ALARM = FactType("Alarm", ("flag", "level"), "a red flag that is present")
PLAN = FactType("Plan", ("root", "side"), "the exercise plan of a root imbalance was drawn up")
#: A recorded conclusion (not declared into working memory): one muscle of a plan.
TARGET = FactType("Target", ("muscle", "action", "side", "root"), "a muscle to stretch or strengthen")

#: Every fact type, by name.
FACT_TYPES = {t.name: t for t in (EVIDENCE, BELIEF, CRITERION, ALARM, PLAN, TARGET)}
