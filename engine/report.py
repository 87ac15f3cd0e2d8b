"""The consultation report: the JSON contract of DESIGN.md, plus what explanations need.

:class:`Report` keeps the case and the :class:`~compensa.engine.reasoning.Reasoning` of the run
(so ``compensa explain`` and the graphs can walk the justifications), and ``to_dict()`` gives the
contract JSON: ``kb_version``, ``disclaimer``, ``triage``, ``root_causes``, ``dysfunctions``,
``conditions``, ``targets``, ``next_assessments``, ``warnings`` — and a few more fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from compensa.engine.case import Case
from compensa.engine.reasoning import Reasoning
from compensa.kb.model import KnowledgeBase

__all__ = ["DISCLAIMER", "Report"]

DISCLAIMER = (
    "compensa is decision support and teaching material, not a diagnosis. It suggests likely muscle-imbalance "
    "patterns from the information given; a qualified clinician must examine the person and make the decisions. "
    "Seek medical care for severe, worsening or unusual symptoms."
)


@dataclass(frozen=True)
class Report:
    """The result of one consultation (use :meth:`to_dict` for the JSON contract)."""

    kb: KnowledgeBase = field(repr=False)
    case: Case
    reasoning: Reasoning = field(repr=False)
    triage: dict
    root_causes: list[dict]
    dysfunctions: list[dict]
    conditions: list[dict]
    targets: list[dict]
    next_assessments: list[dict]
    #: Every caveat (``{code, message, where}``): see :mod:`compensa.engine.caveats`.
    warnings: list[dict] = field(default_factory=list)

    @property
    def plan_withheld(self) -> bool:
        """True when a red flag stops the exercise plan."""
        return bool(self.triage["red_flags"])

    def to_dict(self) -> dict:
        """The report as JSON-ready data (the DESIGN.md contract plus extra fields)."""
        from compensa.engine.plan import REVIEW_ADVICE

        return {
            "kb_version": self.kb.version_string,
            "disclaimer": DISCLAIMER,
            "triage": dict(self.triage),
            "plan_withheld": self.plan_withheld,
            "root_causes": [dict(r) for r in self.root_causes],
            "dysfunctions": [dict(d) for d in self.dysfunctions],
            "conditions": [dict(c) for c in self.conditions],
            "targets": [dict(t) for t in self.targets],
            "next_assessments": [dict(n) for n in self.next_assessments],
            "warnings": [dict(w) for w in self.warnings],
            "review_advice": None if self.plan_withheld else REVIEW_ADVICE,
            "case": self.case.to_dict(),
            "engine": {"rules_fired": len(self.reasoning.run.fired), "halted": self.reasoning.run.halted,
                       "supports": len(self.reasoning.supports)},
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The contract JSON as text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
