"""The case library and its scorer: `compensa.engine.evaluate` and `compensa eval`."""

from __future__ import annotations

import json

import pytest
import yaml

from compensa.app.cli import main
from compensa.engine.evaluate import BUNDLED_CASES, evaluate, read_library
from compensa.errors import CaseError

KNEE = {"pain": [{"site": "lateral_knee", "side": "right"}],
        "findings": [{"id": "knee_valgus", "side": "right"}],
        "tests": [{"id": "ober_test", "result": "positive", "side": "right"},
                  {"id": "trendelenburg", "result": "positive", "side": "right"},
                  {"id": "hip_abductor_strength", "result": "positive", "side": "right"}],
        "red_flags": [{"id": "saddle_anaesthesia", "present": False}]}


def _write(folder, name, **fields):
    data = {"id": name, "region": fields.pop("region", "knee"), "sources": fields.pop("sources", ["page_janda_2010"]),
            "case": fields.pop("case", KNEE), "expect": fields.pop("expect")}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture()
def library(tmp_path):
    _write(tmp_path, "good", expect={"triage": ["routine"], "roots_any": ["lateral_hip_weakness"],
                                     "targets": [{"muscle": "gluteus_medius", "action": "strengthen", "side": "right"}]})
    _write(tmp_path, "wrong_root", expect={"triage": ["routine"], "roots_any": ["upper_crossed_syndrome"]})
    _write(tmp_path, "harmful", expect={"triage": ["routine"], "roots_any": ["lateral_hip_weakness"],
                                        "not_targets": [{"muscle": "gluteus_medius", "action": "strengthen"}]})
    _write(tmp_path, "red_flag", case={**KNEE, "red_flags": [{"id": "saddle_anaesthesia", "present": True}]},
           expect={"triage": ["emergency"], "plan": "none"})
    return tmp_path


def test_scores_count_what_a_kb_author_needs(library):
    scores = evaluate(library)
    assert scores.cases == 4
    assert scores.top3 == pytest.approx(2 / 3, abs=1e-3) and scores.top1 == pytest.approx(2 / 3, abs=1e-3)
    assert scores.triage_accuracy == 1.0 and scores.red_flag_recall == 1.0 and scores.harmful_targets == 1
    assert scores.target_recall == 1.0
    failed = {f["case"]: f for f in scores.failures}
    assert set(failed) == {"wrong_root", "harmful"}
    assert "harmful target proposed: strengthen gluteus_medius" in failed["harmful"]["differs"]
    assert "Upper crossed syndrome" in failed["wrong_root"]["explanation"]
    assert not scores.passed and any(b.startswith("harmful_targets 1") for b in scores.below)
    assert scores.by_region["knee"]["cases"] == 4 and scores.calibration["brier"] is not None


def test_a_missed_red_flag_breaks_recall(tmp_path):
    _write(tmp_path, "missed", expect={"triage": ["emergency"]})  # no flag in the case: the engine says routine
    scores = evaluate(tmp_path)
    assert scores.red_flag_recall == 0.0 and "red_flag_recall 0.0 (threshold 1.0)" in scores.below


def test_library_ids_are_checked_against_the_kb(tmp_path):
    _write(tmp_path, "typo", sources=["no_such_source"],
           expect={"triage": ["routine"], "roots_any": ["lateral_hip_weaknes"],
                   "targets": [{"muscle": "glute_med", "action": "strengthen"}]})
    with pytest.raises(CaseError) as caught:
        evaluate(tmp_path)
    messages = [str(p) for p in caught.value.problems]
    assert any("unknown source 'no_such_source'" in m for m in messages)
    assert any("unknown root 'lateral_hip_weaknes'" in m and "lateral_hip_weakness" in m for m in messages)
    assert any("unknown muscle 'glute_med'" in m for m in messages)


def test_malformed_library_files_are_refused_with_where(tmp_path):
    (tmp_path / "bad.yaml").write_text("id: bad\nregion: knee\nsources: [page_janda_2010]\ncase: {}\n"
                                       "expect: {triage: [fine], extra: 1}\n")
    with pytest.raises(CaseError) as caught:
        read_library(tmp_path)
    wheres = {p.where for p in caught.value.problems}
    assert any("expect.triage" in w for w in wheres) and any("expect.extra" in w for w in wheres)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CaseError, match="no case files"):
        read_library(empty)


def test_cli_eval_json_exit_status_and_plot(library, tmp_path, capsys):
    plot = tmp_path / "reliability.png"
    code = main(["eval", str(library), "--format", "json", "--plot", str(plot)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # below thresholds: harmful target and top-3
    assert {"cases", "top1", "top3", "triage_accuracy", "red_flag_recall", "target_recall", "harmful_targets",
            "calibration", "by_region", "failures"} <= set(data)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (library / "wrong_root.yaml").unlink()
    (library / "harmful.yaml").unlink()
    assert main(["eval", str(library)]) == 0
    text = capsys.readouterr().out
    assert "PASSED" in text and "top-3 roots" in text and "knee" in text


def test_the_bundled_library_meets_its_thresholds():
    """The yardstick: a KB edit that breaks library cases fails here (and in CI)."""
    cases, thresholds = read_library(BUNDLED_CASES)
    assert len(cases) >= 80 and thresholds["red_flag_recall"] == 1.0 and thresholds["harmful_targets"] == 0
    scores = evaluate()
    assert scores.passed, "\n".join(scores.below + [f"{f['case']}: {f['differs']}" for f in scores.failures])


def test_kb_lint_checks_the_case_library(tmp_path, capsys):
    _write(tmp_path, "typo", expect={"triage": ["routine"], "roots_any": ["lateral_hip_weaknes"]})
    assert main(["kb", "lint", "--cases", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "typo: expect.roots_any: unknown root 'lateral_hip_weaknes'" in out and "lateral_hip_weakness" in out
    assert main(["kb", "lint"]) == 0  # the bundled KB with the bundled library
