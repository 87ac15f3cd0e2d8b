"""The web page in a real browser: headless Chromium (Debian's) driven by Playwright, against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.browser import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test installs it as root)")

READY = "body[data-ready=true]"


def _select(page, selector, value):
    """Select in a control that may sit in a collapsed part of the form (<details>): open it first, as a user would."""
    page.locator(selector).evaluate("e => { const d = e.closest('details'); if (d) d.open = true; }")
    page.select_option(selector, value)


def test_a_clinician_fills_a_case_and_reads_the_result(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server + "/")
    page.wait_for_selector(READY)
    # body map first: outer right knee (front view: the figure's right is on the viewer's left)
    page.click("[data-testid=zone-front-lateral_knee-right]")
    assert "Outside of the knee (right)" in page.inner_text("#pain-list") or "(right)" in page.inner_text("#pain-list")
    # then red flags (any of the full list can still be answered)
    _select(page, "[data-testid=flag-saddle_anaesthesia]", "no")
    _select(page, "[data-testid=flag-bladder_dysfunction]", "no")
    # tests grouped by region, each with a one-line how-to
    _select(page, "[data-testid=test-trendelenburg]", "positive")
    page.select_option("select[name='test-side:trendelenburg']", "right")
    _select(page, "[data-testid=test-ober_test]", "positive")
    page.select_option("select[name='test-side:ober_test']", "right")
    page.click("#submit")
    page.wait_for_selector("#triage[data-level]")
    assert page.get_attribute("#triage", "data-level") == "routine"
    assert "Lateral hip weakness" in page.inner_text("#roots")
    glute = page.locator("[data-testid=target-gluteus_medius]")
    glute.wait_for()
    assert glute.get_attribute("data-painful") == "false" and "away" in glute.inner_text()
    page.wait_for_function("() => { const i = document.querySelector('[data-testid=graph]'); return i && i.naturalWidth > 100; }",
                           timeout=20000)
    glute.click()
    page.wait_for_function("() => document.querySelector('#why').textContent.includes('WHY GLUTEUS MEDIUS')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-consultation.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("answer", ["yes", "unsure"])
def test_a_red_flag_turns_the_banner_to_emergency_and_withholds_the_plan(server, browser, answer):
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector(READY)
    _select(page, "[data-testid=flag-saddle_anaesthesia]", answer)   # from the full list, before any pain
    page.click("[data-testid=zone-back-lower_back]")
    page.click("#submit")
    page.wait_for_selector("#triage[data-level]")
    assert page.get_attribute("#triage", "data-level") == "emergency"
    assert "Withheld" in page.inner_text("#targets")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-red-flag-{answer}.png"))
    page.close()


# -- plan honesty (issue 9): what the page says when a test disagrees, an exercise is withheld,
#    red flags were not screened, or the sides disagree --------------------------------------------

GREEN = "rgb(211, 249, 216)"


def _open(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server + "/")
    page.wait_for_selector(READY)
    return page


def _mark(page, kind, id_, value, side=None):
    _select(page, f"[data-testid={kind}-{id_}]", value)
    if side:
        page.select_option(f"select[name='{kind}-side:{id_}']", side)


def _consult(page):
    page.click("#submit")
    page.wait_for_selector("#triage[data-level]")


def test_a_test_that_disagrees_is_shown_on_the_target_in_words(server, browser):
    page = _open(browser, server)
    page.click("[data-testid=zone-front-lateral_knee-right]")
    _mark(page, "finding", "knee_valgus", "present", "right")
    _mark(page, "test", "trendelenburg", "negative", "right")
    _mark(page, "test", "ober_test", "positive", "right")
    _consult(page)
    glute = page.locator("[data-testid=target-gluteus_medius]")
    glute.wait_for()
    assert glute.get_attribute("data-tentative") == "true"
    assert "A test disagrees: Trendelenburg test negative on the right argues against this" in glute.inner_text()
    assert "Trendelenburg test negative on the right argues against this" in page.inner_text("#warnings")
    assert "argues against" not in page.inner_text("[data-testid=target-tensor_fasciae_latae]")
    page.close()


def test_an_exercise_withheld_with_a_disc_shows_the_caution(server, browser):
    page = _open(browser, server)
    for zone in ("zone-back-lower_back", "zone-back-posterior_thigh-left", "zone-back-calf-left"):
        page.click(f"[data-testid={zone}]")
    _mark(page, "finding", "anterior_pelvic_tilt", "present")
    _mark(page, "test", "straight_leg_raise", "positive", "left")
    _mark(page, "test", "thomas_test", "positive")
    page.click("#step-exam details.region:has(#history) summary")   # history is collapsed until wanted
    page.check("input[name='history:pain_worse_sitting_or_bending']")
    _consult(page)
    erector = page.locator("[data-testid=target-erector_spinae]")
    erector.wait_for()
    cells = erector.locator("td")
    exercise = cells.nth(4).inner_text()
    assert "Withheld" in exercise and "Knees-to-chest back stretch withheld because herniated disc (" in exercise
    assert "bends the low back forward" in exercise
    for cell in page.locator("#targets tbody td.exercise").all_inner_texts():
        assert cell.strip() not in ("", "-", "—")
    page.close()


def test_an_empty_case_is_not_screened_and_never_green(server, browser):
    page = _open(browser, server)
    _consult(page)
    banner = page.locator("#triage")
    assert banner.get_attribute("data-screened") == "none"
    assert "Red flags not screened" in banner.inner_text() and "No red flags reported" not in banner.inner_text()
    assert banner.evaluate("e => getComputedStyle(e).backgroundColor") != GREEN
    page.close()


def test_pain_without_red_flag_answers_lists_the_questions_to_ask(server, browser):
    from compensa.engine import load_kb

    page = _open(browser, server)
    page.click("[data-testid=zone-back-lower_back]")
    _consult(page)
    assert "Red flags not screened" in page.inner_text("#triage")
    assert "No red flags reported" not in page.inner_text("#results")
    screening = page.locator("#screening")
    assert screening.is_visible() and "not yet asked for this pain" in screening.inner_text()
    assert load_kb().red_flags["saddle_anaesthesia"].question in screening.inner_text()
    assert page.locator("#triage").evaluate("e => getComputedStyle(e).backgroundColor") != GREEN
    page.close()


def test_pain_on_one_side_and_tests_on_the_other_warns_before_the_targets(server, browser):
    page = _open(browser, server)
    page.click("[data-testid=zone-front-lateral_knee-right]")
    for test in ("trendelenburg", "hip_abductor_strength", "ober_test"):
        _mark(page, "test", test, "positive", "left")
    _consult(page)
    first = page.locator("#warnings li").first
    assert first.get_attribute("data-code") == "sides_disagree"
    assert first.inner_text().startswith("Pain is on the right, but every sided test and finding is on the left")
    before = page.evaluate("() => !!(document.querySelector('#warnings').compareDocumentPosition("
                           "document.querySelector('#targets')) & Node.DOCUMENT_POSITION_FOLLOWING)")
    assert before
    page.close()


def test_every_pain_site_of_the_kb_is_on_the_body_map(server, browser):
    from compensa.kb import load_kb

    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server + "/")
    page.wait_for_selector("[data-testid=zone-back-achilles-right]")
    on_map = set(page.eval_on_selector_all(".zone", "zones => zones.map(z => z.dataset.site)"))
    assert set(load_kb().pain_sites) - on_map == set()
    page.click("[data-testid=zone-back-achilles-right]")
    assert "(right)" in page.inner_text("#pain-list")
    page.close()


def test_a_clinical_note_is_read_and_what_it_could_not_read_is_shown_first(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server + "/")
    page.wait_for_selector("[data-testid=zone-front-lateral_knee-right]")
    page.fill("#note", "R lateral knee pain, Ober +ve R. Enjoys knitting. Reports new saddle numbness.")
    page.click("#submit")
    page.wait_for_selector("#unrecognised li")
    assert "Enjoys knitting" in page.inner_text("#unrecognised")
    assert page.get_attribute("#triage", "data-level") == "emergency"  # the note's red flag counts
    page.close()


AXE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"


def _axe_violations(page) -> list:
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => (await axe.run()).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))""")


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (make test installs it with npm)")
@pytest.mark.parametrize("path", ["/", "/quiz", "/kb"])
def test_axe_finds_no_serious_or_critical_violation(server, browser, path):
    """axe-core in the page (CSP bypassed only to inject the checker): no serious or critical violation,
    on the page as it opens and, for the consultation page, with a result shown."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 1800})
    page = context.new_page()
    page.goto(server + path)
    page.wait_for_load_state("networkidle")
    assert _axe_violations(page) == []
    if path == "/":
        page.wait_for_selector(READY)
        page.click("[data-testid=zone-front-lateral_knee-right]")
        _select(page, "[data-testid=flag-saddle_anaesthesia]", "no")
        _select(page, "[data-testid=test-ober_test]", "positive")
        page.click("#submit")
        page.wait_for_selector("#triage[data-level]")
        assert _axe_violations(page) == []
    context.close()


def test_a_target_row_is_explained_from_the_keyboard(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server + "/")
    page.wait_for_selector(READY)
    page.click("[data-testid=zone-front-lateral_knee-right]")
    _select(page, "[data-testid=test-trendelenburg]", "positive")
    page.select_option("select[name='test-side:trendelenburg']", "right")
    page.click("#submit")
    row = page.locator("[data-testid=target-gluteus_medius]")
    row.wait_for()
    assert row.get_attribute("tabindex") == "0" and row.get_attribute("role") == "button"
    row.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#why').textContent.includes('WHY GLUTEUS MEDIUS')")
    page.close()
