"""The quiz page and the KB browser in a real browser (headless Chromium driven by Playwright), under the CSP."""

from __future__ import annotations


import pytest

from tests.app.browser import ARTIFACTS, CHROMIUM, chromium, live_server
ITBS = "lq_itbs_runner_weak_abductors"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test installs it as root)")


@pytest.fixture(scope="module")
def server():
    yield from live_server()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def test_a_student_works_a_quiz_case_with_the_keyboard(server, browser):
    page, errors = _page(browser)
    page.goto(server + "/quiz")
    page.wait_for_selector("#presenting:not(:empty)")
    # open the ITBS case through the API's case id (the page keeps it), then ask and answer
    page.evaluate(f"async () => {{ quiz.asked = []; render(await post({{case_id: '{ITBS}', asked: []}})); }}")
    page.wait_for_function("() => document.querySelector('#presenting').textContent.includes('outside of the knee')")
    page.select_option("#ask-other", "ober_test")  # a hip test for knee pain: under "any other assessment"
    page.focus("#ask")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#revealed').textContent.includes('Ober test: positive (right)')")
    page.select_option("#root", "lateral_hip_weakness")
    page.focus("#add-target")
    page.keyboard.press("Enter")
    page.select_option("#t-action-1", "strengthen")
    page.select_option("#t-muscle-1", "gluteus_medius")
    page.click("#submit-answer")
    page.wait_for_selector("#result:not([hidden])")
    assert "2 / 2" in page.inner_text("#points")
    assert "HOW THE CONCLUSIONS WERE REACHED" in page.inner_text("#explanation")
    assert "over 1 case" in page.inner_text("#running")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-quiz.png"), full_page=True)
    page.click("#next-case")
    page.wait_for_selector("#result[hidden]", state="attached")
    assert not errors, errors  # no CSP violation, no script error


def test_the_kb_browser_searches_and_follows_links(server, browser):
    page, errors = _page(browser)
    page.goto(server + "/kb")
    page.wait_for_function("() => document.querySelector('#names').children.length > 50")
    page.fill("#term", "glute med")
    page.keyboard.press("Enter")
    page.wait_for_selector("#entry:not([hidden])")
    assert "gluteus_medius" in page.inner_text("#entry-title")
    assert "Weak in" in page.inner_text("#entry-body")
    page.click("#entry-body button.link[title=lateral_hip_weakness]")
    page.wait_for_function("() => document.querySelector('#entry-title').textContent.includes('lateral_hip_weakness')")
    assert "Leads to" in page.inner_text("#entry-body") and page.locator("#chain-text li").count() > 3
    page.wait_for_function("() => { const i = document.querySelector('#chain-graph img'); return !i || i.complete; }")
    page.fill("#term", "thomsa test")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('did you mean')")
    assert page.locator("#matches button[title=thomas_test]").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-kb-browser.png"), full_page=True)
    assert [e for e in errors if not e.endswith("/thomsa%20test")] == [], errors  # that 404 is the point
