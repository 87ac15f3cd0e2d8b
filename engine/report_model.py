"""The report as one typed record (pydantic): what the engine builds, the explanations and graphs
read, the HTTP layer serialises, and the JSON Schema (``compensa schema report``) is made from.

Every model forbids unknown fields, so a field added by the engine without being described here
fails the tests instead of reaching users undocumented.
"""

# No ``from __future__ import annotations`` here: pydantic would have to evaluate every annotation
# from its text when it builds the models (a few ms of every cold start).
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AskItem", "Disagreement", "DisagreeingTest", "EngineInfo", "Evidence", "Exercise", "NextAssessment", "Ranked",
    "ReportData", "ReportWarning", "RootCause", "Target", "TargetConflict", "Triage", "Withheld",
]

Side = Optional[Literal["left", "right"]]


def _empty() -> list:
    """An empty list (the default of list fields): a plain function, as pydantic reads a default factory's
    signature and that of the built-in ``list`` is slow to get (``inspect`` tokenises its text signature)."""
    return []


class _Record(BaseModel):
    # defer_build: a section is validated inside ReportData, which builds its own validator for all of
    # them; building each one on its own as well only cost import time (each is built on first own use).
    # ReportData inherits it: it is built by the first report, not by importing the engine.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class AskItem(_Record):
    """A red-flag question worth asking for this pain, not yet asked."""

    id: str
    label: str
    question: str
    level: str


class Triage(_Record):
    """Red-flag triage: the first thing a report says."""

    level: Literal["emergency", "urgent", "routine", "self_care"] = Field(examples=["routine"])
    red_flags: list[str] = Field(description="Red flags present or answered unsure, most severe first.")
    unsure: list[str] = Field(default_factory=_empty, description="Red flags answered 'unsure' (treated as present).")
    review: list[str] = Field(default_factory=_empty, description="Review signs raised (they keep the plan).")
    unmatched: list[str] = Field(default_factory=_empty, description=(
        "Red-flag answers (or terms that read like red flags) answered yes or unsure that the KB could not "
        "match: they count as urgent and withhold the plan."))
    clusters: list[str] = Field(default_factory=_empty, description=(
        "Red-flag clusters met (KB criteria, e.g. cancer with a new neurological deficit): they set the level "
        "and withhold the plan like a red flag."))
    advice: str
    screened: Literal["none", "partial", "complete"] = Field(
        description="Whether the pain sites' screening questions were asked; none or partial is never clear.")
    not_screened: list[str] = Field(default_factory=_empty, description="Red flags worth asking for this pain, not asked.")
    ask: list[AskItem] = Field(default_factory=_empty, description="The not-asked red flags with their questions.")
    general_screening: bool = Field(False, description="The list is the general one (no pain site had its own).")
    medical_review: list[str] = Field(default_factory=_empty,
                                      description="Likely conditions that need a medical diagnosis (disc, stenosis, ...).")


class Evidence(_Record):
    """One piece of case evidence and its signed influence on a conclusion."""

    kind: str = Field(examples=["test"])
    id: str = Field(examples=["ober_test"])
    value: str = Field(examples=["positive"])
    side: Side = None
    label: str
    weight: float = Field(description="Signed influence along the strongest path (negative: against).")


class RootCause(_Record):
    """A ranked root imbalance with the evidence for and against it."""

    id: str = Field(examples=["lateral_hip_weakness"])
    label: str
    side: Side = None
    confidence: float = Field(ge=-1, le=1, description="Certainty factor (MYCIN-style heuristic, not a probability).")
    status: Literal["confirmed", "probable", "possible"]
    physically_confirmed: bool
    tight: list[str]
    weak: list[str]
    supporting: list[Evidence]
    conflicting: list[Evidence]
    unconfirmed: list[str] = Field(description="Tests that would confirm it, when no test does yet.")


class Ranked(_Record):
    """A ranked dysfunction or condition."""

    id: str
    label: str
    side: Side = None
    confidence: float
    codes: Optional[dict[str, str]] = Field(None, description="Standard codes (snomed, icd10, icd10cm, loinc).")
    medical: Optional[bool] = Field(None, description="Conditions: needs a medical diagnosis.")


class Exercise(_Record):
    id: str
    label: str
    how: str
    dose: str


class Withheld(_Record):
    """An exercise withheld because a condition it must not be given with is likely."""

    id: str
    label: str
    because: list[str] = Field(description="The likely conditions it must not be given with.")


class DisagreeingTest(_Record):
    test: str
    side: Side = None
    result: str
    weight: float


class Disagreement(_Record):
    """Tests that argued against a target's muscle state (the target is then tentative)."""

    test: str
    label: str
    side: Side = None
    result: str
    weight: float
    tests: list[DisagreeingTest]
    text: str


