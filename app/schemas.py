"""Request and response models of the HTTP API (pydantic), so /openapi.json documents every field.

The case model checks shapes (types, list lengths, unknown fields); the ids themselves are checked
by the engine's case parser, which answers unknown terms with the closest known ids.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from compensa.engine.case import MAX_ITEMS

__all__ = ["CaseModel", "ErrorResponse", "ExplainRequest", "KBInfo", "ReportModel", "TriageModel"]

Side = Literal["left", "right", "both", "bilateral", "l", "r", "central", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PainItem(_Strict):
    site: str = Field(description="Pain site id or readable name, e.g. lateral_knee or 'outer knee'.",
                      examples=["lateral_knee"], max_length=200)
    side: Optional[Side] = Field(None, description="left, right or both; omit when central or unknown.")


class FindingItem(_Strict):
    id: str = Field(description="Visual finding id or name.", examples=["knee_valgus"], max_length=200)
    side: Optional[Side] = None
    present: bool = Field(True, description="false records that it was looked for and is absent.")


class TestItem(_Strict):
    id: str = Field(description="Physical test id or name.", examples=["ober_test"], max_length=200)
    result: Literal["positive", "negative"] = Field(description="For strength tests, positive means weakness found.")
    side: Optional[Side] = None


class FlagItem(_Strict):
    id: str = Field(description="Red-flag id or name.", examples=["saddle_anaesthesia"], max_length=200)
    present: bool = Field(True, description="false: asked and denied. Unlisted flags count as not asked.")


class HistoryItem(_Strict):
    id: str = Field(examples=["runner"], max_length=200)
    present: bool = True


class DiagnosisItem(_Strict):
    id: str = Field(description="A condition already diagnosed.", examples=["spondylolisthesis"], max_length=200)
    side: Optional[Side] = None


_LIST = {"max_length": MAX_ITEMS}

CASE_EXAMPLE = {
    "pain": [{"site": "lateral_knee", "side": "right"}],
    "findings": [{"id": "knee_valgus", "side": "right"}],
    "tests": [{"id": "ober_test", "result": "positive", "side": "right"},
              {"id": "trendelenburg", "result": "positive", "side": "right"}],
    "red_flags": [{"id": "saddle_anaesthesia", "present": False}],
    "history": ["runner"],
}


class CaseModel(_Strict):
    """A consultation case. Strings are shorthand: ``"lateral_knee:right"``, ``"ober_test:positive:right"``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CASE_EXAMPLE]})

    pain: list[Union[str, PainItem]] = Field(default_factory=list, description="Where it hurts.", **_LIST)
    findings: list[Union[str, FindingItem]] = Field(default_factory=list, description="What is seen.", **_LIST)
    tests: list[Union[str, TestItem]] = Field(default_factory=list, description="Physical tests and results.", **_LIST)
    red_flags: list[Union[str, FlagItem]] = Field(default_factory=list, description="Screening answers.", **_LIST)
    history: list[Union[str, HistoryItem]] = Field(default_factory=list, description="Context.", **_LIST)
    diagnoses: list[Union[str, DiagnosisItem]] = Field(default_factory=list, description="Known diagnoses.", **_LIST)
    name: Optional[str] = Field(None, max_length=2000, description="A label for the case (echoed, not used).")
    notes: Optional[str] = Field(None, max_length=2000, description="Free text (never logged, not used).")


