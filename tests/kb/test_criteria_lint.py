"""`kb lint` on criteria: each broken criterion gets one message naming what is wrong and where."""

from __future__ import annotations

import pytest

from compensa.kb import lint_kb, load_kb
from tests.kb.minimal import write_kb

GOOD = """\
criteria:
  - id: pair
    label: Valgus with a weak glute
    all_of:
      - {finding: valgus}
    need: 1
    of:
      - {test: glute_test}
      - {history: runner}
    same_side: true
    supports:
      - {node: knee_pain, strength: 0.3, evidence: M}
    mechanism: The two together point at the hip.
    source: src
"""

# (id, old text of GOOD, new text, expected message fragment)
BROKEN = [
    ("unknown-test", "{test: glute_test}", "{test: glute_tst}", "unknown test 'glute_tst' (did you mean 'glute_test'?)"),
    ("finding-as-test", "{test: glute_test}", "{test: valgus}", "unknown test 'valgus'"),
    ("two-kinds", "{test: glute_test}", "{test: glute_test, history: runner}", "a member names exactly one of"),
    ("no-kind", "{history: runner}", "{result: positive}", "a member names exactly one of"),
    ("result-on-finding", "{finding: valgus}", "{finding: valgus, result: positive}", "'result' belongs to a test member"),
    ("present-false-on-history", "{history: runner}", "{history: runner, present: false}",
     "'present: false' belongs to a finding member (use none_of)"),
    ("need-too-high", "    need: 1\n", "    need: 3\n", "need 3 of 2 members can never be met"),
    ("need-zero", "    need: 1\n", "    need: 0\n", "expected a whole number of at least 1"),
    ("concludes-nothing", "    supports:\n      - {node: knee_pain, strength: 0.3, evidence: M}\n", "",
     "concludes nothing (give it supports, alarm or advice)"),
    ("unknown-node", "{node: knee_pain,", "{node: knee_pian,", "unknown node 'knee_pian'"),
    ("grade-cap", "strength: 0.3, evidence: M}", "strength: 0.8, evidence: M}", "above what evidence M allows"),
    ("no-mechanism", "    mechanism: The two together point at the hip.\n", "", "missing required field 'mechanism'"),
    ("unknown-source", "    source: src\n", "    source: srx\n", "unknown source 'srx'"),
    ("bad-alarm", "    same_side: true\n", "    same_side: true\n    alarm: review\n", "must be one of emergency, urgent"),
    ("same-side-unsided", "      - {finding: valgus}\n    need: 1\n    of:\n      - {test: glute_test}\n",
     "      - {history: runner}\n    need: 1\n    of:\n", "same_side needs at least one sided member"),
    ("id-taken", "  - id: pair\n", "  - id: runner\n", "id already used by another KB entry"),
    ("age-range", "{history: runner}", "{age_at_least: 60, age_below: 40}", "age_below must be above age_at_least"),
    ("unknown-onset", "{history: runner}", "{onset: sudden}", "unknown history item (onset) 'sudden_onset'"),
]


def _lint(tmp_path, text: str) -> list[str]:
    folder = write_kb(tmp_path, extra={"criteria.yaml": text})
    return [_from_file(str(p)) for p in lint_kb(folder)]


def _from_file(message: str) -> str:
    """The message from its file name on (the temporary folder left out)."""
    names = [message.find(f"{n}.yaml:") for n in ("criteria", "more", "assessments")]
    found = [i for i in names if i >= 0]
    return message[min(found):] if found else message


def test_the_good_criterion_lints_clean_and_loads(tmp_path):
    assert _lint(tmp_path, GOOD) == []
    criterion = load_kb(tmp_path).criteria["pair"]
    assert criterion.need == 1 and [m.id for m in criterion.required] == ["valgus"]
    assert criterion.members[0].describe(load_kb(tmp_path)) == "glute test positive"


@pytest.mark.parametrize("old,new,expected", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_criterion_is_named(tmp_path, old, new, expected):
    assert old in GOOD
    messages = _lint(tmp_path, GOOD.replace(old, new, 1))
    assert any(expected in m and m.startswith("criteria.yaml:") for m in messages), messages


def test_too_many_joined_rules_are_refused(tmp_path):
    tests = "".join(f"  - id: t{i}\n    label: T{i}\n    kind: test\n    region: knee\n    how: x.\n    reading: y.\n"
                    f"    source: src\n    on_positive:\n      - {{node: knee_pain, strength: 0.1, evidence: L}}\n"
                    for i in range(10))
    members = "".join(f"      - {{test: t{i}}}\n" for i in range(10))
    text = ("assessments:\n" + tests + "criteria:\n  - id: big\n    label: Big\n    need: 5\n    of:\n" + members
            + "    advice: Too big.\n    mechanism: m.\n    source: src\n")
    messages = _lint(tmp_path, text)
    assert any("5 of 10 would compile to 252 joined rules (at most 64)" in m for m in messages), messages
