"""The customer's consent dashboard at ``/consents`` (docs/architecture.md section 1, journey 6).

The customer signs in with the bank sign-in (in production at the bank's identity provider: the sign-in page's
one button posts to ``/consents/bank-sign-in``, which redirects through the host's
``CustomerPortal.start_bank_sign_in``; the password form is then refused; docs/architecture.md section 10), sees every consent grouped by TPP (active and past, permissions in
plain words, accounts, dates, and each access: when, which endpoint, whether they were present), revokes one
consent or all of one TPP's after a confirmation page, stops sharing one account of an account-access consent
(``consent.account_changes``; the TPP gets a linked-account-update event), narrows what is shown with a GET filter form (by TPP, kind,
status, and a date range of history entries; ``consent.pages.dashboard_filters``), and downloads the same
filtered history as JSON or CSV (``consent.history_csv``) or opens it as a printable page (``/consents/print``:
no navigation, every history entry shown).

Revocation (AISP profile "Access Revocation"; CoF profile; ``consent.lifecycle`` for why account-access consents
become ``Revoked``): the status change, its audit event and the revocation of every token of the consent are
committed together, so from that moment the TPP's tokens are inactive (RFC 7662 ``active: false``). Payment
consents cannot be revoked (PSD2 art. 80); a VRP consent can, like an AIS one (``consent.lifecycle``), and
shows its payee and limits in the consent page's words (``consent.vrp.describe``). Every form carries the session's CSRF token (OWASP synchronizer
token); a post without it is refused with 403 and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from consent import history_filters
from consent import service
from consent.audit import EventType
from consent.customer_views import ClientConsents
from consent.customer_views import ConsentSummary
from consent.customer_views import export_document
from consent.errors import ConsentError
from consent.history_csv import history_csv
from consent.history_filters import kind_words
from consent.lifecycle import ConsentStatus
from consent.lifecycle import allowed
from consent.models import Consent
from consent.pages.authorise import KIND_TITLES
from consent.pages.authorise import account_label
from consent.pages.dashboard_filters import ReadFilter
from consent.pages.dashboard_filters import form_context
from consent.pages.dashboard_filters import read_filter
from consent.pages.forms import BadForm
from consent.pages.forms import read_form
from consent.pages.forms import single
from consent.pages.portal import Customer
from consent.pages.portal import CustomerPortal
from consent.pages.portal import PortalUnavailable
from consent.pages.portal import SignInThrottled
from consent.pages.rendering import render
from consent.permissions import long_date
from consent.reconfirmation import reconfirmation_due
from consent.vrp_usage import allowance_words
from consent.vrp_usage import payment_words

S = ConsentStatus
BASE = "/consents"

EVENT_WORDS = {
    EventType.CREATED: "Requested by the app",
    EventType.AUTHORISED: "You approved it",
    EventType.REAUTHORISED: "You confirmed it again",
    EventType.REJECTED: "Declined",
    EventType.REVOKED: "You withdrew it",
    EventType.CONSUMED: "Payment made",
    EventType.EXPIRED: "Expired",
    EventType.DELETED: "Deleted by the app",
    EventType.ACCESSED: "Used",
    EventType.ACCOUNTS_CHANGED: "You stopped sharing an account",
}


def _when(value: Any) -> str:
    return f"{long_date(value)} {value.strftime('%H:%M')} UTC" if value is not None else ""


class Dashboard:
    """The dashboard endpoints over one ``CustomerPortal``."""

    def __init__(self, portal: CustomerPortal) -> None:
        self.portal = portal

    # ------------------------------------------------------------------ plumbing

    def _page(self, request: Request, name: str, context: dict[str, Any], customer: Customer, *,
              status_code: int = 200) -> Response:
        response = render(request, name, {**context, "csrf": customer.csrf, "psu_name": customer.name},
                          headers=self.portal.headers(), status_code=status_code)
        self.portal.keep(response, request, customer)
        return response

    def _refused(self, request: Request, message: str, *, status_code: int) -> Response:
        return render(request, "error.html", {"message": message}, headers=self.portal.headers(),
                      status_code=status_code)

    def _sign_in_page(self, request: Request, customer: Customer, *, message: str | None = None,
                      status_code: int = 200) -> Response:
        if self.portal.signs_in_at_bank():
            # One button: the customer chooses to go to the bank (so signing out here does not bounce them
            # straight back through the bank's own session).
            return self._page(request, "sign_in.html", {"action": f"{BASE}/bank-sign-in", "at_bank": True,
                                                        "message": message}, customer, status_code=status_code)
        return self._page(request, "sign_in.html", {"action": f"{BASE}/login", "message": message}, customer,
                          status_code=status_code)

    async def _checked_form(self, request: Request) -> tuple[Customer, dict[str, list[str]]] | Response:
        """The signed-in customer and the form, or the refusal: no valid CSRF token 403, signed out 303."""
        customer = self.portal.customer(request)
        try:
            form = await read_form(request)
        except BadForm:
            # No readable form, so no security token to check: refused like a missing token.
            form = {}
        if not self.portal.csrf_ok(customer, single(form, "csrf")):
            return self._refused(request, "The form's security token is missing or expired. Start again.",
                                 status_code=403)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        return customer, form

    async def _labels(self, psu_id: str) -> dict[str, str]:
        try:
            return {a.account_id: account_label(a) for a in await self.portal.accounts(psu_id=psu_id)}
        except PortalUnavailable:
            return {}

    # ------------------------------------------------------------------ pages

    async def _filtered(self, request: Request, customer: Customer) -> tuple[
            list[ClientConsents], list[ClientConsents], dict[str, str], ReadFilter]:
        """Every consent of the signed-in customer, those the query's filters keep, the TPP names and the
        filter as read."""
        assert customer.psu_id is not None
        async with self.portal.session() as session:
            everything = await service.list_for_customer(session=session, psu_id=customer.psu_id,
                                                         now=self.portal.now(),
                                                         vrp_payments=self.portal.vrp_payments)
            names = await self.portal.client_names(session, [c.client_id for c in everything])
        read = read_filter(params=request.query_params, client_ids=[c.client_id for c in everything])
        return everything, history_filters.apply(clients=everything, rule=read.rule), names, read

    async def index(self, request: Request) -> Response:
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return self._sign_in_page(request, customer)
        return await self._overview(request, customer, "consents.html")

    async def printable(self, request: Request) -> Response:
        """The same consents and filters on one page without navigation, every history entry shown."""
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        return await self._overview(request, customer, "consents_print.html")

    async def _overview(self, request: Request, customer: Customer, template: str) -> Response:
        assert customer.psu_id is not None
        everything, clients, names, read = await self._filtered(request, customer)
        labels = await self._labels(customer.psu_id)
        view = [self._tpp_view(group, names, labels) for group in clients]
        return self._page(request, template, {
            "tpps": view, "has_any": bool(everything), "printed": _when(self.portal.now()),
            "filters": form_context(read=read, clients=everything, names=names),
        }, customer)

    def _tpp_view(self, group: ClientConsents, names: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
        name = names.get(group.client_id, group.client_id)
        consents = [self._consent_view(c, labels, tpp_name=name) for c in group.consents]
        return {
            "client_id": group.client_id,
            "name": name,
            "active": [c for c in consents if c["active"]],
            "past": [c for c in consents if not c["active"]],
            "revocable": any(c["revocable"] for c in consents),
        }

    def _reconfirm_note(self, summary: ConsentSummary, tpp_name: str) -> str | None:
        """The UK 90-day reconfirmation in plain words, where it applies (``consent.reconfirmation``)."""
        confirmed = reconfirmation_due(kind=summary.kind, status=summary.status, authorised_at=summary.authorised_at,
                                       reauthorised_at=summary.reauthorised_at, now=self.portal.now())
        if confirmed is None:
            return None
        return (f"{tpp_name} may ask you to confirm this access again: you last confirmed it more than 90 days "
                f"ago, on {long_date(confirmed)}. Apps that show your account information ask you every 90 days "
                "whether to keep going.")

    def _consent_view(self, summary: ConsentSummary, labels: dict[str, str], *, tpp_name: str) -> dict[str, Any]:
        history = []
        for entry in summary.history:
            words = EVENT_WORDS.get(entry.event, entry.event)
            if entry.event == EventType.ACCESSED:
                present = entry.detail.get("customer_present")
                words = f"{words}: {entry.detail.get('endpoint', '')} " + (
                    "(you were using the app)" if present else "(without you present)"
                )
                answer = entry.detail.get("answer")
                if isinstance(answer, dict) and "funds_available" in answer:
                    money = f"{answer.get('currency', '')} {answer.get('amount', '')}".strip()
                    words += (f": asked whether {money} is available, answered "
                              + ("yes" if answer["funds_available"] else "no"))
            if entry.event == EventType.ACCOUNTS_CHANGED:
                removed = [labels.get(a, a) for a in entry.detail.get("removed", [])]
                words = f"{words}: {', '.join(removed)}" if removed else words
            history.append({"when": _when(entry.at), "what": words})
        return {
            "consent_id": summary.consent_id,
            "kind": summary.kind,
            "kind_words": kind_words(summary.kind),
            "reconfirm_note": self._reconfirm_note(summary, tpp_name),
            "status": summary.status,
            "active": summary.status == S.AUTHORISED,
            "revocable": summary.revocable,
            "groups": ([{"title": g.title, "items": list(g.items)} for g in summary.groups]
                       or [{"title": "What it allows", "items": [f"The app may {KIND_TITLES[summary.kind]}."]}]
                       if summary.groups or summary.kind in KIND_TITLES else []),
            "accounts": [labels.get(a, a) for a in summary.account_ids],
            # An active account-access consent sharing more than one account: each can be taken out of it.
            "removable_accounts": ([{"id": a, "label": labels.get(a, a)} for a in summary.account_ids]
                                   if service.accounts_can_leave(kind=summary.kind, status=summary.status,
                                                                 account_count=len(summary.account_ids)) else []),
            "created": _when(summary.created_at),
            "authorised": _when(summary.authorised_at),
            "reauthorised": _when(summary.reauthorised_at),
            "expires": long_date(summary.expires_at) if summary.expires_at else None,
            "last_used": _when(summary.last_accessed_at),
            "last_endpoint": summary.last_access_endpoint,
            "history": history,
            "vrp_allowances": ([allowance_words(a) for a in summary.vrp.allowances]
                               if summary.vrp is not None else None),
            "vrp_payments": ([payment_words(p) for p in summary.vrp.payments] if summary.vrp is not None else None),
        }

    async def sign_in(self, request: Request) -> Response:
        if self.portal.signs_in_at_bank():
            # The password form is the sandbox's: here customers sign in at the bank's identity provider.
            return self._refused(request, "Customers sign in at the bank here: open your consents again.",
                                 status_code=400)
        customer = self.portal.customer(request)
        try:
            form = await read_form(request)
        except BadForm:
            # No readable form, so no security token to check: refused like a missing token.
            form = {}
        if not self.portal.csrf_ok(customer, single(form, "csrf")):
            return self._refused(request, "The form's security token is missing or expired. Start again.",
                                 status_code=403)
        username, password = single(form, "username") or "", single(form, "password") or ""
        if not username or not password or len(username) > 128 or len(password) > 1024:
            return self._sign_in_page(request, customer, message="Enter your username and password.",
                                      status_code=401)
        try:
            signed_in = await self.portal.sign_in(request, customer, username=username, password=password)
        except SignInThrottled as throttled:
            response = self._sign_in_page(request, customer, message=str(throttled), status_code=429)
            response.headers["Retry-After"] = str(throttled.retry_after)
            return response
        except PortalUnavailable:
            return self._sign_in_page(request, customer, status_code=503,
                                      message="The bank cannot sign you in right now. Please try again later.")
        if signed_in is None:
            return self._sign_in_page(request, customer, message="The username or password is not right.",
                                      status_code=401)
        response = RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        self.portal.keep(response, request, signed_in)
        return response

    async def bank_sign_in(self, request: Request) -> Response:
        """The sign-in page's button where customers sign in at the bank: the redirect to its identity provider."""
        if not self.portal.signs_in_at_bank():
            return self._refused(request, "Sign in with your username and password here.", status_code=404)
        customer = self.portal.customer(request)
        try:
            form = await read_form(request)
        except BadForm:
            form = {}
        if not self.portal.csrf_ok(customer, single(form, "csrf")):
            return self._refused(request, "The form's security token is missing or expired. Start again.",
                                 status_code=403)
        if customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        return await self.portal.start_bank_sign_in(request, customer)

    async def sign_out(self, request: Request) -> Response:
        checked = await self._checked_form(request)
        if isinstance(checked, Response):
            return checked
        customer, _ = checked
        response = RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        self.portal.keep(response, request, self.portal.signed_out(customer))
        return response

    # ------------------------------------------------------------------ revoking one consent

    async def _own_revocable(self, customer: Customer, consent_id: str) -> Consent | None:
        async with self.portal.session() as session:
            consent = await session.get(Consent, consent_id)
        if consent is None or consent.psu_id != customer.psu_id:
            return None
        if not allowed(kind=consent.kind, start=consent.status, to=S.REVOKED):
            return None
        return consent

    async def confirm_revoke(self, request: Request) -> Response:
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        consent_id = request.path_params["consent_id"]
        consent = await self._own_revocable(customer, consent_id)
        if consent is None:
            # Another customer's consent is indistinguishable from an unknown one.
            return self._refused(request, "There is no consent here that you can withdraw.", status_code=404)
        async with self.portal.session() as session:
            names = await self.portal.client_names(session, [consent.client_id])
        return self._page(request, "revoke_confirm.html", {
            "what": f"this access for {names.get(consent.client_id, consent.client_id)}",
            "detail": f"Reference {consent.consent_id}",
            "action": f"{BASE}/{consent.consent_id}/revoke",
        }, customer)

    async def revoke(self, request: Request) -> Response:
        checked = await self._checked_form(request)
        if isinstance(checked, Response):
            return checked
        customer, _ = checked
        assert customer.psu_id is not None
        consent = await self._own_revocable(customer, request.path_params["consent_id"])
        if consent is None:
            return self._refused(request, "There is no consent here that you can withdraw.", status_code=404)
        async with self.portal.session() as session:
            await self.portal.revoke_tokens(session, consent.consent_id)
            try:
                # Commits the token revocation with the status change and its audit event.
                await service.revoke(session=session, consent_id=consent.consent_id, psu_id=customer.psu_id,
                                     now=self.portal.now())
            except ConsentError:
                return self._refused(request, "This consent has changed meanwhile and cannot be withdrawn.",
                                     status_code=409)
        return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())

    # ------------------------------------------------------------------ one account out of a consent

    async def _shared_account(self, customer: Customer, consent_id: str, account_id: str) -> Consent | None:
        """The customer's own consent ``account_id`` may leave (``consent.account_changes``' rule)."""
        assert customer.psu_id is not None
        async with self.portal.session() as session:
            return await service.removable_account(session=session, consent_id=consent_id, psu_id=customer.psu_id,
                                                   account_id=account_id)

    async def confirm_remove_account(self, request: Request) -> Response:
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        assert customer.psu_id is not None
        consent_id, account_id = request.path_params["consent_id"], request.path_params["account_id"]
        consent = await self._shared_account(customer, consent_id, account_id)
        if consent is None:
            return self._refused(request, "There is no account here that you can stop sharing.", status_code=404)
        async with self.portal.session() as session:
            names = await self.portal.client_names(session, [consent.client_id])
        labels = await self._labels(customer.psu_id)
        return self._page(request, "account_remove_confirm.html", {
            "account": labels.get(account_id, account_id),
            "tpp": names.get(consent.client_id, consent.client_id),
            "detail": f"Reference {consent.consent_id}",
            "action": f"{BASE}/{consent.consent_id}/accounts/{account_id}/remove",
        }, customer)

    async def remove_account(self, request: Request) -> Response:
        checked = await self._checked_form(request)
        if isinstance(checked, Response):
            return checked
        customer, _ = checked
        assert customer.psu_id is not None
        consent_id, account_id = request.path_params["consent_id"], request.path_params["account_id"]
        if await self._shared_account(customer, consent_id, account_id) is None:
            return self._refused(request, "There is no account here that you can stop sharing.", status_code=404)
        async with self.portal.session() as session:
            try:
                await service.stop_sharing_account(session=session, consent_id=consent_id, psu_id=customer.psu_id,
                                                   account_id=account_id, now=self.portal.now())
            except ConsentError:
                return self._refused(request, "This consent has changed meanwhile; nothing was changed.",
                                     status_code=409)
        return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())

    # ------------------------------------------------------------------ revoking all of one TPP's consents

    async def _revocable_of(self, customer: Customer, client_id: str) -> list[Consent]:
        async with self.portal.session() as session:
            rows = (await session.exec(select(Consent).where(
                Consent.psu_id == customer.psu_id, Consent.client_id == client_id,
                Consent.status == S.AUTHORISED.value,
            ))).all()
        return [c for c in rows if allowed(kind=c.kind, start=c.status, to=S.REVOKED)]

    async def confirm_revoke_all(self, request: Request) -> Response:
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        client_id = request.path_params["client_id"]
        consents = await self._revocable_of(customer, client_id)
        if not consents:
            return self._refused(request, "This app has no access that you can withdraw.", status_code=404)
        async with self.portal.session() as session:
            names = await self.portal.client_names(session, [client_id])
        count = len(consents)
        return self._page(request, "revoke_confirm.html", {
            "what": f"all access for {names.get(client_id, client_id)}",
            "detail": f"{count} consent{'s' if count != 1 else ''}",
            "action": f"{BASE}/tpp/{client_id}/revoke",
        }, customer)

    async def revoke_all(self, request: Request) -> Response:
        checked = await self._checked_form(request)
        if isinstance(checked, Response):
            return checked
        customer, _ = checked
        assert customer.psu_id is not None
        client_id = request.path_params["client_id"]
        consents = await self._revocable_of(customer, client_id)
        if not consents:
            return self._refused(request, "This app has no access that you can withdraw.", status_code=404)
        async with self.portal.session() as session:
            for consent in consents:
                await self.portal.revoke_tokens(session, consent.consent_id)
            await service.revoke_all_for_client(session=session, psu_id=customer.psu_id, client_id=client_id,
                                                now=self.portal.now())
        return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())

    # ------------------------------------------------------------------ export

    async def export(self, request: Request) -> Response:
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        assert customer.psu_id is not None
        _, clients, names, read = await self._filtered(request, customer)
        document = export_document(psu_id=customer.psu_id, now=self.portal.now(), clients=clients)
        if read.rule.narrows:
            document["filters"] = dict(parse_qsl(read.query))
        for item in document["consents"]:
            item["client_name"] = names.get(item["client_id"], item["client_id"])
        headers = {**self.portal.headers(), "Content-Disposition": 'attachment; filename="my-consents.json"'}
        return Response(json.dumps(document, indent=2), media_type="application/json", headers=headers)

    async def export_csv(self, request: Request) -> Response:
        """One row per history event of the filtered consents (``consent.history_csv``)."""
        customer = self.portal.customer(request)
        if not customer.signed_in:
            return RedirectResponse(BASE, status_code=303, headers=self.portal.headers())
        _, clients, names, _ = await self._filtered(request, customer)
        headers = {**self.portal.headers(), "Content-Disposition": 'attachment; filename="my-consent-history.csv"'}
        return Response(history_csv(clients=clients, names=names), media_type="text/csv; charset=utf-8",
                        headers=headers)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(BASE, self.index, methods=["GET"], name="consents"),
            Route(f"{BASE}/login", self.sign_in, methods=["POST"], name="consents_login"),
            Route(f"{BASE}/bank-sign-in", self.bank_sign_in, methods=["POST"], name="consents_bank_sign_in"),
            Route(f"{BASE}/logout", self.sign_out, methods=["POST"], name="consents_logout"),
            Route(f"{BASE}/export", self.export, methods=["GET"], name="consents_export"),
            Route(f"{BASE}/export.csv", self.export_csv, methods=["GET"], name="consents_export_csv"),
            Route(f"{BASE}/print", self.printable, methods=["GET"], name="consents_print"),
            Route(f"{BASE}/tpp/{{client_id}}/revoke", self.confirm_revoke_all, methods=["GET"]),
            Route(f"{BASE}/tpp/{{client_id}}/revoke", self.revoke_all, methods=["POST"]),
            Route(f"{BASE}/{{consent_id}}/revoke", self.confirm_revoke, methods=["GET"]),
            Route(f"{BASE}/{{consent_id}}/revoke", self.revoke, methods=["POST"]),
            Route(f"{BASE}/{{consent_id}}/accounts/{{account_id}}/remove", self.confirm_remove_account,
                  methods=["GET"]),
            Route(f"{BASE}/{{consent_id}}/accounts/{{account_id}}/remove", self.remove_account, methods=["POST"]),
        ]


def dashboard_routes(portal: CustomerPortal) -> list[BaseRoute]:
    """``/consents`` and its sub-pages, served over ``portal``."""
    return Dashboard(portal).routes()
