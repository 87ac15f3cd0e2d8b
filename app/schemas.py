"""Request and response models of the HTTP API (pydantic), so /openapi.json documents every field.

Request bodies are validated by the one case validator of the engine
(:mod:`compensa.engine.case_schema` for shapes, :mod:`compensa.engine.case` for terms), the same as
the library and the command line; responses are the engine's typed report record
(:mod:`compensa.engine.report_model`). This module holds what only HTTP has: the explain options,
KB info and error bodies.
"""

from __future__ import annotations

from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from compensa.errors import CaseError, Problem

__all__ = ["ErrorResponse", "ExplainOptions", "KBInfo", "explain_request_schema", "json_schema", "split_explain_request"]

class ExplainOptions(BaseModel):
    """What to explain about a case: a target muscle (WHY), a root (WHY NOT), or neither (HOW)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    target: Optional[str] = Field(None, max_length=200, description="Muscle: why is it a target?")
    why_not: Optional[str] = Field(None, max_length=200, description="Root imbalance: why is it ranked low or absent?")
    verbose: bool = Field(False, description="HOW: include every support and the certainty arithmetic.")
    full: bool = Field(False, description="Graph formats: draw everything reached, not the focused view.")

    @model_validator(mode="after")
    def _one_question(self) -> ExplainOptions:
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


def json_schema(which: str) -> dict:
    """The JSON Schema of ``case`` (what is accepted) or ``report`` (what is answered): for
    ``compensa schema`` and ``GET /v1/schema/{which}`` (here, not in the HTTP module, so the command
    works without the server extra)."""
    if which == "case":
        from compensa.engine.case_schema import case_json_schema

        return case_json_schema()
    from compensa.engine.report_model import ReportData

    return ReportData.model_json_schema(by_alias=True)
