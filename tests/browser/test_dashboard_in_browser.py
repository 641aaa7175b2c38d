"""The dashboard's filters and exports in a real browser (docs/architecture.md section 1, journey 6): the filter
form is used by its labels, narrows the consents shown, and the CSV download and the printable view carry the
same filters."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tests.browser.test_consent_journeys import Tpp
from tests.browser.test_consent_journeys import grant
from tests.browser.test_consent_journeys import tpp  # noqa: F401  (the module's registered TPP)


def test_filter_then_download_the_csv_and_open_the_printable_view(tpp: Tpp, browser_page: Any,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    page = browser_page
    consent_id, _ = grant(tpp, page)
    page.goto(f"{tpp.url}/consents")
    page.get_by_label("Kind of access").select_option(label="Funds confirmation")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/consents?*kind=funds*")
    assert "No consent matches these filters." in page.content()
    page.get_by_label("Kind of access").select_option(label="Account information (AIS)")
    page.get_by_label("Status").select_option(label="Active")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/consents?*kind=ais*")
    assert page.locator(f"article:has-text('{consent_id}')").count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your consent history (CSV, one row per event)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "my-consent-history.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert {r["kind"] for r in rows} == {"Account information (AIS)"}
    assert [r["event"] for r in rows if r["consent_id"] == consent_id] == ["created", "authorised"]
    page.get_by_role("link", name="Printable view").click()
    page.wait_for_url("**/consents/print?*kind=ais*")
    assert page.locator("form").count() == 0 and page.locator("details").count() == 0
    assert consent_id in page.content() and "You approved it" in page.content()
