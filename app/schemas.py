"""Request and response models of the HTTP API (pydantic), so /openapi.json documents every field.

Request bodies are validated by the one case validator of the engine
(:mod:`compensa.engine.case_schema` for shapes, :mod:`compensa.engine.case` for terms), the same as
the library and the command line; this module describes the responses and the explain options.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from compensa.errors import CaseError, Problem

__all__ = ["ErrorResponse", "ExplainOptions", "KBInfo", "ReportModel", "TriageModel", "explain_request_schema",
           "split_explain_request"]

class ExplainOptions(BaseModel):
    """What to explain about a case: a target muscle (WHY), a root (WHY NOT), or neither (HOW)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    target: Optional[str] = Field(None, max_length=200, description="Muscle: why is it a target?")
    why_not: Optional[str] = Field(None, max_length=200, description="Root imbalance: why is it ranked low or absent?")
    verbose: bool = Field(False, description="HOW: include every support and the certainty arithmetic.")
    full: bool = Field(False, description="Graph formats: draw everything reached, not the focused view.")

    @model_validator(mode="after")
    def _one_question(self) -> "ExplainOptions":
        if self.target and self.why_not:
            raise PydanticCustomError("one_question", "give target or why_not, not both")
        return self


def split_explain_request(body: object) -> tuple[ExplainOptions, dict]:
    """Split an explain request into its options and the case (validated by the one case validator)."""
    if not isinstance(body, dict):
        raise CaseError(Problem("an explain request must be a JSON object: a case plus target, why_not, verbose, full", ""))
    options = {k: body[k] for k in ExplainOptions.model_fields if k in body}
    case = {k: v for k, v in body.items() if k not in ExplainOptions.model_fields}
    try:
        return ExplainOptions.model_validate(options, strict=True), case
    except ValidationError as exc:
        problems = [Problem(e["msg"], ".".join(str(p) for p in e["loc"]) or "target",
                            e.get("input") if isinstance(e.get("input"), (str, bool, type(None))) else repr(e.get("input")))
                    for e in exc.errors(include_url=False)]
        raise CaseError(problems) from None


def explain_request_schema(case_ref: str) -> dict:
    """JSON Schema of an explain request: the case plus the explain options (mutually exclusive target/why_not)."""
    options = ExplainOptions.model_json_schema()
    return {"title": "ExplainRequest", "description": "A case plus what to explain; give target or why_not, not both.",
            "allOf": [{"$ref": case_ref}, {"type": "object", "properties": options["properties"]}],
            "not": {"required": ["target", "why_not"]}}


class AskItem(BaseModel):
    id: str
    label: str
    question: str
    level: str


class TriageModel(BaseModel):
    level: Literal["emergency", "urgent", "routine", "self_care"] = Field(examples=["routine"])
    red_flags: list[str] = Field(description="Red flags present or answered unsure, most severe first.")
    unsure: list[str] = Field(default_factory=list, description="Red flags answered 'unsure' (treated as present).")
    review: list[str] = Field(default_factory=list, description="Review signs raised (they keep the plan).")
    advice: str
    screened: Literal["none", "partial", "complete"] = Field(
        description="Whether the pain sites' screening questions were asked; none or partial is never clear.")
    not_screened: list[str] = Field(default_factory=list, description="Red flags worth asking for this pain, not asked.")
    ask: list[AskItem] = Field(default_factory=list, description="The not-asked red flags with their questions.")
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


class ReportWarning(BaseModel):
    code: str = Field(examples=["sides_disagree"])
    message: str
    where: Optional[str] = None


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
    warnings: list[ReportWarning] = Field(default_factory=list, description="Every caveat of the report.")
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
