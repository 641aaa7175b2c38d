"""Spec-driven request generation (schemathesis) replayed against the gateway and the sandbox portal.

Two phases, so the run is reproducible and stays on the test's own event loop:

1. ``collect``: schemathesis draws ``max_examples`` cases per operation from the ``openapi/`` document, with
   Hypothesis derandomised (same cases every run, no example database).
2. ``execute``: each case gets what a document cannot generate (``Partner``: DPoP-bound token and a fresh
   proof, client assertion, idempotency key, and on every other case the identifiers of resources the run
   created, so positive cases reach the handlers rather than stopping at 401/404), is sent through httpx,
   and its response is judged by schemathesis' response checks (OpenAPI 3.0.3 section 4.7.16-4.7.17: declared
   status, content type, required headers, body schema; no 5xx) plus one of ours: every OBIE error body is an
   ``OBErrorResponse1`` (R/W API v3.1.11 "Error Response Structure").

``Run`` counts outcomes per operation, including the share of 2xx answers, which the tests assert and report.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import os
import urllib.parse
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final

import httpx
import schemathesis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import MissingHeaders
from schemathesis.openapi.checks import UndefinedContentType
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.contract.bodies import valid_body
from tests.contract.bodies import vrp_payment
from tests.contract.customer import Customer
from tests.contract.customer import Grant
from tests.contract.customer import customer_headers
from tests.contract.customer import payment_grant
from tests.contract.partner import Partner
from tests.contract.partner import idempotency_key
from tests.contract.validate import OPAQUE_SUCCESS
from tests.contract.validate import UNSIGNED_YET
from tests.contract.validate import document as served
from tests.contract.validate import ob_error_problems
from tests.helpers.oauth import pkce_pair

CHECKS: Final = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)


@dataclass(frozen=True, kw_only=True)
class Depth:
    positive: int  # max_examples per operation, positive generation
    negative: int  # max_examples per operation, negative generation (schema-violating requests)


BOUNDED: Final = Depth(positive=4, negative=1)
DEEP: Final = Depth(positive=60, negative=25)


def depth_from(environ: dict[str, str] | None = None) -> Depth:
    """``OBGW_CONTRACT_DEPTH=deep`` (``make contract``) runs the deep suite; anything else the bounded one."""
    value = (environ if environ is not None else dict(os.environ)).get("OBGW_CONTRACT_DEPTH", "")
    return DEEP if value.strip().lower() == "deep" else BOUNDED


# --------------------------------------------------------------------------- the operations under test

# Every operation the running system serves today that the documents declare (docs/architecture.md section 5).
OBIE_OPERATIONS: Final = {
    "accounts": (
        "CreateAccountAccessConsents",
        "GetAccountAccessConsentsConsentId",
        "DeleteAccountAccessConsentsConsentId",
    ),
    "payments": (
        "CreateDomesticPaymentConsents",
        "CreateDomesticScheduledPaymentConsents",
        "CreateDomesticStandingOrderConsents",
        "GetDomesticPaymentConsentsConsentId",
        "GetDomesticScheduledPaymentConsentsConsentId",
        "GetDomesticStandingOrderConsentsConsentId",
    ),
    "funds": (
        "CreateFundsConfirmationConsents",
        "GetFundsConfirmationConsentsConsentId",
        "DeleteFundsConfirmationConsentsConsentId",
    ),
    "vrp": (
        "domesticVrpConsentsPost",
        "domesticVrpConsentsGet",
        "domesticVrpConsentsDelete",
    ),
    "events": (
        "CreateEventSubscriptions",
        "GetEventSubscriptions",
        "ChangeEventSubscriptionsEventSubscriptionId",
        "DeleteEventSubscriptionsEventSubscriptionId",
        "CreateEvents",
    ),
}
OAUTH_OPERATIONS: Final = (
    "GetOpenIdConfiguration",
    "GetOAuthAuthorizationServerMetadata",
    "GetJwks",
    "RegisterClient",
    "GetClientRegistration",
    "PushAuthorizationRequest",
    "Authorize",
    "Token",
    "Introspect",
    "Revoke",
)
# RFC 7592 update and delete change or end the partner itself: run on a partner of their own.
OAUTH_MUTATING_OPERATIONS: Final = ("UpdateClientRegistration", "DeleteClientRegistration")
# The resource APIs, on the customer's token (R/W API v3.1.11 endpoint tables): every AIS read, the payment
# orders (creates first, so the reads can address what they made) and the funds checks.
AIS_OPERATIONS: Final = (
    "GetAccounts", "GetAccountsAccountId", "GetAccountsAccountIdBalances", "GetAccountsAccountIdBeneficiaries",
    "GetAccountsAccountIdDirectDebits", "GetAccountsAccountIdOffers", "GetAccountsAccountIdParties",
    "GetAccountsAccountIdParty", "GetAccountsAccountIdProduct", "GetAccountsAccountIdScheduledPayments",
    "GetAccountsAccountIdStandingOrders", "GetAccountsAccountIdStatements", "GetAccountsAccountIdStatementsStatementId",
    "GetAccountsAccountIdStatementsStatementIdFile", "GetAccountsAccountIdStatementsStatementIdTransactions",
    "GetAccountsAccountIdTransactions", "GetBalances", "GetBeneficiaries", "GetDirectDebits", "GetOffers",
    "GetParty", "GetProducts", "GetScheduledPayments", "GetStandingOrders", "GetStatements", "GetTransactions",
)
PAYMENT_ORDER_OPERATIONS: Final = (
    "CreateDomesticPayments",
    "CreateDomesticScheduledPayments",
    "CreateDomesticStandingOrders",
    "GetDomesticPaymentsDomesticPaymentId",
    "GetDomesticPaymentsDomesticPaymentIdPaymentDetails",
    "GetDomesticScheduledPaymentsDomesticScheduledPaymentId",
    "GetDomesticScheduledPaymentsDomesticScheduledPaymentIdPaymentDetails",
    "GetDomesticStandingOrdersDomesticStandingOrderId",
    "GetDomesticStandingOrdersDomesticStandingOrderIdPaymentDetails",
    "GetDomesticPaymentConsentsConsentIdFundsConfirmation",
)
FUNDS_OPERATIONS: Final = ("CreateFundsConfirmations",)
# VRP (vrp-openapi.yaml): payments first, so the reads can address what they made.
VRP_OPERATIONS: Final = (
    "domesticVrpPost",
    "domesticVrpGet",
    "domesticVrpPaymentDetailsGet",
    "domesticVrpConsentsFundsConfirmation",
)
RESOURCE_OPERATIONS: Final = {
    "accounts": AIS_OPERATIONS,
    "payments": PAYMENT_ORDER_OPERATIONS,
    "funds": FUNDS_OPERATIONS,
    "vrp": VRP_OPERATIONS,
}
# Payment-order (and event-subscription) identifiers a 201 answer carries, by the path parameter that addresses them.
ORDER_ID_FIELDS: Final = ("DomesticPaymentId", "DomesticScheduledPaymentId", "DomesticStandingOrderId",
                           "DomesticVRPId", "EventSubscriptionId")
OBIE_DOCUMENTS: Final = frozenset({"accounts", "payments", "funds", "vrp", "events"})
SANDBOX_OPERATIONS: Final = (
    "CreateApp",
    "GetApp",
    "ListTestCustomers",
    "GetDirectoryJwks",
    "GetSoftwareJwks",
)


@functools.cache
def load_schema(document: str) -> Any:
    # A copy: the served document is shared with the gateway's specs and must not be changed.
    return schemathesis.openapi.from_dict(copy.deepcopy(dict(served(document))))


@functools.cache
def _operations(document: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for result in load_schema(document).get_all_operations():
        operation = result.ok()
        found[operation.definition.raw["operationId"]] = operation
    return found


def operation(document: str, operation_id: str) -> Any:
    """The schemathesis ``APIOperation`` for ``operation_id`` (KeyError if the document lacks it)."""
    return _operations(document)[operation_id]


def collect(op: Any, *, mode: GenerationMode, max_examples: int) -> list[Any]:
    """Up to ``max_examples`` cases for ``op``: derandomised, so every run draws the same ones."""
    cases: list[Any] = []

    @hypothesis_settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(op.as_strategy(generation_mode=mode))
    def draw(case: Any) -> None:
        cases.append(case)

    try:
        draw()
    except Unsatisfiable:
        # Negative generation of an operation with no parameters and no body: there is nothing to violate.
        if mode is GenerationMode.POSITIVE:
            raise
    return cases


# --------------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    operation_id: str
    mode: str
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def successes(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)

    def by_id(self, operation_id: str, mode: str = "positive") -> Outcome:
        return next(o for o in self.outcomes if o.operation_id == operation_id and o.mode == mode)

    def failures(self) -> list[str]:
        return [f for o in self.outcomes for f in o.failures]

    def success_ratio(self, mode: str = "positive") -> float:
        chosen = [o for o in self.outcomes if o.mode == mode]
        total = sum(o.total for o in chosen)
        return sum(o.successes for o in chosen) / total if total else 0.0

    def report(self) -> str:
        lines = []
        for o in self.outcomes:
            statuses = ", ".join(f"{s}x{n}" for s, n in sorted(o.statuses.items()))
            lines.append(f"{o.mode:8} {o.operation_id:48} {o.successes}/{o.total} 2xx  [{statuses}]")
        lines.append(f"positive 2xx share: {self.success_ratio():.0%}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- credentials and context


@dataclass
class Context:
    """What the run has learnt so far: identifiers of resources created by earlier cases."""

    partner: Partner
    gateway_url: str
    sandbox_url: str
    positive: bool = True  # the mode being run: negative cases keep every generated value but credentials
    consent_ids: dict[str, list[str]] = field(default_factory=dict)  # collection path -> ids
    software_ids: list[str] = field(default_factory=list)
    customer: Customer | None = None  # set for runs over the resource APIs
    order_ids: dict[str, list[str]] = field(default_factory=dict)  # path parameter -> payment-order ids
    order_grants: dict[str, Grant] = field(default_factory=dict)  # order operation -> its latest grant


Prepare = Callable[[Any, Context, int], Awaitable[None]]


def _set_form(case: Any, values: dict[str, str], *, drop: Iterable[str] = ()) -> None:
    body = dict(case.body) if isinstance(case.body, dict) else {}
    for name in drop:
        body.pop(name, None)
    body.update(values)
    case.body = body


def _headers(case: Any) -> dict[str, Any]:
    if case.headers is None:
        case.headers = {}
    return case.headers  # type: ignore[no-any-return]


def _declares_header(op: Any, name: str) -> bool:
    return any(p.name.lower() == name for p in op.iter_parameters())


def _collection_of(path_template: str) -> str:
    return path_template.split("/{")[0]


async def _prepare_obie(case: Any, ctx: Context, index: int) -> None:
    op = case.operation
    headers = _headers(case)
    full_template = op.schema.base_path.rstrip("/") + op.path
    if "ConsentId" in (case.path_parameters or {}) and index % 2 == 0:
        # Even cases address a consent this partner created earlier in the run; odd ones keep the generated id.
        known = ctx.consent_ids.get(_collection_of(full_template), [])
        if known:
            case.path_parameters["ConsentId"] = known[index // 2 % len(known)]
    body = valid_body(op.definition.raw["operationId"])
    if body is not None and index % 2 == 0 and ctx.positive:
        case.body = body
        case.media_type = "application/json"
    path = op.schema.base_path.rstrip("/") + case.formatted_path
    headers.update(await ctx.partner.resource_headers(case.method, path))
    if _declares_header(op, "x-idempotency-key"):
        headers["x-idempotency-key"] = idempotency_key()


def _customer_of(ctx: Context) -> Customer:
    if ctx.customer is None:
        raise ValueError("resource operations need Context.customer (tests.contract.customer.authorise_customer)")
    return ctx.customer


def _as_customer(case: Any, ctx: Context, grant: Grant) -> None:
    # Set last: the DPoP proof's htu is the final path (RFC 9449 section 4.2).
    path = case.operation.schema.base_path.rstrip("/") + case.formatted_path
    _headers(case).update(customer_headers(ctx.partner, grant, case.method, path))


async def _prepare_ais(case: Any, ctx: Context, index: int) -> None:
    customer = _customer_of(ctx)
    params = case.path_parameters or {}
    if index % 2 == 0:
        # Even cases address the customer's own account (and one of its statements); odd ones keep the
        # generated identifiers, which the bank does not hold or the consent does not grant.
        if "StatementId" in params and customer.statements:
            params["AccountId"], params["StatementId"] = customer.statements[index // 2 % len(customer.statements)]
        elif "AccountId" in params:
            params["AccountId"] = customer.account_ids[index // 2 % len(customer.account_ids)]
        # The customer is present (R/W API "Request Headers": x-fapi-customer-ip-address); without it a read
        # is unattended and counts against the four-a-day budget per consent (AISP profile), soon 429.
        _headers(case)["x-fapi-customer-ip-address"] = "198.51.100.7"
    _as_customer(case, ctx, customer.accounts)


async def _prepare_payment_order(case: Any, ctx: Context, index: int) -> None:
    operation_id = case.operation.definition.raw["operationId"]
    if index % 2 == 0 and ctx.positive:
        # A payment consumes its consent (R/W API PIS "Consent Re-authentication": one order per consent), so
        # every positive order gets a consent of its own, approved by the customer.
        grant = await payment_grant(ctx.partner, order_operation=operation_id)
        ctx.order_grants[operation_id] = grant
        case.body = grant.order_body()
        case.media_type = "application/json"
    else:
        # The generated order, on the customer's token for an authorised consent of the same kind.
        grant = ctx.order_grants.get(operation_id) or await payment_grant(ctx.partner, order_operation=operation_id)
        ctx.order_grants[operation_id] = grant
    _as_customer(case, ctx, grant)
    _headers(case)["x-idempotency-key"] = idempotency_key()


async def _prepare_payment_read(case: Any, ctx: Context, index: int) -> None:
    params = case.path_parameters or {}
    if index % 2 == 0:
        for name in ORDER_ID_FIELDS:
            known = ctx.order_ids.get(name, [])
            if name in params and known:
                params[name] = known[index // 2 % len(known)]
    path = case.operation.schema.base_path.rstrip("/") + case.formatted_path
    _headers(case).update(await ctx.partner.resource_headers(case.method, path))


async def _prepare_subscription_change(case: Any, ctx: Context, index: int) -> None:
    """Even cases address the subscription created earlier in the run, the PUT with a body naming it."""
    known = ctx.order_ids.get("EventSubscriptionId", [])
    if index % 2 == 0 and known:
        case.path_parameters["EventSubscriptionId"] = known[-1]
        if case.method.upper() == "PUT" and ctx.positive:
            case.body = {"Data": {"EventSubscriptionId": known[-1], "Version": "3.1"}}
            case.media_type = "application/json; charset=utf-8"
    path = case.operation.schema.base_path.rstrip("/") + case.formatted_path
    _headers(case).update(await ctx.partner.resource_headers(case.method, path))


async def _prepare_payment_funds(case: Any, ctx: Context, index: int) -> None:
    grant = _customer_of(ctx).payment_funds
    if index % 2 == 0:
        case.path_parameters["ConsentId"] = grant.consent_id
    _as_customer(case, ctx, grant)


async def _prepare_funds_confirmation(case: Any, ctx: Context, index: int) -> None:
    grant = _customer_of(ctx).funds
    if index % 2 == 0 and ctx.positive:
        # OBFundsConfirmation1: the ConsentId must be the one the token was issued for (COF endpoint table).
        case.body = {"Data": {"ConsentId": grant.consent_id, "Reference": f"Purchase{index:02d}",
                              "InstructedAmount": {"Amount": "20.00", "Currency": "GBP"}}}
        case.media_type = "application/json"
    _as_customer(case, ctx, grant)


async def _prepare_vrp_payment(case: Any, ctx: Context, index: int) -> None:
    grant = _customer_of(ctx).vrp
    if index % 2 == 0 and ctx.positive:
        # A VRP consent carries many payments: each positive case is one more, within the consent's limits.
        case.body = vrp_payment(consent_id=grant.consent_id, consent_body=grant.consent_body, n=index)
        case.media_type = "application/json"
    _as_customer(case, ctx, grant)
    _headers(case)["x-idempotency-key"] = idempotency_key()


async def _prepare_vrp_funds(case: Any, ctx: Context, index: int) -> None:
    grant = _customer_of(ctx).vrp
    if index % 2 == 0:
        case.path_parameters["ConsentId"] = grant.consent_id
        if ctx.positive:
            case.body = {"Data": {"ConsentId": grant.consent_id, "Reference": f"Check{index:02d}",
                                  "InstructedAmount": {"Amount": "5.00", "Currency": "GBP"}}}
            case.media_type = "application/json"
    _as_customer(case, ctx, grant)


async def _prepare_form_client(case: Any, ctx: Context, index: int, *, dpop: bool = True) -> None:
    _set_form(case, {"client_id": ctx.partner.client_id, **ctx.partner.client_auth()})
    if dpop:
        _headers(case)["DPoP"] = ctx.partner.dpop_proof(case.method, case.formatted_path)


async def _prepare_token(case: Any, ctx: Context, index: int) -> None:
    await _prepare_form_client(case, ctx, index)
    if index % 2 == 0:
        _set_form(case, {"grant_type": "client_credentials", "scope": "accounts"}, drop=("code", "refresh_token"))


async def _prepare_par(case: Any, ctx: Context, index: int) -> None:
    await _prepare_form_client(case, ctx, index)
    if index % 2 == 0:
        # A complete plain-parameter request (RFC 9126 section 2.1) for the registered redirect URI; the
        # generated signed request object, details and jkt binding are dropped because no generator can sign.
        _, challenge = pkce_pair()
        _set_form(
            case,
            {
                "response_type": "code", "redirect_uri": ctx.partner.fapi.redirect_uri, "scope": "openid",
                "code_challenge": challenge, "code_challenge_method": "S256", "state": f"s{index}",
                "nonce": f"n{index}",
            },
            drop=("request", "authorization_details", "dpop_jkt"),
        )


async def _prepare_authorize(case: Any, ctx: Context, index: int) -> None:
    if index % 2 == 0:
        _, challenge = pkce_pair()
        pushed = await ctx.partner.fapi.push(
            ctx.partner.gateway, ctx.partner.fapi.authorization_params(challenge=challenge, scope="openid")
        )
        if pushed.status_code == 201:
            case.query = {"client_id": ctx.partner.client_id, "request_uri": pushed.json()["request_uri"]}


async def _prepare_introspect(case: Any, ctx: Context, index: int) -> None:
    await _prepare_form_client(case, ctx, index, dpop=False)
    if index % 2 == 0:
        _set_form(case, {"token": await ctx.partner.token("accounts")}, drop=("token_type_hint",))


async def _prepare_revoke(case: Any, ctx: Context, index: int) -> None:
    # Generated tokens only: revoking the partner's own tokens would end the run (RFC 7009 answers 200 anyway).
    await _prepare_form_client(case, ctx, index, dpop=False)


async def _prepare_register(case: Any, ctx: Context, index: int) -> None:
    if index % 2 == 0 and case.media_type == "application/json":
        from tests.helpers.tpp import registration_request

        fresh = await ctx.partner.sandbox.get(f"/portal/api/apps/{ctx.partner.app['software_id']}")
        app = {**ctx.partner.app, "software_statement": fresh.json()["software_statement"]}
        generated = case.body if isinstance(case.body, dict) else {}
        # Generated optional metadata stays unless it contradicts the app; the app's own values win.
        keep = {k: v for k, v in generated.items() if k in ("application_type", "software_id")}
        case.body = {**keep, **registration_request(app)}
        case.body.pop("software_id", None)


async def _prepare_registration_management(case: Any, ctx: Context, index: int) -> None:
    if index % 2 == 0:
        case.path_parameters["ClientId"] = ctx.partner.client_id
    token = await ctx.partner.token("accounts")
    path = case.formatted_path
    _headers(case).update(
        {"Authorization": f"DPoP {token}", "DPoP": ctx.partner.fapi.dpop(case.method, path, access_token=token)}
    )


async def _prepare_create_app(case: Any, ctx: Context, index: int) -> None:
    # The portal's rules (https redirect URIs, printable names, real public keys) are more than a schema
    # says: even positive cases send the documented example request, odd ones the generated body.
    if index % 2 == 0 and ctx.positive:
        from tests.helpers.tpp import app_request

        case.body = app_request()
        case.media_type = "application/json"


async def _prepare_sandbox_app(case: Any, ctx: Context, index: int) -> None:
    if not ctx.software_ids:
        ctx.software_ids.append(ctx.partner.app["software_id"])
    if "software_id" in (case.path_parameters or {}) and index % 2 == 0 and ctx.software_ids:
        case.path_parameters["software_id"] = ctx.software_ids[index // 2 % len(ctx.software_ids)]


async def _nothing(case: Any, ctx: Context, index: int) -> None:
    return None


PREPARE: Final[dict[str, Prepare]] = {
    "Token": _prepare_token,
    "PushAuthorizationRequest": _prepare_par,
    "Authorize": _prepare_authorize,
    "Introspect": _prepare_introspect,
    "Revoke": _prepare_revoke,
    "RegisterClient": _prepare_register,
    "GetClientRegistration": _prepare_registration_management,
    "UpdateClientRegistration": _prepare_registration_management,
    "DeleteClientRegistration": _prepare_registration_management,
    "CreateApp": _prepare_create_app,
    "GetApp": _prepare_sandbox_app,
    "GetSoftwareJwks": _prepare_sandbox_app,
    **{operation_id: _prepare_ais for operation_id in AIS_OPERATIONS},
    "CreateDomesticPayments": _prepare_payment_order,
    "CreateDomesticScheduledPayments": _prepare_payment_order,
    "CreateDomesticStandingOrders": _prepare_payment_order,
    **{
        operation_id: _prepare_payment_read for operation_id in PAYMENT_ORDER_OPERATIONS
        if operation_id.startswith("GetDomestic") and "ConsentId" not in operation_id
    },
    "GetDomesticPaymentConsentsConsentIdFundsConfirmation": _prepare_payment_funds,
    "domesticVrpPost": _prepare_vrp_payment,
    "domesticVrpGet": _prepare_payment_read,
    "domesticVrpPaymentDetailsGet": _prepare_payment_read,
    "domesticVrpConsentsFundsConfirmation": _prepare_vrp_funds,
    "CreateFundsConfirmations": _prepare_funds_confirmation,
    "ChangeEventSubscriptionsEventSubscriptionId": _prepare_subscription_change,
    "DeleteEventSubscriptionsEventSubscriptionId": _prepare_subscription_change,
}


# --------------------------------------------------------------------------- execution


def _origin_and_base(document: str, ctx: Context) -> str:
    if document == "sandbox":
        return ctx.sandbox_url
    base = load_schema(document).base_path.rstrip("/")
    return ctx.gateway_url + base


def _as_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style transport kwargs (what schemathesis serialises to) as httpx ``request`` kwargs."""
    out: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": {k: str(v) for k, v in (kwargs.get("headers") or {}).items()},
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        out["content"] = json.dumps(kwargs["json"]).encode()
    elif "data" in kwargs:
        data = kwargs["data"]
        if isinstance(data, dict):
            out["content"] = urllib.parse.urlencode(data, doseq=True).encode()
        elif isinstance(data, str):
            out["content"] = data.encode()
        else:
            out["content"] = data
    # Hop-by-hop and client-identity headers from requests' defaults mean nothing to httpx.
    for name in ("Connection", "Accept-Encoding", "X-Schemathesis-TestCaseId"):
        out["headers"].pop(name, None)
    return out


