"""Score a knowledge base against a library of sourced cases: the project's clinical yardstick.

A case file (``kb/cases/*.yaml``, DESIGN.md "Case library")::

    id: lateral_knee_runner
    region: knee
    sources: [fredericson_2000]
    case: {pain: [...], findings: [...], tests: [...], red_flags: [...]}
    expect:
      triage: [routine]                   # acceptable triage levels
      roots_any: [lateral_hip_weakness]   # the top 3 roots must contain one (empty: no root expected)
      targets: [{muscle: gluteus_medius, action: strengthen, side: right}]   # must appear
      not_targets: [{muscle: iliopsoas, action: stretch}]                  # must NOT appear (harmful)
      conditions_any: [it_band_syndrome]  # optional: one must be among the reported conditions
      max_confidence: 0.5                 # optional: thin evidence, the top root must stay below
      plan: firm | tentative | none       # optional: what kind of plan

:func:`evaluate` returns the scores (``cases``, ``top1``, ``top3``, ``triage_accuracy``,
``red_flag_recall``, ``target_recall``, ``harmful_targets``, ``calibration``, ``by_region``,
``failures``) and whether they meet the thresholds of ``thresholds.yaml`` in the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compensa.errors import CaseError, Problem, closest
from compensa.kb.paths import BUNDLED_CASES  # re-exported: the case library shipped with compensa
from compensa.engine.plan import evidence_words
from compensa.engine.reasoning import belief_key

__all__ = ["BUNDLED_CASES", "CaseExpectation", "LibraryCase", "Scores", "check_library", "evaluate", "read_library"]

_ALARM = ("emergency", "urgent")
_DEFAULT_THRESHOLDS = {"red_flag_recall": 1.0, "harmful_targets": 0, "top3": 0.9, "triage_accuracy": 0.95}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TargetExpectation(_Strict):
    muscle: str
    action: Literal["stretch", "strengthen"]
    side: Optional[Literal["left", "right"]] = None


class CaseExpectation(_Strict):
    """What a correct report says about a library case."""

    triage: list[Literal["emergency", "urgent", "routine", "self_care"]] = Field(min_length=1)
    roots_any: list[str] = Field(default_factory=list)
    targets: list[TargetExpectation] = Field(default_factory=list)
    not_targets: list[TargetExpectation] = Field(default_factory=list)
    conditions_any: list[str] = Field(default_factory=list)
    max_confidence: Optional[float] = Field(None, ge=0, le=1)
    plan: Optional[Literal["firm", "tentative", "none"]] = None


class LibraryCase(_Strict):
    """One sourced case of the library."""

    id: str
    region: str
    title: str = ""
    sources: list[str] = Field(min_length=1)
    summary: str = Field("", description="The published case or pattern, in our own words.")
    case: dict[str, Any]
    expect: CaseExpectation


@dataclass
class Scores:
    """The evaluation of a case library (``to_dict`` for JSON)."""

    cases: int = 0
    top1: float = 0.0
    top3: float = 0.0
    triage_accuracy: float = 0.0
    red_flag_recall: float = 1.0
    target_recall: float = 1.0
    harmful_targets: int = 0
    calibration: dict = field(default_factory=dict)
    by_region: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)
    below: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every threshold of the library is met."""
        return not self.below

    def to_dict(self) -> dict:
        """The scores as JSON-ready data."""
        return {"cases": self.cases, "top1": self.top1, "top3": self.top3, "triage_accuracy": self.triage_accuracy,
                "red_flag_recall": self.red_flag_recall, "target_recall": self.target_recall,
                "harmful_targets": self.harmful_targets, "calibration": self.calibration,
                "by_region": self.by_region, "failures": self.failures, "thresholds": self.thresholds,
                "passed": self.passed, "below": self.below}


