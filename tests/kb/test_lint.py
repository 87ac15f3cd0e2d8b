"""Every lint rule, each shown by one broken snippet with its exact message and position."""

from __future__ import annotations

import pytest

from compensa.errors import KBError
from compensa.kb import lint_kb, load_kb
from tests.kb.minimal import write_kb

# (id, file, old, new, expected "file:line:col: message" without the folder prefix)
CASES = [
    ("yaml-syntax", "links.yaml", "    strength: 0.6\n", "    strength: [0.6\n",
     "links.yaml:5:13: YAML syntax error: did not find expected ',' or ']'"),
    ("duplicate-key", "roots.yaml", "    evidence: M\n", "    evidence: M\n    evidence: H\n",
     "roots.yaml:9:5: duplicate key 'evidence' (first at line 8); YAML would keep only the last"),
    ("unknown-key", "muscles.yaml", "    tendency: tight\n", "    tendancy: tight\n",
     "muscles.yaml:15:5: unknown key 'tendancy' in muscle 'tfl' (did you mean 'tendency'?)"),
    ("wrong-type", "roots.yaml", "    member_strength: 0.5\n", "    member_strength: high\n",
     "roots.yaml:7:5: root 'hip_weakness': field 'member_strength' expected a number, got text"),
    ("yaml-boolean", "muscles.yaml", "    label: TFL\n", "    label: no\n",
     "muscles.yaml:11:5: muscle 'tfl': field 'label' expected text, got true/false false "
     "(quote it: YAML reads yes/no/on/off as true/false)"),
    ("missing-field", "dysfunctions.yaml", "    summary: Knee caves in.\n", "",
     "dysfunctions.yaml:2:5: dysfunction 'valgus' is missing required field 'summary'"),
    ("duplicate-id", "pain_sites.yaml", "  - id: hip_site\n", "  - id: knee_site\n",
     "pain_sites.yaml:5:5: duplicate id 'knee_site': already used by a pain site at "),
    ("id-not-snake-case", "history.yaml", "  - id: runner\n", "  - id: Runner\n",
     "history.yaml:2:5: history item 'Runner': field 'id' id 'Runner' is not snake_case"),
    ("dangling-reference", "roots.yaml", "    weak: [glute]\n", "    weak: [glutes]\n",
     "roots.yaml:6:5: root 'hip_weakness': unknown muscle 'glutes' (did you mean 'glute'?)"),
    ("link-without-mechanism", "links.yaml", "    mechanism: A caving knee loads the joint.\n", "",
     "links.yaml:8:5: link is missing required field 'mechanism'"),
    ("link-without-source", "links.yaml", "    mechanism: Weak glute lets the knee cave in.\n    source: src\n",
     "    mechanism: Weak glute lets the knee cave in.\n",
     "links.yaml:2:5: link is missing required field 'source'"),
    ("link-unknown-source", "links.yaml", "    mechanism: A caving knee loads the joint.\n    source: src\n",
     "    mechanism: A caving knee loads the joint.\n    source: srcc\n",
     "links.yaml:13:5: link valgus -> knee_pain: unknown source 'srcc' (did you mean 'src'?)"),
    ("strength-above-evidence", "links.yaml", "    strength: 0.5\n    evidence: M\n", "    strength: 0.85\n    evidence: M\n",
     "links.yaml:10:5: link valgus -> knee_pain: strength 0.85 is above what evidence M allows (0.7); "
     "weak evidence gets a low number"),
    ("strength-out-of-range", "conditions.yaml", "strength: 0.6", "strength: 1.5",
     "conditions.yaml:8:27: condition 'knee_pain' site 'knee_site': strength 1.5 must be above 0 and at most 1"),
    ("root-against-tendency", "muscles.yaml", "    tendency: tight\n", "    tendency: weak\n",
     "roots.yaml:5:5: root 'hip_weakness': lists 'tfl' as tight, but muscles.yaml says it tends to be weak; "
     "if both occur, set its tendency to 'either' with a comment saying when"),
    ("red-flag-without-level", "red_flags.yaml", "    level: urgent\n", "",
     "red_flags.yaml:2:5: red flag 'fever' is missing required field 'level'"),
    ("red-flag-bad-level", "red_flags.yaml", "    level: urgent\n", "    level: routine\n",
     "red_flags.yaml:6:5: red flag 'fever': field 'level' must be one of emergency, urgent, review, got 'routine'"),
    ("test-supports-nothing", "assessments.yaml",
     "    on_positive:\n      - {muscle: glute, state: weak, strength: 0.6, evidence: M}\n", "",
     "assessments.yaml:12:5: assessment 'glute_test': positive result supports nothing (give on_positive a positive effect)"),
    ("effect-unknown-node", "assessments.yaml", "{node: valgus,", "{node: valgas,",
     "assessments.yaml:11:10: assessment 'valgus' on_present: unknown node 'valgas' (did you mean 'valgus'?)"),
    ("finding-with-test-words", "assessments.yaml", "    on_present:\n      - {node: valgus",
     "    on_positive:\n      - {node: valgus",
     "assessments.yaml:10:5: assessment 'valgus': a finding uses 'on_present', not 'on_positive'"),
    ("root-reaches-no-pain", "links.yaml", "  - from: hip_weakness\n    to: valgus\n", "  - from: valgus\n    to: valgus\n",
     "roots.yaml:2:5: root 'hip_weakness' reaches no pain site: link it to a dysfunction or condition"),
    ("condition-unreached", "links.yaml", "  - from: valgus\n    to: knee_pain\n", "  - from: hip_weakness\n    to: valgus\n",
     "conditions.yaml:2:5: condition 'knee_pain' is not reached from any root: add a link that explains it"),
    ("cycle", "links.yaml", "    source: src\n  - from: valgus\n",
     "    source: src\n  - from: knee_pain\n    to: valgus\n    strength: 0.3\n    evidence: L\n"
     "    mechanism: Loops back.\n    source: src\n  - from: valgus\n",
     "links.yaml:8:5: link knee_pain -> valgus closes a cycle (valgus -> knee_pain -> valgus); "
     "links go from cause to effect only"),
    ("link-to-root", "links.yaml", "    to: knee_pain\n", "    to: hip_weakness\n",
     "links.yaml:9:5: link valgus -> hip_weakness: unknown effect 'hip_weakness' (a root cannot be an effect)"),
    ("missing-exercise", "interventions.yaml", "  - id: stretch_tfl\n    muscle: tfl\n    action: stretch\n",
     "  - id: strengthen_tfl\n    muscle: tfl\n    action: strengthen\n",
     "roots.yaml:5:5: root 'hip_weakness': asks to stretch 'tfl' but interventions.yaml has no stretch for it"),
    ("unknown-section", "history.yaml", "history:\n", "histroy:\n",
     "history.yaml:1:1: unknown section 'histroy' (did you mean 'history'?)"),
    ("avoid-without-caution", "interventions.yaml", "    how: Cross and lean.\n",
     "    how: Cross and lean.\n    avoid_with: [knee_pain]\n",
     "interventions.yaml:13:5: intervention 'stretch_tfl': avoid_with needs a caution sentence"),
    ("avoid-unknown-condition", "interventions.yaml", "    how: Cross and lean.\n",
     "    how: Cross and lean.\n    avoid_with: [knee_pian]\n    caution: Not with knee pain.\n",
     "interventions.yaml:13:5: intervention 'stretch_tfl': unknown condition 'knee_pian' (did you mean 'knee_pain'?)"),
    ("unknown-region", "dysfunctions.yaml", "    region: knee\n", "    region: kne\n",
     "dysfunctions.yaml:4:5: dysfunction 'valgus': unknown region 'kne' (did you mean 'knee'?)"),
]