def _judge(case: Any, response: httpx.Response, document: str) -> list[str]:
    found: list[str] = []
    try:
        case.validate_response(response, checks=list(CHECKS))
    except FailureGroup as group:
        exempt = UNSIGNED_YET.get(document, frozenset())
        opaque = case.operation.definition.raw["operationId"] in OPAQUE_SUCCESS and 200 <= response.status_code < 300
        kept = [
            f for f in group.exceptions
            if not (isinstance(f, MissingHeaders) and {h.lower() for h in f.missing_headers} <= exempt)
            and not (opaque and isinstance(f, UndefinedContentType))
        ]
        found += [f"{type(f).__name__}: {f.title}: {f.message}" for f in kept]
    if document in OBIE_DOCUMENTS and response.status_code >= 400 and response.content:
        try:
            body = response.json()
        except ValueError:
            found.append("error body is not JSON")
        else:
            found += [f"not OBErrorResponse1: {p}" for p in ob_error_problems(body)]
    return found


def _learn(case: Any, response: httpx.Response, document: str, ctx: Context) -> None:
    if response.status_code != 201 or case.method.upper() != "POST":
        return
    body = response.json()
    if document in OBIE_DOCUMENTS and "Data" in body:  # (an events poll answers without Data)
        for name in ORDER_ID_FIELDS:
            if name in body["Data"]:
                ctx.order_ids.setdefault(name, []).append(body["Data"][name])
                return
        if "ConsentId" in body["Data"]:
            collection = case.operation.schema.base_path.rstrip("/") + case.operation.path
            ctx.consent_ids.setdefault(collection, []).append(body["Data"]["ConsentId"])
    elif document == "sandbox" and "software_id" in body:
        ctx.software_ids.append(body["software_id"])