def read_library(folder: str | Path) -> tuple[list[LibraryCase], dict]:
    """Read every ``*.yaml`` case of ``folder`` (and ``thresholds.yaml``); raise CaseError listing all problems."""
    from compensa.kb.yamlsource import load_case_file_data

    folder = Path(folder)
    if not folder.is_dir():
        raise CaseError(Problem(f"no case library folder {folder}", str(folder)))
    cases: list[LibraryCase] = []
    problems: list[Problem] = []
    thresholds = dict(_DEFAULT_THRESHOLDS)
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = load_case_file_data(path)
        except CaseError as exc:
            problems.extend(exc.problems)
            continue
        if path.name == "thresholds.yaml":
            if not isinstance(data, dict):
                problems.append(Problem("thresholds.yaml must map score names to numbers", str(path)))
            else:
                thresholds.update(data)
            continue
        try:
            cases.append(LibraryCase.model_validate(data, strict=True))
        except ValidationError as exc:
            problems.extend(Problem(e["msg"], f"{path}: {'.'.join(str(p) for p in e['loc'])}")
                            for e in exc.errors(include_url=False))
    if not cases and not problems:
        problems.append(Problem(f"no case files (*.yaml) in {folder}", str(folder)))
    if problems:
        raise CaseError(problems)
    seen: dict[str, int] = {}
    for case in cases:
        seen[case.id] = seen.get(case.id, 0) + 1
    repeated = sorted(i for i, n in seen.items() if n > 1)
    if repeated:
        raise CaseError([Problem(f"case id {i!r} is used by more than one file", str(folder)) for i in repeated])
    return cases, thresholds


def check_library(cases: list[LibraryCase], kb) -> list[Problem]:
    """Every id a library case names must exist in ``kb``: sources, roots, muscles and conditions."""
    problems: list[Problem] = []

    def need(ids: Iterable[str], known, what: str, where: str) -> None:
        for i in ids:
            if i not in known:
                problems.append(Problem(f"unknown {what} {i!r}", where, i, closest(i, known)))

    for case in cases:
        where = f"{case.id}"
        need(case.sources, kb.sources, "source", f"{where}: sources")
        need(case.expect.roots_any, kb.roots, "root", f"{where}: expect.roots_any")
        need([t.muscle for t in case.expect.targets + case.expect.not_targets], kb.muscles, "muscle",
             f"{where}: expect.targets")
        need(case.expect.conditions_any, kb.conditions, "condition", f"{where}: expect.conditions_any")
    return problems


def _target_set(report, with_side: bool, given_only: bool = False) -> set[tuple]:
    """The report's targets; ``given_only``: only those whose exercise is given (not withheld with a caution)."""
    return {(t.muscle, t.action, t.side) if with_side else (t.muscle, t.action) for t in report.targets
            if not (given_only and t.withheld is not None)}


def _plan_kind(report) -> str:
    if not report.targets:
        return "none"
    return "tentative" if any(t.tentative for t in report.targets) else "firm"


def _found(expected: TargetExpectation, sided: set[tuple], unsided: set[tuple]) -> bool:
    """Whether an expected target is among the report's (on its side, when the expectation names one)."""
    return (expected.muscle, expected.action, expected.side) in sided if expected.side else \
        (expected.muscle, expected.action) in unsided


def _target_differences(expect: CaseExpectation, report) -> tuple[list, list]:
    """Expected targets missing, and must-not targets proposed (in the plan with their exercise given)."""
    sided, unsided = _target_set(report, True), _target_set(report, False)
    given_sided, given_unsided = _target_set(report, True, True), _target_set(report, False, True)
    missing = [t for t in expect.targets if not _found(t, sided, unsided)]
    harmful = [t for t in expect.not_targets if _found(t, given_sided, given_unsided)]
    return missing, harmful


def _other_differences(expect: CaseExpectation, report, confidence: float) -> list[str]:
    """What differs in conditions, the confidence ceiling and the kind of plan."""
    differs = []
    if expect.conditions_any and not {c.id for c in report.conditions} & set(expect.conditions_any):
        differs.append(f"conditions {[c.id for c in report.conditions[:3]]}, expected one of {expect.conditions_any}")
    if expect.max_confidence is not None and confidence > expect.max_confidence:
        differs.append(f"top root confidence {confidence:.2f} above the ceiling {expect.max_confidence:.2f}")
    if expect.plan and _plan_kind(report) != expect.plan:
        differs.append(f"plan {_plan_kind(report)}, expected {expect.plan}")
    return differs