def test_minimal_kb_is_clean(tmp_path):
    assert lint_kb(write_kb(tmp_path)) == []


@pytest.mark.parametrize(("file", "old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_lint_rule_reports_file_line_and_message(tmp_path, file, old, new, expected):
    folder = write_kb(tmp_path, {file: (old, new)})
    messages = [str(p) for p in lint_kb(folder)]
    prefix = str(folder) + "/"
    assert any(m.startswith(prefix + expected) for m in messages), "\n".join(messages)


def test_load_kb_raises_kb_error_listing_every_problem(tmp_path):
    folder = write_kb(tmp_path, {"roots.yaml": ("weak: [glute]", "weak: [glutes]"),
                                 "links.yaml": ("    source: src\n  - from", "    source: nope\n  - from")})
    with pytest.raises(KBError) as caught:
        load_kb(folder)
    text = str(caught.value)
    assert "unknown muscle 'glutes'" in text and "unknown source 'nope'" in text
    assert caught.value.exit_code == 2


def test_problems_are_sorted_by_file_and_line(tmp_path):
    folder = write_kb(tmp_path, {"roots.yaml": ("weak: [glute]", "weak: [glutes]"),
                                 "links.yaml": ("evidence: H", "evidence: X")})
    where = [p.where for p in lint_kb(folder)]
    assert where == sorted(where, key=lambda w: (w.split(":")[0], int(w.split(":")[1]), int(w.split(":")[2])))


def test_empty_folder_is_a_kb_error_not_a_crash(tmp_path):
    with pytest.raises(KBError, match="no \\*.yaml knowledge-base files"):
        load_kb(tmp_path)


_LOOP = "  - from: {0}\n    to: {1}\n    strength: 0.3\n    evidence: L\n    mechanism: Loops back.\n    source: src\n"


def test_each_closing_link_is_reported_once_read_from_the_root_side(tmp_path):
    back = _LOOP.format("knee_pain", "valgus") + _LOOP.format("knee_pain", "hip_weakness")
    folder = write_kb(tmp_path, {"links.yaml": ("    source: src\n  - from: valgus\n",
                                                "    source: src\n" + back + "  - from: valgus\n")})
    cycles = sorted(p.message for p in lint_kb(folder) if "closes a cycle" in p.message)
    assert cycles == [
        "link knee_pain -> hip_weakness closes a cycle (hip_weakness -> valgus -> knee_pain -> hip_weakness); "
        "links go from cause to effect only",
        "link knee_pain -> valgus closes a cycle (valgus -> knee_pain -> valgus); links go from cause to effect only",
    ]
