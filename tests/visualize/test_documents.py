"""Handouts and clinician reports: content, safety, the body picture's sides, escaping, valid PDFs."""

from __future__ import annotations

import copy
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from compensa.engine import consult, load_kb
from compensa.visualize import body_figure
from compensa.visualize.documents import PDFUnavailable, clinician_report_html, handout_html, lay_reason, to_pdf

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
DEMO = yaml.safe_load((Path(__file__).resolve().parents[2] / "app" / "samples" / "demo.yaml").read_text())
RED_FLAG_CASE = {
    "name": "Saddle numbness",
    "pain": [{"site": "lower_back"}, {"site": "buttock", "side": "left"}],
    "tests": [{"id": "hip_extensor_strength", "result": "positive", "side": "left"}],
    "red_flags": [{"id": "saddle_anaesthesia", "present": True}],
}
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo():
    return consult(copy.deepcopy(DEMO))


@pytest.fixture(scope="module")
def red_flag():
    return consult(copy.deepcopy(RED_FLAG_CASE))


def _exercises(report):
    return [t for t in report.targets if t.exercise is not None and t.withheld is None]


def _pdf_text(html: str) -> str:
    """The text WeasyPrint lays out on the PDF's pages (its glyphs are subset, so we read the layout)."""
    import weasyprint

    def walk(box):
        if getattr(box, "text", None):
            yield box.text
        for child in getattr(box, "children", None) or ():
            yield from walk(child)

    document = weasyprint.HTML(string=html).render()
    return " ".join(t for page in document.pages for t in walk(page._page_box))


def _marks(svg_html: str) -> list[dict]:
    start = svg_html.index('<svg xmlns="http://www.w3.org/2000/svg" class="body-figure"')
    svg = ET.fromstring(svg_html[start:svg_html.index("</svg>", start) + 6])
    return [e.attrib for e in svg.iter() if "data-kind" in e.attrib]  # pain zones (paths) and muscle dots


# --- KB data --------------------------------------------------------------------------------

def test_every_intervention_has_a_sourced_dose_and_progression():
    kb = load_kb()
    for item in kb.interventions.values():
        assert item.dose and item.progression, item.id
        assert item.dose_source in kb.sources, (item.id, item.dose_source)
        assert item.progression_source in kb.sources, (item.id, item.progression_source)


# --- the handout ----------------------------------------------------------------------------

def test_handout_gives_each_exercise_with_dose_progression_and_why(demo):
    html = handout_html(demo)
    kb = demo.kb
    assert _exercises(demo)
    for target in _exercises(demo):
        assert target.exercise.label in html
        assert target.exercise.dose in html
        assert kb.interventions[target.exercise.id].progression in html
    assert html.count("Why this exercise") == len(_exercises(demo))
    assert "When to stop and seek care" in html
    assert demo.data.disclaimer in html
    assert kb.sources["garber_2011_acsm"].citation in html


def test_lay_reason_follows_the_chain_to_the_pain(demo):
    target = next(t for t in demo.targets if t.muscle == "gluteus_medius")
    text = lay_reason(demo, target)
    assert text.startswith("Your hip muscles (gluteus medius) are doing too little, so the outside of the knee")
    assert "(right side)" in text and "iliotibial band syndrome" in text
    assert "where the chain starts" in text  # not painful: treated away from the pain


def test_safety_net_lists_the_pain_sites_red_flags_with_their_advice(demo):
    html = handout_html(demo)
    flag = demo.kb.red_flags["hot_swollen_joint"]
    assert flag.label in html and flag.advice.split(".")[0] in html
    assert "(triage.not_screened)" not in html  # report field names mean nothing to a patient


def test_red_flag_withholds_the_exercises_and_gives_the_care_advice(red_flag):
    assert red_flag.plan_withheld
    html = handout_html(red_flag)
    assert "No exercises for now" in html
    assert red_flag.triage.advice.split(".")[0] in html
    assert "Your exercises" not in html and "How to progress" not in html
    for item in red_flag.kb.interventions.values():
        assert f"{item.label}</h3>" not in html
    kinds = {m["data-kind"] for m in _marks(html)}
    assert kinds == {"pain"}  # where it hurts, but nothing to stretch or strengthen


# --- the body picture -----------------------------------------------------------------------

