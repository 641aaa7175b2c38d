"""The bank-backend contract (``openapi/bank-backend.yaml``, docs/architecture.md section 9), calling side: every
request the gateway sends to the bank during the journeys is an operation of the document, sent as it declares
(path, method, parameters, the signed ``x-obgw-context``, the body schema), and the document lists no operation
the gateway never calls.

The gateway runs in-process over the real sandbox bank; its bank transport records each request on the way
(``Recording``) and each one is validated with openapi-core (``gateway.cli.bank_check.contract``).
"""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import yaml
from asgi_lifespan import LifespanManager

from gateway.backend.bank import Bank
from gateway.backend.upstream import UpstreamResponse
from gateway.cli.bank_check import contract
from gateway.contract.policies.routes import declared_operations
from gateway.pipeline.payment_kinds import KINDS
from gateway.settings import REPO_ROOT
from gateway.settings import Settings
from sandbox.customers import account_id
from tests.helpers.bank import AsgiTransport
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.payments import FUNDS_CONFIRMATIONS
from tests.helpers.payments import Approved
from tests.helpers.payments import approve
from tests.helpers.payments import approved_funds_consent
from tests.helpers.payments import approved_payment
from tests.helpers.payments import customer_auth
from tests.helpers.payments import submit
from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import account_access_body
from tests.integration.consent.conftest import obie_specs  # noqa: F401  (fixture)
from tests.integration.consent.conftest import tpp  # noqa: F401  (fixture)
from tests.integration.consent.conftest import vrp_body
from tests.integration.payments.test_vrp_payments import VRP_CONSENTS
from tests.integration.payments.test_vrp_payments import pay

CURRENT = account_id(key="alice-current")


@dataclass(frozen=True)
class Sent:
    method: str
    path_and_query: str
    headers: Mapping[str, str]
    body: bytes


class Recording:
    """The gateway's bank transport with every request kept, in order, before it goes to the sandbox."""

    def __init__(self, inner: AsgiTransport) -> None:
        self.inner = inner
        self.sent: list[Sent] = []

    async def request(self, method: str, path_and_query: str, *, headers: Mapping[str, str],
                      body: bytes | None = None) -> UpstreamResponse:
        self.sent.append(Sent(method, path_and_query, dict(headers), body or b""))
        return await self.inner.request(method, path_and_query, headers=headers, body=body)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def recording(sandbox_app: Any) -> Recording:
    return Recording(AsgiTransport(sandbox_app))


@pytest.fixture
async def gateway_app(settings: Settings, gateway_keys: Any, sandbox_app: Any, recording: Recording
                      ) -> AsyncIterator[Any]:
    import httpx

    from gateway.app import create_app
    from gateway.hosting import consent_routes

    app = create_app(settings, keys=gateway_keys, bank_transport=recording,
                     http_transport=httpx.ASGITransport(app=sandbox_app), create_schema=True)
    if not any(getattr(route, "path", None) == AISP for route in app.routes):
        app.router.routes.extend(consent_routes.routes(app.state.services))
    async with LifespanManager(app) as manager:
        yield manager.app


def violations(sent: list[Sent]) -> list[str]:
    bank = contract.load()
    found = []
    for s in sent:
        url = urlsplit(s.path_and_query)
        problem = bank.check_request(s.method, url.path, query=parse_qsl(url.query), headers=s.headers, body=s.body,
                                     content_type=s.headers.get("content-type", "application/json"))
        if problem is not None:
            found.append(f"{s.method} {s.path_and_query}: {problem}")
    return found


def operations_of(sent: list[Sent]) -> set[str]:
    bank = contract.load()
    return {op.operation_id for s in sent if (op := bank.match(s.method, urlsplit(s.path_and_query).path))}


