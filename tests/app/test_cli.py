"""The command line: exit codes, messages without tracebacks, and the documented commands."""

from __future__ import annotations

import json
import shutil

import pytest

from compensa.app.cli import main
from compensa.visualize import dot_available


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_consult_text_shows_triage_roots_targets_and_disclaimer(capsys):
    code, out, _ = run(capsys, "consult", "--pain", "lateral_knee:right", "--test", "trendelenburg:positive:right",
                       "--test", "ober_test:positive:right")
    assert code == 0
    assert out.index("TRIAGE") < out.index("LIKELY ROOT CAUSES") < out.index("TARGETS") < out.index("decision support")
    assert "Lateral hip weakness" in out and "away from the pain" in out


def test_consult_json_is_the_contract(capsys, tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"]}))
    code, out, _ = run(capsys, "consult", str(case), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["kb_version"].startswith("compensa ") and data["root_causes"]


def test_bad_case_exits_2_with_field_and_suggestion_and_no_traceback(capsys):
    code, out, err = run(capsys, "consult", "--pain", "lateral_kne", "--strict")
    assert code == 2 and out == ""
    assert "pain[0].site: unknown pain site 'lateral_kne' (did you mean 'lateral_knee'" in err
    assert "Traceback" not in err


def test_missing_case_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "consult", str(tmp_path / "nope.yaml"))
    assert code == 2 and "cannot read case file" in err


def test_no_case_is_a_usage_error(capsys):
    code, _, err = run(capsys, "consult")
    assert code == 2 and "give a CASE file" in err


def test_unknown_option_is_a_usage_error(capsys):
    code, _, err = run(capsys, "consult", "--painn", "x")
    assert code == 2 and "No such option" in err


def test_kb_lint_clean_and_broken(capsys, tmp_path):
    code, out, _ = run(capsys, "kb", "lint")
    assert code == 0 and "clean" in out
    from tests.kb.minimal import write_kb

    folder = write_kb(tmp_path / "kb", {"roots.yaml": ("weak: [glute]", "weak: [glutes]")})
    code, out, _ = run(capsys, "--kb", str(folder), "kb", "lint")
    assert code == 2 and "roots.yaml:6:5: root 'hip_weakness': unknown muscle 'glutes' (did you mean 'glute'?)" in out


def test_kb_show_text_and_json(capsys):
    code, out, _ = run(capsys, "kb", "show", "it_band_syndrome")
    assert code == 0 and "caused_by:" in out and "lateral_hip_weakness" in out
    code, out, _ = run(capsys, "kb", "show", "it_band_syndrome", "--format", "json")
    assert code == 0 and json.loads(out)["codes"]["icd10"] == "M76.3"
    code, _, err = run(capsys, "kb", "show", "it_band_syndrom")
    assert code == 2 and "did you mean" in err


def test_demo_writes_report_and_graph(capsys, tmp_path):
    target = tmp_path / "demo.svg"
    code, out, err = run(capsys, "demo", "--graph", str(target))
    assert code == 0 and "TARGETS" in out
    if dot_available():
        assert target.read_text().lstrip().startswith(("<?xml", "<svg"))
    else:
        assert (tmp_path / "demo.dot").exists() and "Graphviz" in err


def test_graph_without_dot_falls_back_to_dot_text(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, _, err = run(capsys, "consult", "--pain", "lower_back", "--graph", str(tmp_path / "g.svg"))
    assert code == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")
    assert "apt-get install graphviz" in err and not (tmp_path / "g.svg").exists()


def test_bad_graph_suffix_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "consult", "--pain", "lower_back", "--graph", str(tmp_path / "g.jpg"))
    assert code == 2 and "must end in .svg, .png or .dot" in err


@pytest.mark.skipif(not dot_available(), reason="Graphviz dot not installed")
def test_png_is_rendered(capsys, tmp_path):
    code, _, _ = run(capsys, "demo", "--graph", str(tmp_path / "d.png"))
    assert code == 0 and (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_commands(capsys):
    code, out, _ = run(capsys, "explain", "--pain", "lateral_knee:right", "--test", "trendelenburg:positive:right",
                       "--target", "gluteus_medius")
    assert code == 0 and "WHY GLUTEUS MEDIUS" in out and "chain:" in out
    code, out, _ = run(capsys, "explain", "--pain", "lateral_knee:right", "--why-not", "lower_crossed_syndrome")
    assert code == 0 and "WHY NOT LOWER CROSSED" in out
    code, out, _ = run(capsys, "explain", "--pain", "lower_back", "--format", "json")
    assert code == 0 and json.loads(out)["kind"] == "how"
    code, _, err = run(capsys, "explain", "--pain", "lower_back", "--target", "x", "--why-not", "y")
    assert code == 2 and "not both" in err


def test_kb_graph_whole_root_and_region(capsys, tmp_path):
    for args, name in (([], "all.dot"), (["--root", "lateral_hip_weakness"], "root.dot"), (["--region", "knee"], "knee.dot")):
        code, _, err = run(capsys, "kb", "graph", "-o", str(tmp_path / name), *args)
        assert code == 0 and (tmp_path / name).read_text().startswith("digraph"), err
    assert (tmp_path / "root.dot").stat().st_size < (tmp_path / "all.dot").stat().st_size
    code, _, err = run(capsys, "kb", "graph", "-o", str(tmp_path / "x.dot"), "--region", "kne")
    assert code == 2 and "did you mean 'knee'" in err


def test_a_repeated_case_section_is_refused_not_merged(capsys, tmp_path):
    case = tmp_path / "dup.yaml"
    case.write_text("pain: [lower_back]\nred_flags: [saddle_anaesthesia]\nred_flags: [{id: fever, present: false}]\n")
    code, out, err = run(capsys, "consult", str(case))
    assert code == 2 and out == "" and "dup.yaml:3:1: duplicate key 'red_flags'" in err


@pytest.mark.parametrize("target", ["/proc/nowhere.svg", "", "{tmp}"])
def test_unwritable_graph_path_fails_before_any_output(capsys, tmp_path, target):
    target = target.replace("{tmp}", str(tmp_path))  # a folder
    code, out, err = run(capsys, "consult", "--pain", "neck", "--graph", target)
    assert code == 2 and out == "" and ("graph" in err or "cannot write" in err)


def test_serve_rejects_bad_ports(capsys):
    code, _, err = run(capsys, "serve", "--port", "99999")
    assert code == 2 and "99999" in err


def test_flags_add_to_an_empty_section_of_a_case_file(capsys, tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text("pain:\nfindings: [anterior_pelvic_tilt]\n")
    code, out, _ = run(capsys, "consult", str(case), "--pain", "lower_back", "--format", "json")
    assert code == 0 and json.loads(out)["case"]["pain"] == [{"site": "lower_back"}]
