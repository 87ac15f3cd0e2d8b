"""Working-memory fact types: what the inference engine declares and matches.

These are plain declarations (name, fields, meaning); the engine turns each into an experta
``Fact`` class, so experta stays imported in one place.
"""

from compensa.facts.types import ALARM, BELIEF, CRITERION, EVIDENCE, FACT_TYPES, PLAN, TARGET, FactType

__all__ = ["ALARM", "BELIEF", "CRITERION", "EVIDENCE", "FACT_TYPES", "PLAN", "TARGET", "FactType"]