async def _account_journey(party: Tpp) -> None:
    created = await party.create(AISP, account_access_body())
    assert created.status_code == 201, created.text
    token = await approve(party, created.json()["Data"]["ConsentId"], scope="accounts", account_id=CURRENT)
    for path in ("/open-banking/v3.1/aisp/accounts", f"/open-banking/v3.1/aisp/accounts/{CURRENT}/balances",
                 f"/open-banking/v3.1/aisp/accounts/{CURRENT}/transactions?fromBookingDateTime=2020-01-01T00:00:00"):
        answer = await party.http.get(path, headers={**customer_auth(party, token, "GET", path.split("?")[0]),
                                                   "x-fapi-customer-ip-address": "203.0.113.7"})
        assert answer.status_code == 200, answer.text


async def _payment_journey(party: Tpp) -> None:
    for kind in KINDS:
        approved = await approved_payment(party, kind.collection, account_id=CURRENT)
        if kind.collection == "domestic-payments":
            # Funds are confirmed while the consent is Authorised, before the payment consumes it.
            funds = f"{PISP}/domestic-payment-consents/{approved.consent_id}/funds-confirmation"
            answer = await party.call("GET", funds, authorized=False,
                                    headers=customer_auth(party, approved.access_token, "GET", funds))
            assert answer.status_code == 200, answer.text
        created = await submit(party, approved, kind.collection, key=f"pay-{kind.collection}")
        assert created.status_code == 201, created.text
        payment_id = created.json()["Data"][kind.id_field]
        for tail in ("", "/payment-details"):
            read = await party.call("GET", f"{PISP}/{kind.collection}/{payment_id}{tail}")
            assert read.status_code == 200, read.text
        if kind.collection == "domestic-payments":
            settled = await party.call("POST", f"/sandbox/v1/payments/{payment_id}/settle", check=False)
            assert settled.status_code == 200, settled.text
    cbpii = await approved_funds_consent(party, account_id=CURRENT)
    answer = await party.call("POST", FUNDS_CONFIRMATIONS, authorized=False,
                            body={"Data": {"ConsentId": cbpii.consent_id, "Reference": "Purchase01",
                                           "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"}}},
                            headers=customer_auth(party, cbpii.access_token, "POST", FUNDS_CONFIRMATIONS))
    assert answer.status_code == 201, answer.text


async def _vrp_journey(party: Tpp) -> None:
    created = await party.create(VRP_CONSENTS, vrp_body(), key="vrp-consent")
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    token = await approve(party, consent_id, scope="payments", account_id=CURRENT)
    approved = Approved(consent_id=consent_id, access_token=token, consent_body=vrp_body())
    armed = await party.call("POST", f"/sandbox/v1/consents/{consent_id}/reject-next-payment", check=False)
    assert armed.status_code == 200, armed.text
    rejected = await pay(party, approved, "1.00", key="vrp-rejected")
    assert rejected.status_code == 201, rejected.text
    paid = await pay(party, approved, "2.00", key="vrp-paid")
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["Data"]["DomesticVRPId"]
    for tail in ("", "/payment-details"):
        read = await party.call("GET", f"{PISP}/domestic-vrps/{payment_id}{tail}")
        assert read.status_code == 200, read.text
    funds = f"{PISP}/domestic-vrp-consents/{consent_id}/funds-confirmation"
    answer = await party.call("POST", funds, authorized=False, headers=customer_auth(party, token, "POST", funds),
                            body={"Data": {"ConsentId": consent_id, "Reference": "Sweep",
                                           "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"}}})
    assert answer.status_code == 201, answer.text
    rejected_now = await party.call("POST", f"/sandbox/v1/payments/{payment_id}/reject", check=False)
    assert rejected_now.status_code in (200, 409), rejected_now.text


async def test_every_bank_request_of_the_journeys_is_an_operation_of_the_contract(
    tpp: Tpp, recording: Recording, client: Any  # noqa: F811
) -> None:
    await _account_journey(tpp)
    await _payment_journey(tpp)
    await _vrp_journey(tpp)
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert recording.sent, "the journeys called the bank"
    assert violations(recording.sent) == []
    called = operations_of(recording.sent)
    # The journeys reach every part of the contract: sign-in, accounts list, AIS, payments, VRP, funds, scenarios.
    for expected in ("BankAuthenticatePsu", "BankListCustomerAccounts", "BankGetAccounts",
                     "BankGetAccountsAccountIdBalances", "BankGetAccountsAccountIdTransactions",
                     "BankExecuteDomesticPayment", "BankReadDomesticPaymentDetails",
                     "BankExecuteDomesticScheduledPayment", "BankExecuteDomesticStandingOrder",
                     "BankExecuteDomesticVrp", "BankReadDomesticVrp", "BankReadDomesticVrpDetails", "BankCheckFunds",
                     "BankSandboxSettlePayment", "BankSandboxRejectPayment", "BankSandboxRejectNextVrp",
                     "BankHealth"):
        assert expected in called, expected


