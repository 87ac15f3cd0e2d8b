"""Benchmark anchors: the same compiled rules and the same evidence, run four ways, agreeing on the supports.

* **compensa** — :class:`~compensa.engine.inference.CompiledKB` with its dispatch Rete matcher
  (what a consultation runs);
* **experta** — the same ``CompiledKB`` on experta's stock ``ReteMatcher`` (plain experta, same rules);
* **CLIPS** — the rule specs encoded as CLIPS defrules (:mod:`bench.clips_encoding`), via clipspy;
* **floor** — the rule specs as a pure-Python closure with dict indexes (:mod:`bench.floor`): what
  the rules cost with no engine at all, the lower bound a Python engine can approach.

A consultation-equivalent run is reset + assert the case's evidence + run to the end, and yields the
set of supports ``(conclusion, premise, rule, via, strength)`` and whether the emergency stop halted
it. The four must give the same set on every case. The semantics make that well defined although
firing order within a salience level is arbitrary: red-flag screening (salience 100) only reads case
evidence, so every alarm exists before any salience-0 rule could fire; the plan rules' NOT Alarm
guard therefore sees the final alarms, and the emergency stop (salience 90) halts after the whole
screening closure and before any chain rule, whichever emergency alarm it fires on (it records no
support itself).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.clips_encoding import ClipsRunner, clips_available
from bench.floor import Floor
from compensa.engine import Consultant
from compensa.engine.inference import CompiledKB
from compensa.engine.rules import compile_joins, compile_rules
from compensa.kb import KnowledgeBase

__all__ = ["TYPICAL", "Anchors", "BenchCase", "Outcome", "bench_cases", "consult_stages", "disagreements",
           "library_cases", "percentile", "time_engines"]

#: Typical consultations on the bundled KB: 5-10 pieces of evidence each.
TYPICAL = [
    {"pain": [{"site": "lateral_knee", "side": "right"}, {"site": "lateral_thigh", "side": "right"}],
     "findings": [{"id": "knee_valgus", "side": "right"}, "anterior_pelvic_tilt"],
     "tests": ["ober_test:positive:right", "trendelenburg:positive:right", "thomas_test:negative:right"],
     "red_flags": [{"id": "saddle_anaesthesia", "present": False}], "history": ["runner"]},
    {"pain": ["lower_back", "buttock:left"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
     "tests": ["thomas_test:positive", "abdominal_strength:positive", "hip_extensor_strength:positive",
               "straight_leg_raise:negative:left"], "history": ["prolonged_sitting"]},
    {"pain": ["neck", "head", "shoulder:right"], "findings": ["forward_head", "rounded_shoulders", "thoracic_kyphosis"],
     "tests": ["deep_neck_flexor_endurance:positive", "pectoralis_minor_length:positive:right"],
     "history": ["prolonged_sitting"]},
    {"pain": ["heel:left", "foot_arch:left"],
     "findings": [{"id": "overpronation", "side": "left"}, {"id": "feet_turned_out", "side": "left"}],
     "tests": ["navicular_drop:positive:left", "knee_to_wall_test:positive:left"],
     "history": ["runner", "recent_training_increase"]},
    {"pain": ["sacroiliac:right", "buttock:right"], "findings": [{"id": "pelvic_rotation", "side": "right"}],
     "tests": ["sij_provocation:positive:right", "faber:positive:right", "hip_extensor_strength:positive:right"],
     "history": ["habitual_leg_crossing"]},
]


@dataclass(frozen=True)
class Outcome:
    """What one engine made of one case: its support set and whether it halted."""

    supports: frozenset
    halted: bool


@dataclass
class BenchCase:
    """One case as every engine gets it: the raw case (for consult) and its evidence dicts (for runs)."""

    name: str
    raw: dict
    evidence: list[dict]


def library_cases() -> list[tuple[str, dict]]:
    """Every case of the bundled library (``kb/cases/*.yaml``), as ``(id, case)``."""
    from compensa.engine.evaluate import BUNDLED_CASES, read_library

    cases, _ = read_library(BUNDLED_CASES)
    return [(c.id, c.case) for c in cases]


def bench_cases(consultant: Consultant, library: bool = True) -> list[BenchCase]:
    """The typical cases plus (``library``) the whole case library, parsed once by ``consultant``."""
    named = [(f"typical_{i + 1}", raw) for i, raw in enumerate(TYPICAL)]
    if library:
        named += library_cases()
    return [BenchCase(name, raw, consultant.parse(raw).facts()) for name, raw in named]


def _support_set(run) -> frozenset:
    return frozenset((s.conclusion, s.premise, s.rule, s.via, s.strength) for s in run.supports)


@dataclass
class Anchors:
    """The four engines (CLIPS when clipspy is installed) over one KB's compiled specs, and their build times."""

    kb: KnowledgeBase
    rules: tuple
    joins: tuple
    consultant: Consultant
    experta: CompiledKB
    floor: Floor
    clips: ClipsRunner | None
    clips_missing: str = ""
    build_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, kb: KnowledgeBase, consultant: Consultant | None = None, with_clips: bool = True) -> Anchors:
        """Compile ``kb`` for every engine (``consultant``: reuse an existing compensa build)."""
        timer: dict[str, float] = {}
        consultant = consultant or _timed(timer, "compensa", lambda: Consultant(kb))
        experta = _timed(timer, "experta", lambda: CompiledKB(kb, matcher=_stock_matcher()))
        rules, joins = compile_rules(kb), compile_joins(kb)
        floor = _timed(timer, "floor", lambda: Floor(rules, joins))
        clips, missing = None, ""
        if not with_clips:
            missing = "not asked for"
        elif not clips_available():
            missing = "clipspy is not installed (uv sync --extra bench, or make bench)"
        else:
            clips = _timed(timer, "CLIPS", lambda: ClipsRunner(rules, joins))
        return cls(kb, rules, joins, consultant, experta, floor, clips, missing, timer)

    def outcomes(self, evidence: list[dict]) -> dict[str, Outcome]:
        """Every engine's outcome on one case's evidence."""
        ours, plain = self.consultant.compiled.run(evidence), self.experta.run(evidence)
        floor, floor_halted = self.floor.run(evidence)
        out = {"compensa": Outcome(_support_set(ours), ours.halted),
               "experta": Outcome(_support_set(plain), plain.halted),
               "floor": Outcome(frozenset(floor), floor_halted)}
        if self.clips is not None:
            supports, halted = self.clips.run(evidence)
            out["CLIPS"] = Outcome(frozenset(supports), halted)
        return out

    def timed_runs(self) -> dict[str, Callable[[BenchCase], object]]:
        """The callables the benchmark times, by row name (each one consultation-equivalent)."""
        runs: dict[str, Callable[[BenchCase], object]] = {
            "compensa consult (parse+run+report)": lambda c: self.consultant.consult(c.raw),
            "compensa run (dispatch Rete)": lambda c: self.consultant.compiled.run(c.evidence),
            "plain experta run (stock Rete)": lambda c: self.experta.run(c.evidence),
        }
        if self.clips is not None:
            runs["CLIPS run (clipspy)"] = lambda c: self.clips.run_only(c.evidence)
            runs["CLIPS run + read supports"] = lambda c: self.clips.run(c.evidence)
        runs["pure-Python floor"] = lambda c: self.floor.run(c.evidence)
        return runs

    def close(self) -> None:
        """Free the CLIPS environment."""
        if self.clips is not None:
            self.clips.close()


def _stock_matcher() -> type:
    """experta's own, unmodified ReteMatcher (compensa.engine.inference has made experta importable)."""
    from experta.matchers.rete import ReteMatcher

    return ReteMatcher


def _timed(timer: dict[str, float], name: str, make: Callable):
    start = time.perf_counter()
    made = make()
    timer[name] = (time.perf_counter() - start) * 1000
    return made


def _describe(name: str, reference: Outcome, other: Outcome) -> str:
    missing, extra = sorted(reference.supports - other.supports), sorted(other.supports - reference.supports)
    parts = [f"{len(missing)} missing" + (f" (e.g. {missing[0]})" if missing else ""),
             f"{len(extra)} extra" + (f" (e.g. {extra[0]})" if extra else "")]
    if reference.halted != other.halted:
        parts.append(f"halted {other.halted} vs {reference.halted}")
    return f"{name}: " + ", ".join(parts)


def disagreements(anchors: Anchors, cases: list[BenchCase]) -> list[str]:
    """Every case on which an engine's support set (or halt) differs from compensa's; empty when all agree."""
    found = []
    for case in cases:
        outcomes = anchors.outcomes(case.evidence)
        reference = outcomes["compensa"]
        for name, outcome in outcomes.items():
            if outcome != reference:
                found.append(f"{case.name}: {_describe(name, reference, outcome)}")
    return found


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _pass(runs: dict[str, Callable], cases: list[BenchCase], samples: dict[str, list[float]] | None) -> None:
    """Every case through every engine, engine order rotating from case to case; times into ``samples``."""
    names = list(runs)
    for i, case in enumerate(cases):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            runs[name](case)
            if samples is not None:
                samples[name].append((time.perf_counter() - start) * 1000)


def time_engines(runs: dict[str, Callable], cases: list[BenchCase], budget_s: float,
                 max_passes: int = 20) -> dict[str, dict]:
    """Time every run on every case, interleaved case by case so that load from elsewhere hits all alike.

    One untimed warm-up pass (caches, first-use imports), then passes while ``budget_s`` lasts (at
    least one, at most ``max_passes``): every engine gets the same cases the same number of times.
    Returns per row: median and p99 ms over all (case, pass) samples, and their number.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    _pass(runs, cases, None)
    start = time.perf_counter()
    for done in range(max_passes):
        if done and time.perf_counter() - start > budget_s:
            break
        _pass(runs, cases, samples)
    return {name: {"median_ms": statistics.median(v), "p99_ms": percentile(v, 99), "n": len(v)}
            for name, v in samples.items()}

def _clock(into: list[float], fn: Callable, *args):
    start = time.perf_counter()
    result = fn(*args)
    into.append((time.perf_counter() - start) * 1000)
    return result


def consult_stages(consultant: Consultant, cases: list[BenchCase], rounds: int) -> dict[str, float] | None:
    """Median ms of each stage of a consultation (parse, run, certainty reasoning, report) over ``cases``.

    None when the engine's layout changed (the stages are read from compensa.engine.consult/reasoning).
    """
    try:
        from compensa.engine.consult import build_report
        from compensa.engine.reasoning import Reasoning
    except ImportError:
        return None
    kb = consultant.kb
    samples: dict[str, list[float]] = {"parse": [], "run": [], "reasoning": [], "report": []}
    for _ in range(rounds + 1):
        for case in cases:
            parsed = _clock(samples["parse"], consultant.parse, case.raw)
            run = _clock(samples["run"], consultant.compiled.run, case.evidence)
            reasoning = _clock(samples["reasoning"], Reasoning, kb, run)
            _clock(samples["report"], build_report, kb, parsed, reasoning)
    return {name: statistics.median(v[len(cases):]) for name, v in samples.items()}  # round 1 warmed up
