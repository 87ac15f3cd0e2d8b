"""Fixtures the browser tests share: one live server and one Chromium per test file."""

from __future__ import annotations

import pytest

from tests.app.browser import API_KEY, chromium, live_server


@pytest.fixture(scope="module")
def server():
    """The whole service on a free loopback port (its base URL)."""
    yield from live_server()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium under Playwright."""
    yield from chromium()


@pytest.fixture(scope="module")
def keyed_server():
    """The service with API keys set (:data:`tests.app.browser.API_KEY`)."""
    yield from live_server(api_keys=[API_KEY])
