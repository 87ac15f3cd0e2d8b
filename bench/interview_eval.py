"""Interview figures on the case library: how many questions reach the library's expected answer.

For each case of ``kb/cases/`` the interview starts from the case's pain and its red-flag answers only.
Each question is answered from the full case (a question the full case does not answer is skipped)
until the top root is one of the case's ``expect.roots_any``, or the interview stops (``should_stop``,
or nothing left to ask). Counted: questions asked (answered or skipped, red flags apart), against the
assessments and history items of the full case and the KB's assessments. A baseline asks the full
case's own items in a random (seeded) order until the same goal.

    .venv/bin/python bench/interview_eval.py [--cases DIR] [--kb DIR] [--json] [--jobs N] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compensa.engine import consultant_for  # noqa: E402
from compensa.engine.evaluate import BUNDLED_CASES, read_library  # noqa: E402
from compensa.engine.interview import add_answer, next_question  # noqa: E402

#: An interview longer than this is cut off (counted as not reaching the answer).
MAX_QUESTIONS = 40
_ASKED_KINDS = ("finding", "test", "history")
_KB_PATH: list[str | None] = [None]


def _use_kb(path: str | None) -> None:
    _KB_PATH[0] = path


def _consultant():
    """The consultant of the KB chosen with ``--kb`` (the bundled one by default), one per process."""
    from compensa.kb import load_kb

    return consultant_for(load_kb(_KB_PATH[0]) if _KB_PATH[0] else None)


def _start(case: dict) -> dict:
    return {k: case[k] for k in ("pain", "red_flags") if k in case}


def _answers(consultant, case: dict) -> dict[tuple[str, str, str], str]:
    parsed = consultant.parse(case)
    return {(e.kind, e.id, e.side): e.value for e in parsed.evidence}


def _lookup(answers: dict, question: dict) -> tuple[str, str] | None:
    """(side, value) the full case gives for a question, or ``None`` (skip)."""
    side = question["side"] or ""
    for key_side in dict.fromkeys((side, "")):
        value = answers.get((question["kind"], question["id"], key_side))
        if value is not None:
            return key_side, value
    if not side:  # a question without a side (no painful side yet): the person answers for the side it is on
        for (kind, id_, key_side), value in sorted(answers.items()):
            if (kind, id_) == (question["kind"], question["id"]):
                return key_side, value
    return None


def _reached(ranking: list[dict], goal: set[str]) -> bool:
    return bool(ranking) and ranking[0]["id"] in goal


def interview_case(lib_case) -> dict:
    """Run one scripted interview; its counts and outcome."""
    consultant = _consultant()
    answers = _answers(consultant, lib_case.case)
    goal = set(lib_case.expect.roots_any)
    case = consultant.parse(_start(lib_case.case))
    skipped: list[str] = []
    asked = answered = flags = 0
    result = next_question(consultant, case, skipped)
    while not _reached(result["ranking"], goal) and not result["should_stop"] and result["question"] \
            and asked < MAX_QUESTIONS:
        question = result["question"]
        found = _lookup(answers, question)
        if question["kind"] == "red_flag":
            flags += 1
        else:
            asked += 1
        if found is None:
            skipped.append(question["id"] + (f":{question['side']}" if question["side"] else ""))
        else:
            answered += question["kind"] != "red_flag"
            case = add_answer(case, question["kind"], question["id"], found[0], found[1])
        result = next_question(consultant, case, skipped)
    full = sum(1 for k in answers if k[0] in _ASKED_KINDS)
    return {"id": lib_case.id, "asked": asked, "answered": answered, "red_flags_asked": flags,
            "full_case_items": full, "reached": _reached(result["ranking"], goal), "stopped": result["should_stop"],
            "top": result["ranking"][0]["id"] if result["ranking"] else None, "baseline": _baseline(lib_case, goal)}


def _baseline(lib_case, goal: set[str]) -> int | None:
    """Questions a random order of the full case's own items needs to reach the goal (None: never)."""
    consultant = _consultant()
    answers = [(k, v) for k, v in _answers(consultant, lib_case.case).items() if k[0] in _ASKED_KINDS]
    random.Random(lib_case.id).shuffle(answers)
    case = consultant.parse(_start(lib_case.case))
    for n in range(len(answers) + 1):
        report = consultant.consult(case)
        if report.root_causes and report.root_causes[0].id in goal:
            return n
        if n < len(answers):
            (kind, id_, side), value = answers[n]
            case = add_answer(case, kind, id_, side, value)
    return None