# A TPP paces itself on the RateLimit headers (R/W API "429 (Too Many Requests)"): when a budget with a short
# window is spent it waits for the reset; a long one (the unattended four-a-day budget) is an answer to judge.
# (A throttled request is not resent: its DPoP proof is spent.)
_SHORT_WAIT: Final = 5


async def _polite(http: httpx.AsyncClient, request: dict[str, Any]) -> httpx.Response:
    """Send ``request`` as a well-behaved client of the shipped rate limits would."""
    response = await http.request(**request)
    reset = response.headers.get("ratelimit-reset", "")
    if response.headers.get("ratelimit-remaining") == "0" and reset.isdigit() and int(reset) <= _SHORT_WAIT:
        await asyncio.sleep(int(reset) or 1)
    return response


async def execute(
    *, document: str, operation_id: str, ctx: Context, http: httpx.AsyncClient, mode: GenerationMode,
    max_examples: int,
) -> Outcome:
    """Draw, complete, send and judge the cases of one operation."""
    op = operation(document, operation_id)
    prepare = PREPARE.get(operation_id, _prepare_obie if document in OBIE_DOCUMENTS else _nothing)
    outcome = Outcome(operation_id=operation_id, mode=mode.value)
    ctx.positive = mode is GenerationMode.POSITIVE
    base = _origin_and_base(document, ctx)
    for index, case in enumerate(collect(op, mode=mode, max_examples=max_examples)):
        await prepare(case, ctx, index)
        request = _as_httpx(case.as_transport_kwargs(base_url=base))
        if ctx.positive and _declares_header(op, "x-jws-signature"):
            request["headers"]["x-jws-signature"] = ctx.partner.jws_signature(request.get("content") or b"")
        response = await _polite(http, request)
        outcome.statuses[response.status_code] += 1
        problems = _judge(case, response, document)
        if problems:
            outcome.failures.append(
                f"{operation_id} [{mode.value} #{index}] {request['method']} {response.request.url} -> "
                f"{response.status_code}\n  " + "\n  ".join(problems) + f"\n  body: {response.text[:300]}"
            )
        elif mode is GenerationMode.POSITIVE:
            _learn(case, response, document, ctx)
    return outcome


async def run_suite(
    *, documents: Mapping[str, Iterable[str]], ctx: Context, clients: dict[str, httpx.AsyncClient], depth: Depth,
) -> Run:
    """Positive then negative generation for each listed operation, in the listed order (POSTs first, so
    later operations can address what they created)."""
    run = Run()
    for mode, examples in ((GenerationMode.POSITIVE, depth.positive), (GenerationMode.NEGATIVE, depth.negative)):
        if examples <= 0:
            continue
        for document, operation_ids in documents.items():
            http = clients["sandbox" if document == "sandbox" else "gateway"]
            for operation_id in operation_ids:
                run.outcomes.append(
                    await execute(
                        document=document, operation_id=operation_id, ctx=ctx, http=http, mode=mode,
                        max_examples=examples,
                    )
                )
    return run

