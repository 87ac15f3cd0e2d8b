"""The web page in a real browser: headless Chromium (Debian's) driven by Playwright, against a live server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test installs it as root)")


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from compensa.app.http import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(max_engines=2), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def test_a_clinician_fills_a_case_and_reads_the_result(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    page.goto(server + "/")
    page.wait_for_selector("[data-testid=flag-saddle_anaesthesia]")
    # red flags first
    page.select_option("[data-testid=flag-saddle_anaesthesia]", "no")
    page.select_option("[data-testid=flag-bladder_dysfunction]", "no")
    # body map: outer right knee (front view: the figure's right is on the viewer's left)
    page.click("[data-testid=zone-front-lateral_knee-right]")
    assert "Outside of the knee (right)" in page.inner_text("#pain-list") or "(right)" in page.inner_text("#pain-list")
    # tests grouped by region, each with a one-line how-to
    page.select_option("[data-testid=test-trendelenburg]", "positive")
    page.select_option("select[name='test-side:trendelenburg']", "right")
    page.select_option("[data-testid=test-ober_test]", "positive")
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


def test_a_red_flag_turns_the_banner_to_emergency_and_withholds_the_plan(server, browser):
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_selector("[data-testid=flag-saddle_anaesthesia]")
    page.select_option("[data-testid=flag-saddle_anaesthesia]", "yes")
    page.click("[data-testid=zone-back-lower_back]")
    page.click("#submit")
    page.wait_for_selector("#triage[data-level]")
    assert page.get_attribute("#triage", "data-level") == "emergency"
    assert "Withheld" in page.inner_text("#targets")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-red-flag.png"))
    page.close()
