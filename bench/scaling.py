"""Scaling with KB size: generated KBs of a given number of chain links (see :mod:`bench.synthetic`).

Per size: KB load (YAML read + checks), compile, consult median, the engine run alone and the floor
on the same evidence (their support sets compared), supports per case, engine reset (a run on no
evidence: reset + an empty agenda) and next-assessment scoring (the report's
``plan.next_assessments``). A consult that costs in proportion to what the case touches keeps
``consult / supports`` flat as the KB grows; reset and next-assessment scoring should not grow at all.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.floor import Floor
from bench.synthetic import typical_case, write_synthetic_kb
from compensa.engine import Consultant
from compensa.engine.consult import freeze_long_lived
from compensa.engine.rules import compile_joins, compile_rules
from compensa.kb import read_kb

__all__ = ["scaling_row"]


def _median_ms(fn: Callable, args_list: list[tuple], rounds: int) -> float:
    for args in args_list:  # warm up
        fn(*args)
    samples = []
    for _ in range(rounds):
        for args in args_list:
            start = time.perf_counter()
            fn(*args)
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _load(links: int):
    with tempfile.TemporaryDirectory(prefix="compensa-synthetic-") as tmp:
        folder = write_synthetic_kb(Path(tmp), links)
        start = time.perf_counter()
        read = read_kb(folder)
        load_ms = (time.perf_counter() - start) * 1000
    if read.problems or read.kb is None:
        raise ValueError(f"synthetic KB of {links} links: {read.problems[:3]}")
    return read.kb, load_ms


def _next_assessments(consultant: Consultant):
    """A callable timing the report's next-assessment scoring on one case, or None if the layout changed."""
    try:
        from compensa.engine.plan import next_assessments
        from compensa.engine.reasoning import Reasoning
    except ImportError:
        return None
    kb = consultant.kb

    def prepare(raw: dict) -> tuple:
        case = consultant.parse(raw)
        return kb, Reasoning(kb, consultant.compiled.run(case.facts())), case

    return next_assessments, prepare


def _agreement(consultant: Consultant, floor: Floor, evidence: list[list[dict]]) -> bool:
    for items in evidence:
        run = consultant.compiled.run(items)
        ours = {(s.conclusion, s.premise, s.rule, s.via, s.strength) for s in run.supports}
        theirs, halted = floor.run(items)
        if ours != theirs or run.halted != halted:
            return False
    return True


def scaling_row(links: int, rounds: int, cases: int = 5) -> dict:
    """The scaling figures of one generated KB of ``links`` chain links.

    Timed as a service runs: the heap frozen once the KB is compiled (else the collector's walks over
    the KB, longer the bigger it is, would be counted as consultation time), unfrozen afterwards."""
    kb, load_ms = _load(links)
    start = time.perf_counter()
    consultant = Consultant(kb)
    compile_ms = (time.perf_counter() - start) * 1000
    floor = Floor(compile_rules(kb), compile_joins(kb))
    freeze_long_lived()
    try:
        return _timed_row(kb, links, load_ms, compile_ms, consultant, floor, rounds, cases)
    finally:
        gc.unfreeze()


def _timed_row(kb, links: int, load_ms: float, compile_ms: float, consultant: Consultant, floor: Floor,
               rounds: int, cases: int) -> dict:
    raws = [typical_case(kb, seed) for seed in range(cases)]
    evidence = [consultant.parse(raw).facts() for raw in raws]
    row = {"links": links, "rules": len(compile_rules(kb)) + len(compile_joins(kb)), "load_ms": load_ms,
           "compile_ms": compile_ms,
           "consult_ms": _median_ms(consultant.consult, [(r,) for r in raws], rounds),
           "run_ms": _median_ms(consultant.compiled.run, [(e,) for e in evidence], rounds),
           "floor_ms": _median_ms(floor.run, [(e,) for e in evidence], rounds),
           "supports": statistics.median(len(floor.run(e)[0]) for e in evidence),
           "reset_ms": _median_ms(consultant.compiled.run, [([],)], rounds * cases),
           "agree": _agreement(consultant, floor, evidence), "next_ms": None}
    found = _next_assessments(consultant)
    if found is not None:
        scorer, prepare = found
        row["next_ms"] = _median_ms(scorer, [prepare(r) for r in raws], rounds)
    return row