class TargetConflict(_Record):
    """Another likely pattern asks the opposite action for this muscle."""

    root: str
    action: str
    note: str


class Target(_Record):
    """A muscle to stretch or strengthen, with the chain to the pain it explains."""

    muscle: str = Field(examples=["gluteus_medius"])
    label: str
    action: Literal["stretch", "strengthen"]
    region: str
    side: Side = None
    painful: bool = Field(description="Whether it lies where the person hurts (false: treat away from the pain).")
    because: str
    chain: list[str] = Field(description="Ids from the target muscle to the pain site it explains.")
    root: str
    confidence: float
    muscle_state_confirmed: bool = Field(description="A test supports this muscle's own state (seen alone is not confirmed).")
    exercise: Optional[Exercise] = None
    caution: Optional[str] = Field(None, description="A caution with the exercise, or why it is withheld.")
    withheld: Optional[Withheld] = None
    also_roots: list[str]
    conflict: Optional[TargetConflict] = None
    tentative: bool = Field(False, description="No test confirms the pattern or this muscle yet, or a test "
                                               "disagrees: check before loading.")
    disagreement: Optional[Disagreement] = None


class NextAssessment(_Record):
    id: str
    label: str
    kind: Literal["finding", "test"]
    side: Side = None
    why: str
    how: str
    for_: str = Field(alias="for", description="The hypothesis it would confirm or refute.")


class UnrecognisedTerm(_Record):
    """A term of the case the KB does not know (the consultation ran on everything else)."""

    term: str
    where: str = Field(description="Field path in the case, e.g. history[1].")
    suggestions: list[str] = Field(description="Closest known ids of the same kind (or 'section: id' if it "
                                               "belongs in another section).")


class ReportWarning(_Record):
    """One caveat of the report (see :mod:`compensa.engine.caveats`)."""

    code: Literal["not_screened", "sides_disagree", "test_disagrees", "visual_only", "tests_only",
                  "unmatched_red_flag", "unrecognised"]
    message: str
    where: str = Field(description="Where in the report it applies, e.g. targets[2] or triage.screened.")
    screened: Optional[str] = None
    questions: Optional[list[AskItem]] = None
    general: Optional[bool] = None
    pain_sides: Optional[list[str]] = None
    tested_sides: Optional[list[str]] = None
    target_sides: Optional[list[str]] = None
    muscle: Optional[str] = None
    root: Optional[str] = None
    tests: Optional[list[DisagreeingTest]] = None


class MetBy(_Record):
    kind: str
    id: str
    value: str
    side: Side = None
    label: str


class CriterionMet(_Record):
    """A KB criterion (all-of / k-of-n / none-of cluster or decision rule) met by the case."""

    id: str = Field(examples=["laslett_sij_cluster"])
    label: str
    side: Side = None
    met_by: list[MetBy] = Field(description="The case evidence that met it (every member the joined rules used).")
    alarm: Optional[Literal["emergency", "urgent"]] = Field(None, description="Set when it is a red-flag cluster.")
    advice: Optional[str] = None
    source: str


class Psychosocial(_Record):
    """Yellow flags (STarT Back stratification): they change how the plan is delivered, never whether."""

    tool: str
    risk: Literal["low", "medium", "high", "not_assessed"]
    score: int = Field(description="STarT Back total (0-9), items not asked counted as no.")
    subscore: int = Field(description="Psychosocial subscale (items 5-9, 0-5).")
    complete: bool = Field(description="Every item was answered (by the case or by its pain sites).")
    not_asked: list[str]
    flags: list[str] = Field(description="Yellow flags answered yes.")
    advice: str
    source: str


class EngineInfo(_Record):
    rules_fired: int
    halted: bool
    supports: int


class ReportData(_Record):
    """The consultation report (DESIGN.md contract plus extras)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, title="Report")

    kb_version: str = Field(examples=["compensa 0.1.0+0bcbc9dc0fb2"])
    disclaimer: str
    triage: Triage
    plan_withheld: bool = Field(description="True when a present or unsure red flag stops the exercise plan.")
    root_causes: list[RootCause]
    dysfunctions: list[Ranked]
    conditions: list[Ranked]
    targets: list[Target] = Field(description="Empty whenever a red flag is present or unsure.")
    next_assessments: list[NextAssessment]
    criteria: list[CriterionMet] = Field(default_factory=_empty, description="KB criteria the case met, alarms first.")
    unrecognised: list[UnrecognisedTerm] = Field(default_factory=_empty, description="Terms not understood; empty "
                                                 "when everything was understood (strict mode refuses them instead).")
    psychosocial: Optional[Psychosocial] = None
    warnings: list[ReportWarning] = Field(description="Every caveat of the report, most important first.")
    review_advice: Optional[str] = None
    case: dict = Field(description="The case as understood (canonical ids, explicit sides and results).")
    engine: EngineInfo