async def test_a_request_outside_the_contract_is_caught(tpp: Tpp, recording: Recording) -> None:  # noqa: F811
    await _account_journey(tpp)
    tampered = [Sent(s.method, s.path_and_query, {k: v for k, v in s.headers.items() if k != "x-obgw-context"}, s.body)
                for s in recording.sent]
    assert violations(tampered) and all("ObgwContext" in v for v in violations(tampered))
    assert violations([Sent("GET", "/bank/v1/aisp/international-payments", {"x-obgw-context": "t"}, b"")])


# --------------------------------------------------------------------------- no operation the gateway never calls


def _bank_methods_called_by_the_gateway() -> set[str]:
    """The ``Bank`` methods some module of the gateway outside ``gateway/backend`` and ``gateway/cli`` calls."""
    called: set[str] = set()
    for path in (REPO_ROOT / "gateway").rglob("*.py"):
        if path.parts[-2] in ("backend",) or "cli" in path.relative_to(REPO_ROOT / "gateway").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute | ast.Name):
                owner = node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id
                if owner in ("bank", "_bank"):
                    called.add(node.attr)
    return called


def test_every_operation_names_a_bank_call_the_gateway_makes() -> None:
    called = _bank_methods_called_by_the_gateway()
    for op_id, caller in _callers().items():
        method = caller.split(" ")[0].removeprefix("gateway.backend.bank.Bank.")
        assert callable(getattr(Bank, method, None)), (op_id, caller)
        assert method in called, f"{op_id}: the gateway never calls Bank.{method}"


def test_the_ais_operations_are_exactly_the_served_ais_operations() -> None:
    """Each AIS operation of the rulebook goes to the bank at its own sub-path, and the document has no other."""
    settings = Settings()
    declared = {op for op in declared_operations(settings.policies_dir)}
    document = contract.load().document
    public = {op["x-obgw-public-operation"] for item in document["paths"].values() for op in item.values()
              if op.get("x-obgw-purpose") == "ais"}
    official = yaml.safe_load(
        (REPO_ROOT / "openapi/obie/account-and-transaction/v3.1.11/account-info-openapi.yaml").read_text())
    resources = {op["operationId"] for path, item in official["paths"].items() for op in item.values()
                 if isinstance(op, dict) and "operationId" in op and not path.startswith("/account-access-consents")}
    served_ais = declared & resources
    assert public == served_ais


def test_the_payment_operations_are_exactly_the_served_payment_kinds() -> None:
    paths = set(contract.load().document["paths"])
    executed = {p.removeprefix("/bank/v1/pisp/") for p in paths if p.startswith("/bank/v1/pisp/") and p.count("/") == 4}
    assert executed == {kind.collection for kind in KINDS} | {"domestic-vrps"}


def _callers() -> dict[str, str]:
    document = contract.load().document
    return {op["operationId"]: op["x-obgw-caller"] for item in document["paths"].values() for op in item.values()}


def test_the_recorded_requests_are_json_where_they_have_a_body(recording: Recording) -> None:
    # A guard on the helper itself: a body the gateway sends is JSON (the document's only request media type).
    sent = Sent("POST", "/bank/v1/psu-authentications", {"x-obgw-context": "t", "content-type": "application/json"},
                json.dumps({"username": "alice", "password": "x"}).encode())
    assert violations([sent]) == []
    assert violations([Sent(sent.method, sent.path_and_query, sent.headers, b'{"username": 1}')])