def _mean(rows: list[dict], key: str) -> float:
    return round(statistics.mean(r[key] for r in rows), 2) if rows else 0.0


def _figures(rows: list[dict], kb_assessments: int, seconds: float) -> dict:
    reached = [r for r in rows if r["reached"]]
    work = [r for r in rows if r["baseline"] != 0]  # the pain alone does not already lead to the answer
    work_reached = [r for r in work if r["reached"]]
    base = [{"n": r["baseline"]} for r in rows if r["baseline"] is not None]
    return {
        "cases": len(rows), "kb_assessments": kb_assessments, "seconds": round(seconds, 1),
        "reached": len(reached), "reached_rate": round(len(reached) / max(len(rows), 1), 3),
        "mean_asked": _mean(rows, "asked"), "mean_asked_when_reached": _mean(reached, "asked"),
        "mean_answered": _mean(rows, "answered"), "mean_full_case_items": _mean(rows, "full_case_items"),
        "reached_from_pain_alone": len(rows) - len(work), "needing_questions": len(work),
        "needing_questions_reached": len(work_reached),
        "needing_questions_mean_asked": _mean(work, "asked"),
        "needing_questions_mean_asked_when_reached": _mean(work_reached, "asked"),
        "needing_questions_mean_answered": _mean(work, "answered"),
        "needing_questions_mean_full_case_items": _mean(work, "full_case_items"),
        "baseline_reached": len(base), "baseline_mean_asked_when_reached": _mean(base, "n"),
        "missed": [{"id": r["id"], "top": r["top"], "asked": r["asked"]} for r in rows if not r["reached"]],
    }


def _print(fig: dict) -> None:
    print(f"cases with an expected root (no alarm expected): {fig['cases']}  ({fig['seconds']} s)")
    print(f"interview reaches the expected root (top 1): {fig['reached']}/{fig['cases']} ({fig['reached_rate']:.1%})")
    print(f"questions asked per case (red flags apart): mean {fig['mean_asked']} "
          f"(answered from the case {fig['mean_answered']}); when reached: {fig['mean_asked_when_reached']}")
    print(f"vs asking every item of the full case: {fig['mean_full_case_items']}; "
          f"vs every assessment in the KB: {fig['kb_assessments']}")
    print(f"already reached from the pain alone: {fig['reached_from_pain_alone']}; the other "
          f"{fig['needing_questions']}: reached {fig['needing_questions_reached']}, mean asked "
          f"{fig['needing_questions_mean_asked']} ({fig['needing_questions_mean_asked_when_reached']} when reached; "
          f"answered from the case {fig['needing_questions_mean_answered']}) "
          f"vs {fig['needing_questions_mean_full_case_items']} items in their full cases")
    print(f"baseline (the full case's own items in random order): reaches {fig['baseline_reached']}/{fig['cases']}, "
          f"mean {fig['baseline_mean_asked_when_reached']} items when it does")
    for miss in fig["missed"]:
        print(f"  not reached: {miss['id']} (top {miss['top']}, {miss['asked']} asked)")


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(BUNDLED_CASES))
    parser.add_argument("--kb", default=None, help="KB folder (default: the bundled one)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    cases, _ = read_library(args.cases)
    cases = [c for c in cases if c.expect.roots_any and not set(c.expect.triage) & {"emergency", "urgent"}]
    cases = cases[:args.limit] if args.limit else cases
    began = time.perf_counter()
    _use_kb(args.kb)
    with Pool(args.jobs, initializer=_use_kb, initargs=(args.kb,)) as pool:
        rows = pool.map(interview_case, cases, chunksize=4)
    fig = _figures(rows, len(_consultant().kb.assessments), time.perf_counter() - began)
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        _print(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