def test_body_picture_marks_pain_and_targets_on_the_right_side(demo):
    marks = _marks(handout_html(demo))
    knee = [m for m in marks if m["data-item"] == "lateral_knee"]
    assert knee and all(m["data-kind"] == "pain" and m["data-view"] == "front" for m in knee)
    # front view: the person's right is on the viewer's left of the midline
    assert all(float(m["data-cx"]) < body_figure._FRONT_X for m in knee)
    glute = [m for m in marks if m["data-item"] == "gluteus_medius"]
    assert glute and glute[0]["data-kind"] == "strengthen" and glute[0]["data-view"] == "back"
    assert float(glute[0]["data-cx"]) > body_figure._BACK_X  # back view: the person's right is on the viewer's right
    assert any(m["data-kind"] == "stretch" for m in marks)
    assert {m["data-region"] for m in marks} >= {"knee", "hip"}


def test_body_picture_left_side_and_midline():
    case = {"pain": [{"site": "lateral_knee", "side": "left"}, {"site": "lower_back"}]}
    marks = body_figure.body_marks(consult(case))
    svg = body_figure.body_svg(marks)
    drawn = _marks(svg)
    knee = [m for m in drawn if m["data-item"] == "lateral_knee"]
    assert len(knee) == 1 and float(knee[0]["data-cx"]) > body_figure._FRONT_X
    back = [m for m in drawn if m["data-item"] == "lower_back"]
    assert len(back) == 1 and {m["data-view"] for m in back} == {"back"}  # a midline zone: drawn once
    assert abs(float(back[0]["data-cx"]) - body_figure._BACK_X) < 0.5
    assert svg.count('class="side-label"') == 4


# --- the clinician report -------------------------------------------------------------------

def test_clinician_report_has_every_section(demo):
    html = clinician_report_html(demo)
    for heading in ("Case findings", "Triage", "Likely root imbalances", "Conditions", "Targets",
                    "Next assessments", "Explanation graph"):
        assert f"<h2>{heading}</h2>" in html
    root = demo.root_causes[0]
    assert root.label in html and root.supporting[0].label in html
    assert demo.data.kb_version in html and demo.data.disclaimer in html
    from compensa.visualize import dot_available

    assert ('src="data:image/svg+xml;base64,' in html) == dot_available()


def test_clinician_report_of_a_red_flag_case_withholds_targets(red_flag):
    html = clinician_report_html(red_flag, graph=False)
    assert "Withheld: a red flag is present or unsure." in html
    assert red_flag.kb.label("saddle_anaesthesia") in html


# --- escaping -------------------------------------------------------------------------------

def test_case_text_is_escaped_everywhere():
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case = {**copy.deepcopy(DEMO), "name": evil, "history": ["runner", "<b>bold</b>"]}
    report = consult(case)
    for html in (handout_html(report), clinician_report_html(report, graph=False)):
        assert "<script>" not in html and "<img src=x" not in html and "<b>bold" not in html
        assert "&lt;script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in clinician_report_html(report, graph=False)  # listed as not understood


# --- PDF ------------------------------------------------------------------------------------

def test_pdfs_are_valid_and_hold_the_expected_text(demo, red_flag):
    pytest.importorskip("weasyprint")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    documents = {"handout": handout_html(demo), "clinician-report": clinician_report_html(demo),
                 "handout-red-flag": handout_html(red_flag)}
    for name, html in documents.items():
        pdf = to_pdf(html)
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 2000
        (ARTIFACTS / f"{name}.pdf").write_bytes(pdf)
        (ARTIFACTS / f"{name}.html").write_text(html, encoding="utf-8")
    text = " ".join(_pdf_text(documents["handout"]).split())
    for target in _exercises(demo):
        assert target.exercise.label in text
    assert "decision support and teaching material, not a diagnosis" in text
    withheld = " ".join(_pdf_text(documents["handout-red-flag"]).split())
    assert "No exercises for now" in withheld and "How to progress" not in withheld
    report_text = " ".join(_pdf_text(documents["clinician-report"]).split())
    assert demo.root_causes[0].label in report_text and demo.data.kb_version in report_text


def test_to_pdf_without_weasyprint_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint -> ImportError
    with pytest.raises(PDFUnavailable, match=r"compensa\[pdf\]") as caught:
        to_pdf("<p>x</p>")
    assert caught.value.exit_code == 1
