"""The customer pages pass axe-core (docs/architecture.md section 5: plain, accessible HTML): no serious or
critical violation on the consent page, the dashboard (with its filter form and a consent's history open) and
the printable view, at a desktop width (1280 px) and a phone width (375 px).

axe-core is vendored unmodified (``tests/browser/vendor``, MPL-2.0) and injected into each page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_consent_journeys import Tpp
from tests.browser.test_consent_journeys import grant
from tests.browser.test_consent_journeys import sign_in
from tests.browser.test_consent_journeys import tpp  # noqa: F401  (the module's registered TPP)

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WIDTHS = (1280, 375)
BLOCKING = ("serious", "critical")


def violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def explained(found: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
                     for v in found)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_consent_page_has_no_serious_violation(tpp: Tpp, audit_page: Any, width: int) -> None:  # noqa: F811
    page = audit_page
    page.set_viewport_size({"width": width, "height": 900})
    request_uri, _ = tpp.push(tpp.lodge_consent())
    page.goto(tpp.authorize_url(request_uri))
    found = violations(page)
    assert not found, "sign-in page:\n" + explained(found)
    sign_in(page)
    page.get_by_role("heading", name=re.compile("Do you allow Budget Buddy")).wait_for()
    found = violations(page)
    assert not found, "consent page:\n" + explained(found)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_dashboard_and_its_printable_view_have_no_serious_violation(tpp: Tpp, audit_page: Any,  # noqa: F811
                                                                         width: int) -> None:
    page = audit_page
    page.set_viewport_size({"width": width, "height": 900})
    consent_id, _ = grant(tpp, page)
    page.goto(f"{tpp.url}/consents")
    page.locator(f"article:has-text('{consent_id}') summary").first.click()
    found = violations(page)
    assert not found, "dashboard:\n" + explained(found)
    page.goto(f"{tpp.url}/consents?kind=ais&status=active&from=2000-01-01")
    found = violations(page)
    assert not found, "dashboard, filtered:\n" + explained(found)
    page.goto(f"{tpp.url}/consents/print")
    found = violations(page)
    assert not found, "printable view:\n" + explained(found)


def test_the_check_itself_finds_an_unlabelled_field_and_faint_text(audit_page: Any) -> None:
    page = audit_page
    page.set_content('<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>Form</h1>'
                     '<input type="text" name="q"><p style="color:#bbb;background:#fff">faint</p></main></body>'
                     '</html>')
    assert {v["id"] for v in violations(page)} >= {"label", "color-contrast"}
