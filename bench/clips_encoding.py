"""The compiled rule specs encoded as CLIPS constructs, run through clipspy (the ``bench`` extra).

Every fact type of :mod:`compensa.facts` becomes a ``deftemplate`` with STRING slots in key order;
every :class:`~compensa.engine.rules.RuleSpec` and :class:`~compensa.engine.rules.JoinSpec` a
``defrule`` with the same salience. A rule's right-hand side asserts what the spec declares and one
``support`` fact per emit, whose one slot is the support's fields joined with ``|``::

    (support (line "Belief|it_band_syndrome|right|Evidence|pain|lateral_knee|right|present|pain:lateral_knee|site:it_band_syndrome@lateral_knee|0.6"))

CLIPS keeps one fact per distinct content, so the ``support`` facts are the support *set*; the
deffunction ``compensa-supports`` hands them to Python as one string. (Reading them as clipspy
``Fact`` objects instead costs more, and leaves every later run about 15x slower: clipspy keeps
those facts alive.) The NOT Alarm guard is ``(not (Alarm))``; the emergency stop asserts
``(halted)`` and calls ``(halt)``, which ends the run after that rule, as ``engine.halt()`` does in
experta. A join's OR of values is a ``|`` constraint, its age test the deffunction
``compensa-in-range`` (the engine's test: digits only, ``at_least <= n < below``, -1 meaning no
bound), its excluded clauses ``(not (Evidence ...))``, and its shared side one variable ``?side``.
"""

from __future__ import annotations

from compensa.engine.rules import Clause, Emit, JoinSpec, RuleSpec
from compensa.facts import FACT_TYPES

__all__ = ["ClipsRunner", "clips_available", "constructs"]

IN_RANGE = """(deffunction MAIN::compensa-in-range (?v ?lo ?hi)
  (if (or (not (stringp ?v)) (eq ?v "")) then (return FALSE))
  (loop-for-count (?i 1 (str-length ?v)) do
    (if (not (str-index (sub-string ?i ?i ?v) "0123456789")) then (return FALSE)))
  (bind ?n (string-to-field ?v))
  (and (or (< ?lo 0) (>= ?n ?lo)) (or (< ?hi 0) (< ?n ?hi))))"""

SUPPORT = "(deftemplate MAIN::support (slot line (type STRING)))"

READ = """(deffunction MAIN::compensa-supports ()
  (bind ?out "")
  (do-for-all-facts ((?s support)) TRUE (bind ?out (str-cat ?out ?s:line "~")))
  ?out)"""

#: Separators of the support lines (no KB id, rule id, via or case value may contain them).
FIELD, LINE = "|", "~"


def clips_available() -> bool:
    """Whether clipspy is installed (``uv sync --extra bench``)."""
    try:
        import clips  # noqa: F401
    except ImportError:
        return False
    return True