def _check(case: LibraryCase, report) -> tuple[dict, list[str]]:
    """Per-case facts for the scores, and what differed from the expectation."""
    expect = case.expect
    top = [r.id for r in report.root_causes]
    confidence = report.root_causes[0].confidence if report.root_causes else 0.0
    differs: list[str] = []
    if report.triage.level not in expect.triage:
        differs.append(f"triage {report.triage.level}, expected {' or '.join(expect.triage)}")
    top3 = bool(set(top[:3]) & set(expect.roots_any)) if expect.roots_any else None
    if top3 is False:
        differs.append(f"top roots {top[:3] or 'none'}, expected one of {expect.roots_any}")
    missing, harmful = _target_differences(expect, report)
    differs += [f"missing target: {t.action} {t.muscle}" + (f" ({t.side})" if t.side else "") for t in missing]
    differs += [f"harmful target proposed: {t.action} {t.muscle}" for t in harmful]
    differs += _other_differences(expect, report, confidence)
    facts = {"top1": bool(top) and top[0] in expect.roots_any if expect.roots_any else None, "top3": top3,
             "triage_ok": report.triage.level in expect.triage,
             "alarm_expected": any(level in _ALARM for level in expect.triage),
             "alarm_given": report.triage.level in _ALARM and not report.targets,
             "targets_expected": len(expect.targets), "targets_found": len(expect.targets) - len(missing),
             "harmful": len(harmful), "confidence": confidence}
    return facts, differs


def _refused_facts(case: LibraryCase) -> dict:
    """The facts of a case the validator refused: it counts as wrong on everything it expects."""
    expects_root = False if case.expect.roots_any else None
    return {"top1": expects_root, "top3": expects_root, "triage_ok": False,
            "alarm_expected": any(level in _ALARM for level in case.expect.triage), "alarm_given": False,
            "targets_expected": len(case.expect.targets), "targets_found": 0, "harmful": 0, "confidence": 0.0}


#: ``explain(report, root_id) -> text``: how a failure is explained (the CLI passes WHY NOT).
Explainer = Callable[[Any, str], str]


def _expected_root_summary(report, root_id: str) -> str:
    """The engine's own account of an expected root: certainty, rank, and the evidence for and against."""
    kb = report.kb
    keys = [belief_key(root_id, s) for s in ("", "left", "right")]
    key = max(keys, key=lambda k: abs(report.reasoning.reported_cf(k)))
    cf = report.reasoning.reported_cf(key)
    ranks = [i for i, r in enumerate(report.root_causes, 1) if r.id == root_id]
    influence = report.reasoning.reported_influence(key)
    words = lambda items: ", ".join(f"{evidence_words(kb, k)} ({w:+.2f})" for k, w in items) or "none"  # noqa: E731
    against = sorted(((k, w) for k, w in influence.items() if w < 0), key=lambda kv: kv[1])[:4]
    support = sorted(((k, w) for k, w in influence.items() if w > 0), key=lambda kv: -kv[1])[:4]
    place = f"ranked #{ranks[0]}" if ranks else "not ranked"
    return (f"{kb.label(root_id)}: certainty {cf:.2f}, {place}; for it: {words(support)}; "
            f"against it: {words(against)}.")


def _explain(case: LibraryCase, report, explain: Explainer | None) -> str:
    """Why the report differs: about the first expected root, when none of them is in the top 3."""
    if not case.expect.roots_any or {r.id for r in report.root_causes[:3]} & set(case.expect.roots_any):
        return ""
    root_id = case.expect.roots_any[0]
    if explain is not None:
        return explain(report, root_id)
    return _expected_root_summary(report, root_id)


def _ratio(values: Iterable[Optional[bool]]) -> float:
    known = [v for v in values if v is not None]
    return round(sum(bool(v) for v in known) / len(known), 3) if known else 1.0


