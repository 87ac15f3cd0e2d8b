"""The consultation report: the JSON contract of DESIGN.md, plus what explanations need.

:class:`Report` keeps the case and the :class:`~compensa.engine.reasoning.Reasoning` of the run
(so ``compensa explain`` and the graphs can walk the justifications), and ``to_dict()`` gives the
contract JSON: ``kb_version``, ``disclaimer``, ``triage``, ``root_causes``, ``dysfunctions``,
``conditions``, ``targets``, ``next_assessments``, ``warnings`` — and a few more fields.
"""

from __future__ import annotations

import json
from compensa.engine.case import Case
from compensa.engine.reasoning import Reasoning
from compensa.engine.report_model import NextAssessment, Ranked, ReportData, ReportWarning, RootCause, Target, Triage
from compensa.kb.model import KnowledgeBase

__all__ = ["DISCLAIMER", "Report"]

DISCLAIMER = (
    "compensa is decision support and teaching material, not a diagnosis. It suggests likely muscle-imbalance "
    "patterns from the information given; a qualified clinician must examine the person and make the decisions. "
    "Seek medical care for severe, worsening or unusual symptoms."
)


class Report:
    """The result of one consultation: the typed record plus what explanations need.

    ``report.data`` is the :class:`~compensa.engine.report_model.ReportData` record; its sections are
    also attributes here (``report.triage``, ``report.targets``, ...). The KB, the parsed case and
    the reasoning of the run stay attached (not serialised) so explanations and graphs can walk the
    justifications. :meth:`to_dict` is the JSON contract.
    """

    __slots__ = ("kb", "case", "reasoning", "data")

    def __init__(self, kb: KnowledgeBase, case: Case, reasoning: Reasoning, data: ReportData):
        self.kb = kb
        self.case = case
        self.reasoning = reasoning
        self.data = data

    @classmethod
    def build(cls, kb: KnowledgeBase, case: Case, reasoning: Reasoning, *, triage: dict, root_causes: list[dict],
              dysfunctions: list[dict], conditions: list[dict], targets: list[dict], next_assessments: list[dict],
              warnings: list[dict], criteria: list[dict] | None = None, psychosocial: dict | None = None) -> Report:
        """Check the engine's sections against the typed record and assemble the report."""
        from compensa.engine.plan import REVIEW_ADVICE

        withheld = bool(triage["red_flags"] or triage.get("clusters") or triage.get("unmatched"))
        data = ReportData.model_validate({
            "kb_version": kb.version_string, "disclaimer": DISCLAIMER, "triage": triage, "plan_withheld": withheld,
            "root_causes": root_causes, "dysfunctions": dysfunctions, "conditions": conditions, "targets": targets,
            "next_assessments": next_assessments, "warnings": warnings, "criteria": list(criteria or ()),
            "unrecognised": [u.to_dict() for u in case.unrecognised],
            "psychosocial": psychosocial,
            "review_advice": None if withheld else REVIEW_ADVICE, "case": case.to_dict(),
            "engine": {"rules_fired": len(reasoning.run.fired), "halted": reasoning.run.halted,
                       "supports": len(reasoning.supports)},
        })
        return cls(kb, case, reasoning, data)

    @property
    def triage(self) -> Triage:
        return self.data.triage

    @property
    def plan_withheld(self) -> bool:
        """True when a present or unsure red flag stops the exercise plan."""
        return self.data.plan_withheld

    @property
    def root_causes(self) -> list[RootCause]:
        return self.data.root_causes

    @property
    def dysfunctions(self) -> list[Ranked]:
        return self.data.dysfunctions

    @property
    def conditions(self) -> list[Ranked]:
        return self.data.conditions

    @property
    def targets(self) -> list[Target]:
        return self.data.targets

    @property
    def next_assessments(self) -> list[NextAssessment]:
        return self.data.next_assessments

    @property
    def warnings(self) -> list[ReportWarning]:
        return self.data.warnings

    def __repr__(self) -> str:
        return f"Report(case={self.case!r}, triage={self.triage.level!r}, roots={[r.id for r in self.root_causes]!r})"

    def to_dict(self) -> dict:
        """The report as JSON-ready data (the DESIGN.md contract plus extra fields)."""
        return self.data.model_dump(mode="json", by_alias=True)

    def to_json(self, indent: int | None = 2) -> str:
        """The contract JSON as text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