class ExplainRequest(CaseModel):
    """A case plus what to explain: a target muscle (WHY), a root (WHY NOT), or neither (HOW)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**CASE_EXAMPLE, "target": "gluteus_medius"}]})

    target: Optional[str] = Field(None, max_length=200, description="Muscle: why is it a target?")
    why_not: Optional[str] = Field(None, max_length=200, description="Root imbalance: why is it ranked low or absent?")
    verbose: bool = Field(False, description="HOW: include every support and the certainty arithmetic.")
    full: bool = Field(False, description="Graph formats: draw everything reached, not the focused view.")


class TriageModel(BaseModel):
    level: Literal["emergency", "urgent", "routine", "self_care"] = Field(examples=["routine"])
    red_flags: list[str] = Field(description="Red flags present, most severe first.")
    advice: str
    not_screened: list[str] = Field(default_factory=list, description="Red flags worth asking for this pain, not asked.")
    medical_review: list[str] = Field(default_factory=list,
                                      description="Likely conditions that need a medical diagnosis (disc, stenosis, ...).")


class EvidenceRef(BaseModel):
    kind: str = Field(examples=["test"])
    id: str = Field(examples=["ober_test"])
    value: str = Field(examples=["positive"])
    side: Optional[str] = None
    label: str
    weight: float = Field(description="Signed influence along the strongest path (negative: against).")


class RootCause(BaseModel):
    id: str = Field(examples=["lateral_hip_weakness"])
    label: str
    side: Optional[str] = None
    confidence: float = Field(ge=-1, le=1, description="Certainty factor (MYCIN-style heuristic, not a probability).")
    status: Literal["confirmed", "probable", "possible"]
    physically_confirmed: bool
    tight: list[str]
    weak: list[str]
    supporting: list[EvidenceRef]
    conflicting: list[EvidenceRef]
    unconfirmed: list[str] = Field(description="Tests that would confirm it, when no test does yet.")


class Ranked(BaseModel):
    id: str
    label: str
    side: Optional[str] = None
    confidence: float
    icd10: Optional[str] = None
    medical: Optional[bool] = None


class Exercise(BaseModel):
    id: str
    label: str
    how: str
    dose: str


class Target(BaseModel):
    muscle: str = Field(examples=["gluteus_medius"])
    label: str
    action: Literal["stretch", "strengthen"]
    region: str
    side: Optional[str] = None
    painful: bool = Field(description="Whether it lies where the person hurts (false: treat away from the pain).")
    because: str
    chain: list[str] = Field(description="Ids from the target muscle to the pain site it explains.")
    root: str
    confidence: float
    muscle_state_confirmed: bool
    exercise: Optional[Exercise] = None
    caution: Optional[str] = Field(None, description="Why the usual exercise is withheld (e.g. flexion with a disc).")
    also_roots: list[str]
    conflict: Optional[dict] = Field(None, description="Another likely pattern asks the opposite action for this muscle.")
    tentative: bool = Field(False, description="No test confirms the pattern or this muscle yet: check before loading.")


class NextAssessment(BaseModel):
    id: str
    label: str
    kind: Literal["finding", "test"]
    side: Optional[str] = None
    why: str
    how: str
    for_: str = Field(alias="for", description="The hypothesis it would confirm or refute.")


class ReportModel(BaseModel):
    """The consultation report (DESIGN.md contract plus extras)."""

    model_config = ConfigDict(populate_by_name=True)

    kb_version: str = Field(examples=["compensa 0.1.0+0bcbc9dc0fb2"])
    disclaimer: str
    triage: TriageModel
    plan_withheld: bool = Field(description="True when a red flag stops the exercise plan.")
    root_causes: list[RootCause]
    dysfunctions: list[Ranked]
    conditions: list[Ranked]
    targets: list[Target] = Field(description="Empty whenever a red flag is present.")
    next_assessments: list[NextAssessment]
    review_advice: Optional[str] = None
    case: dict = Field(description="The case as understood (canonical ids, explicit sides and results).")
    engine: dict


class KBInfo(BaseModel):
    kb_version: str
    name: str
    version: str
    counts: dict[str, int]


class ErrorDetail(BaseModel):
    loc: list[Union[str, int]] = Field(description="Field path, e.g. ['body', 'tests', 1, 'result'].")
    msg: str
    input: object = None
    suggestions: list[str] = Field(default_factory=list, description="The closest known ids.")


class ErrorResponse(BaseModel):
    detail: Union[list[ErrorDetail], str]
    request_id: Optional[str] = None
