"""What the browser tests share: the service on a free loopback port, and Debian's Chromium under Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: The key of the keyed test server (the pages ask for it).
API_KEY = "a-test-key-0123456789"
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"


def live_server(api_keys: list[str] | None = None) -> Iterator[str]:
    """The whole service (pages and routes) served by uvicorn in a thread; yields its base URL. With
    ``api_keys``, every /v1 route needs one of them (as the container runs it)."""
    import uvicorn

    from compensa.app.http import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app(max_engines=2, api_keys=api_keys), host="127.0.0.1", port=port,
                                             log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def chromium() -> Iterator:
    """Headless Chromium with the flags this closed network needs (no background connections)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()
