"""The bank-backend contract (``openapi/bank-backend.yaml``, docs/architecture.md section 9), answered side: the
sandbox bank implements exactly this document. Every operation is answered with a correctly signed context
and every answer validates against the document (openapi-core, through the checks of ``obgw bank check``),
and the sandbox's bank routes are the document's operations, no more and no fewer.

The calling side (every request the gateway sends matches an operation) is
``tests/contract/test_bank_backend_requests.py``.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.routing import Route

from gateway.cli.bank_check import contract
from gateway.cli.bank_check.checks import FAIL
from gateway.cli.bank_check.checks import PASS
from gateway.cli.bank_check.checks import BankCheck
from gateway.cli.bank_check.signing import ContextSigner
from gateway.security.keys import KeyStore
from sandbox.payments import COLLECTIONS
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL

# Sandbox routes under /bank/ that are no call of the gateway, and why (the document says the same).
NOT_IN_CONTRACT = {("POST", "/bank/v1/sandbox/clock"): "the sandbox's own clock control, used by its tests"}


def _bank_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every bank route the sandbox serves, its ``{collection}`` spelled out."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, Route) or not (route.path.startswith("/bank/") or route.path == "/healthz"):
            continue
        paths = [route.path.replace("{collection:str}", c) for c in COLLECTIONS] if "{collection" in route.path \
            else [route.path]
        for path in paths:
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, path))
    return found


async def test_every_operation_is_answered_by_the_sandbox_and_every_answer_validates(
    sandbox: httpx.AsyncClient, gateway_keys: KeyStore
) -> None:
    bank = contract.load()
    results = await BankCheck(client=sandbox, signer=ContextSigner(key=gateway_keys.context_key, issuer=ISSUER),
                              contract=bank, username="alice", password="alice-wonderland", sandbox=True).run()
    failures = [(r.name, r.reason) for r in results if r.outcome == FAIL]
    assert failures == []
    answered = {r.operation for r in results if r.outcome == PASS}
    assert answered == {op.operation_id for op in bank.operations}


def test_the_sandbox_serves_exactly_the_operations_of_the_document(sandbox_settings: Any) -> None:
    from sandbox.app import create_app

    sandbox_app = create_app(sandbox_settings)  # its routes only: never started
    bank = contract.load()
    served = {
        (method, path) for method, path in _bank_routes(sandbox_app) if (method, path) not in NOT_IN_CONTRACT
    }
    # Every served route is one operation of the document, and every operation is a served route.
    unmatched = {(m, p) for m, p in served if bank.match(m, p.replace("{", "x").replace("}", "")) is None}
    assert unmatched == set()
    matched = {bank.match(m, p.replace("{", "x").replace("}", "")).operation_id for m, p in served}  # type: ignore[union-attr]
    assert matched == {op.operation_id for op in bank.operations}
    assert set(NOT_IN_CONTRACT) <= _bank_routes(sandbox_app)


def test_the_document_is_valid_openapi_and_every_call_carries_the_signed_context() -> None:
    bank = contract.load()
    assert bank.document["openapi"].startswith("3.")
    assert bank.document["security"] == [{"ObgwContext": []}]
    scheme = bank.document["components"]["securitySchemes"]["ObgwContext"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-obgw-context")
    for path, item in bank.document["paths"].items():
        for method, op in item.items():
            # Only the readiness probe goes without a context; every other operation names its purpose.
            if path == "/healthz":
                assert op["security"] == []
            else:
                assert "security" not in op and op.get("x-obgw-purpose"), (method, path)


def test_an_answer_outside_the_document_is_named() -> None:
    bank = contract.load()
    wrong = bank.check_answer("GET", "/bank/v1/aisp/balances", status=200, body=b'{"Data": {"Balance": "none"}}',
                              content_type="application/json")
    assert wrong is not None and "Balance" in wrong
    undeclared = bank.check_answer("GET", "/bank/v1/aisp/balances", status=500, body=b"{}",
                                   content_type="application/json")
    assert undeclared is not None and "500" in undeclared
    assert bank.check_request("GET", "/bank/v1/aisp/balances") is not None  # no x-obgw-context
    assert bank.check_request("DELETE", "/bank/v1/aisp/balances", headers={"x-obgw-context": "t"}) is not None


def test_a_request_of_the_document_is_recognised() -> None:
    bank = contract.load()
    assert bank.check_request("GET", "/bank/v1/aisp/accounts/acc-1/transactions",
                              query=[("fromBookingDateTime", "2024-01-01T00:00:00")],
                              headers={"x-obgw-context": "t"}) is None
    assert SANDBOX_URL == contract.SERVER