def _calibration(rows: list[tuple[float, bool]]) -> dict:
    """Brier score of the top root's confidence against being right, and a 5-bin reliability table."""
    if not rows:
        return {"brier": None, "bins": []}
    brier = sum((c - float(ok)) ** 2 for c, ok in rows) / len(rows)
    bins = []
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        inside = [(c, ok) for c, ok in rows if low <= c < low + 0.2 or (low == 0.8 and c >= 1.0)]
        if inside:
            bins.append({"from": low, "to": round(low + 0.2, 1), "cases": len(inside),
                         "mean_confidence": round(sum(c for c, _ in inside) / len(inside), 3),
                         "correct": round(sum(ok for _, ok in inside) / len(inside), 3)})
    return {"brier": round(brier, 4), "cases": len(rows), "bins": bins}


def _by_region(rows: list[tuple[LibraryCase, dict]]) -> dict:
    regions: dict[str, list[dict]] = {}
    for case, facts in rows:
        regions.setdefault(case.region, []).append(facts)
    return {region: {"cases": len(items), "top3": _ratio(f["top3"] for f in items),
                     "triage_accuracy": _ratio(f["triage_ok"] for f in items),
                     "harmful_targets": sum(f["harmful"] for f in items)}
            for region, items in sorted(regions.items())}


def _below(scores: Scores, thresholds: dict) -> list[str]:
    below = []
    for name, bound in sorted(thresholds.items()):
        value = getattr(scores, name, None)
        if value is None:
            continue
        bad = value > bound if name == "harmful_targets" else value < bound
        if bad:
            below.append(f"{name} {value} (threshold {bound})")
    return below


def _score_case(consultant, case: LibraryCase, explain: Explainer | None) -> tuple[dict, dict | None]:
    """Consult one library case: its facts for the scores, and its failure record (None when it passed)."""
    try:
        report = consultant.consult(case.case, strict=True)  # a library case names only known terms
    except CaseError as exc:
        return _refused_facts(case), {"case": case.id, "region": case.region,
                                      "differs": [f"case not accepted: {exc}"], "explanation": ""}
    facts, differs = _check(case, report)
    if not differs:
        return facts, None
    return facts, {"case": case.id, "region": case.region, "differs": differs,
                   "explanation": _explain(case, report, explain)}


def _scores(rows: list[tuple[LibraryCase, dict]], failures: list[dict], thresholds: dict) -> Scores:
    """The library's scores from the per-case facts."""
    facts = [f for _, f in rows]
    expected_targets = sum(f["targets_expected"] for f in facts)
    return Scores(
        cases=len(rows), top1=_ratio(f["top1"] for f in facts), top3=_ratio(f["top3"] for f in facts),
        triage_accuracy=_ratio(f["triage_ok"] for f in facts),
        red_flag_recall=_ratio(f["alarm_given"] for f in facts if f["alarm_expected"]),
        target_recall=round(sum(f["targets_found"] for f in facts) / expected_targets, 3) if expected_targets else 1.0,
        harmful_targets=sum(f["harmful"] for f in facts),
        calibration=_calibration([(f["confidence"], bool(f["top1"])) for f in facts if f["top1"] is not None]),
        by_region=_by_region(rows), failures=failures, thresholds=thresholds)


def evaluate(folder: str | Path | None = None, kb=None, progress: Callable[[int, int], None] | None = None,
             explain: Explainer | None = None) -> Scores:
    """Score ``kb`` (the bundled KB by default) on the cases of ``folder`` (the bundled library by default).

    ``progress(done, total)`` is called after each case; ``explain(report, root_id)`` words why an
    expected root was missed (by default the engine's own summary of its certainty and evidence)."""
    from compensa.engine.consult import consultant_for

    cases, thresholds = read_library(folder or BUNDLED_CASES)
    consultant = consultant_for(kb)
    problems = check_library(cases, consultant.kb)
    if problems:
        raise CaseError(problems)
    rows: list[tuple[LibraryCase, dict]] = []
    failures: list[dict] = []
    for index, case in enumerate(cases, 1):
        facts, failure = _score_case(consultant, case, explain)
        rows.append((case, facts))
        if failure:
            failures.append(failure)
        if progress:
            progress(index, len(cases))
    scores = _scores(rows, failures, thresholds)
    scores.below = _below(scores, thresholds)
    return scores
