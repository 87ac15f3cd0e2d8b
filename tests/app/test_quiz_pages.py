"""The quiz page and the KB browser in a real browser (headless Chromium driven by Playwright), under the CSP."""

from __future__ import annotations


import pytest

from tests.app.browser import API_KEY, ARTIFACTS, CHROMIUM
ITBS = "lq_itbs_runner_weak_abductors"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test installs it as root)")


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


def _key(page, key):
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", key)
    page.click("#key-submit")


def test_the_quiz_and_the_kb_browser_work_with_an_api_key(keyed_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(keyed_server + "/quiz")
    _key(page, "wrong-key")
    page.wait_for_function("() => document.querySelector('#key-error').textContent.includes('refused')")
    _key(page, API_KEY)
    page.wait_for_selector("#presenting:not(:empty)")
    page.select_option("#ask-other", index=0)
    page.click("#ask")
    page.wait_for_function("() => !document.querySelector('#revealed').textContent.includes('nothing asked yet')")
    page.select_option("#root", "lateral_hip_weakness")
    page.click("#submit-answer")
    page.wait_for_selector("#result:not([hidden])")
    assert "/ " in page.inner_text("#points")
    # the key is kept for the tab: the KB browser in the same tab does not ask again
    page.goto(keyed_server + "/kb")
    page.wait_for_function("() => document.querySelector('#names').children.length > 50")
    assert not page.is_visible("#key-dialog")
    page.fill("#term", "glute med")
    page.keyboard.press("Enter")
    page.wait_for_selector("#entry:not([hidden])")
    assert "gluteus_medius" in page.inner_text("#entry-title")
    assert not any(API_KEY in u for u in urls)
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    assert errors == []
    context.close()