def _s(value: object) -> str:
    """A CLIPS string literal."""
    if not isinstance(value, str) or FIELD in value or LINE in value:
        raise ValueError(f"CLIPS encoding expects text without {FIELD!r} or {LINE!r}, got {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _templates() -> list[str]:
    out = []
    for ftype in FACT_TYPES.values():
        if ftype.name == "Target":
            continue  # recorded as a conclusion only, never asserted (as in the engine)
        slots = " ".join(f"(slot {f} (type STRING))" for f in ftype.fields)
        out.append(f"(deftemplate MAIN::{ftype.name} {slots})")
    return [*out, SUPPORT, "(deftemplate MAIN::halted)", IN_RANGE, READ]


def _conclusion(emit: Emit, side: str) -> tuple[str, list[str]]:
    """The conclusion's slot values (CLIPS expressions, key order) and its assert, if it is declared."""
    fields = FACT_TYPES[emit.fact].fields
    values = dict(emit.values)
    exprs = [(side if emit.sided else '""') if f == "side" else _s(values[f]) for f in fields]
    slots = " ".join(f"({f} {e})" for f, e in zip(fields, exprs))
    return f"(assert ({emit.fact} {slots}))" if emit.declared else "", exprs


def _support(ctype: str, cexprs: list[str], pexprs: list[str], rule: str, via: str, strength: float) -> str:
    parts = [_s(ctype), *cexprs, *pexprs, _s(rule), _s(via), _s(repr(float(strength)))]
    joined = f' "{FIELD}" '.join(parts)
    return f"(assert (support (line (str-cat {joined}))))"


def _rule(name: str, spec: RuleSpec) -> str:
    """One RuleSpec: its pattern binds every field (constants where the spec matches), then its emits."""
    fields = FACT_TYPES[spec.fact].fields
    match = dict(spec.match)
    exprs = [_s(match[f]) if f in match else f"?p_{f}" for f in fields]
    pattern = " ".join(f"({f} {e})" for f, e in zip(fields, exprs))
    side = exprs[fields.index("side")] if "side" in fields else '""'
    lhs = [f"({spec.fact} {pattern})"] + (["(not (Alarm))"] if spec.unless_alarm else [])
    rhs = []
    for emit in spec.emits:
        assertion, cexprs = _conclusion(emit, side)
        rhs += [assertion, _support(emit.fact, cexprs, [_s(spec.fact), *exprs], spec.id, emit.via,
                                    emit.strength)]
    if spec.halts:
        rhs += ["(assert (halted))", "(halt)"]
    return _defrule(name, spec.salience, lhs, rhs)


def _defrule(name: str, salience: int, lhs: list[str], rhs: list[str]) -> str:
    body = "\n  ".join(lhs)
    actions = "\n  ".join(a for a in rhs if a)
    return f"(defrule MAIN::{name} (declare (salience {salience}))\n  {body}\n  =>\n  {actions})"


def _value_test(clause: Clause, var: str) -> str:
    if clause.at_least >= 0 or clause.below >= 0:
        return f"{var}&:(compensa-in-range {var} {clause.at_least} {clause.below})"
    return f"{var}&" + "|".join(_s(v) for v in clause.values)


def _clause_pattern(clause: Clause, i: int, side: str) -> str:
    match = dict(clause.match)
    return (f"(Evidence (kind {_s(match['kind'])}) (id {_s(match['id'])}) (side {side}) "
            f"(value {_value_test(clause, f'?v{i}')}))")


def _join(name: str, spec: JoinSpec) -> str:
    """One JoinSpec: a pattern per clause (bound sides share ?side), NOT per excluded clause."""
    sides = ["?side" if c.bind_side else f"?s{i}" for i, c in enumerate(spec.clauses)]
    lhs = [_clause_pattern(c, i, s) for i, (c, s) in enumerate(zip(spec.clauses, sides))]
    lhs += [f"(not {_clause_pattern(c, len(lhs) + j, f'?x{j}')})" for j, c in enumerate(spec.excluded)]
    side = "?side" if spec.sided and "?side" in sides else '""'
    rhs = [f"(assert (Criterion (id {_s(spec.criterion)}) (side {side})))"]
    for i, clause in enumerate(spec.clauses):
        match = dict(clause.match)
        premise = [_s("Evidence"), _s(match["kind"]), _s(match["id"]), sides[i], f"?v{i}"]
        rhs.append(_support("Criterion", [_s(spec.criterion), side], premise, spec.id,
                            f"criterion:{spec.criterion}", 1.0))
    return _defrule(name, spec.salience, lhs, rhs)


def constructs(rules: tuple[RuleSpec, ...], joins: tuple[JoinSpec, ...]) -> list[str]:
    """Every CLIPS construct of the compiled KB, in build order (templates first)."""
    return (_templates() + [_rule(f"r{i:05d}", spec) for i, spec in enumerate(rules)]
            + [_join(f"j{i:05d}", spec) for i, spec in enumerate(joins)])


def _parse_line(line: str) -> tuple:
    """One support line back as ``(conclusion, premise, rule, via, strength)`` (fact keys in key order)."""
    parts = line.split(FIELD)
    end = 1 + len(FACT_TYPES[parts[0]].fields)
    conclusion = tuple(parts[:end])
    stop = end + 1 + len(FACT_TYPES[parts[end]].fields)
    rule, via, strength = parts[stop:]
    return conclusion, tuple(parts[end:stop]), rule, via, float(strength)


class ClipsRunner:
    """A CLIPS environment holding the encoded KB; one consultation = reset + assert evidence + run."""

    def __init__(self, rules: tuple[RuleSpec, ...], joins: tuple[JoinSpec, ...]):
        """Build the environment (raises ImportError without clipspy)."""
        import clips

        self.env = clips.Environment()
        for construct in constructs(rules, joins):
            self.env.build(construct)
        self.evidence = self.env.find_template("Evidence")

    def run_only(self, evidence: list[dict]) -> int:
        """Reset, assert the evidence and run to the end (or the halt); the number of rules fired."""
        self.env.reset()
        assert_fact = self.evidence.assert_fact
        for item in evidence:
            assert_fact(**item)
        return self.env.run()

    def supports(self) -> set[tuple]:
        """The support set of the last run, as ``(conclusion, premise, rule, via, strength)`` tuples."""
        text = str(self.env.eval("(compensa-supports)"))
        return {_parse_line(line) for line in text.split(LINE) if line}

    def close(self) -> None:
        """Clear the environment (CLIPS then frees it quietly at exit)."""
        self.env.clear()

    def run(self, evidence: list[dict]) -> tuple[set[tuple], bool]:
        """One consultation: its supports and whether the emergency stop halted it."""
        self.run_only(evidence)
        return self.supports(), self.env.eval("(any-factp ((?h halted)) TRUE)") == "TRUE"
