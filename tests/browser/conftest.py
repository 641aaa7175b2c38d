"""Browser tests drive Debian's Chromium through Playwright. Without Chromium they skip, unless
``OBGW_REQUIRE_BROWSER=1`` (set by CI), where a missing browser is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.live import LiveStack
from tests.live import live_stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _require_browser() -> None:
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("OBGW_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium is required (OBGW_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
    pytest.skip("Chromium not installed: apt-get install chromium to run the browser tests")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("live")) as running:
        yield running


@contextmanager
def _chromium_page(**context_options: Any) -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        context = browser.new_context(**context_options)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def browser_page() -> Iterator[object]:
    with _chromium_page() as page:
        yield page


@pytest.fixture
def audit_page() -> Iterator[object]:
    """A page whose context ignores the pages' CSP (``default-src 'none'``), so a test can inject the vendored
    axe-core script; only for the accessibility checks, never where the CSP itself is under test."""
    with _chromium_page(bypass_csp=True) as page:
        yield page


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return tmp_path
