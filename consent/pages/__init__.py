"""The customer's pages of the consent domain: the consent page shown during authorisation and the consent
dashboard (docs/architecture.md section 1, journeys 3 and 6). The host implements ``CustomerPortal``."""

from __future__ import annotations

from consent.pages.authorise import account_label
from consent.pages.authorise import consent_page_view
from consent.pages.authorise import render_consent_page
from consent.pages.dashboard import dashboard_routes
from consent.pages.portal import Customer
from consent.pages.portal import CustomerPortal
from consent.pages.portal import PortalUnavailable

__all__ = [
    "Customer",
    "CustomerPortal",
    "PortalUnavailable",
    "account_label",
    "consent_page_view",
    "dashboard_routes",
    "render_consent_page",
]
