"""Requests generated from ``openapi/`` against the in-process gateway and sandbox portal (schemathesis).

For every operation the system serves today: no 5xx, every answer is declared by the document (status,
content type, required headers, body schema), every OBIE error is an ``OBErrorResponse1``, and the positive
cases reach the handlers: a real share of them is answered 2xx. ``OBGW_CONTRACT_DEPTH=deep`` (``make
contract``) draws many more cases per operation.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.contract.fuzzing import OAUTH_MUTATING_OPERATIONS
from tests.contract.fuzzing import OAUTH_OPERATIONS
from tests.contract.fuzzing import OBIE_OPERATIONS
from tests.contract.fuzzing import SANDBOX_OPERATIONS
from tests.contract.fuzzing import Context
from tests.contract.fuzzing import Depth
from tests.contract.fuzzing import depth_from
from tests.contract.fuzzing import run_suite
from tests.contract.partner import onboard

# The bounded run must leave most positive cases answered: measured 2xx share must stay above this.
MIN_POSITIVE_SUCCESS = 0.25


@pytest.fixture(scope="session")
def depth() -> Depth:
    # Session scope: read before the per-test fixture that clears OBGW_* variables from the environment.
    return depth_from(dict(os.environ))


async def _context(client: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> Context:
    return Context(partner=await onboard(client, sandbox), gateway_url=ISSUER, sandbox_url=SANDBOX_URL)


async def test_obie_consent_endpoints_answer_generated_requests_as_documented(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, depth: Depth
) -> None:
    ctx = await _context(client, sandbox)
    run = await run_suite(documents=OBIE_OPERATIONS, ctx=ctx, clients={"gateway": client}, depth=depth)
    print(run.report())
    assert not run.failures(), "\n\n".join(run.failures())
    assert run.success_ratio() >= MIN_POSITIVE_SUCCESS, run.report()
    # Each create and each read of a created consent was answered 2xx at least once.
    for operation_ids in OBIE_OPERATIONS.values():
        for operation_id in operation_ids:
            assert run.by_id(operation_id).successes > 0, run.report()


async def test_authorization_server_answers_generated_requests_as_documented(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, depth: Depth
) -> None:
    ctx = await _context(client, sandbox)
    run = await run_suite(documents={"oauth": OAUTH_OPERATIONS}, ctx=ctx, clients={"gateway": client}, depth=depth)
    print(run.report())
    assert not run.failures(), "\n\n".join(run.failures())
    assert run.success_ratio() >= MIN_POSITIVE_SUCCESS, run.report()
    for operation_id in OAUTH_OPERATIONS:
        assert run.by_id(operation_id).successes > 0, run.report()


async def test_registration_update_and_delete_answer_generated_requests_as_documented(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, depth: Depth
) -> None:
    # Each on a partner of its own: an update may change how the partner authenticates, a delete ends it.
    for operation_id in OAUTH_MUTATING_OPERATIONS:
        ctx = await _context(client, sandbox)
        run = await run_suite(
            documents={"oauth": (operation_id,)}, ctx=ctx, clients={"gateway": client}, depth=depth
        )
        print(run.report())
        assert not run.failures(), "\n\n".join(run.failures())


async def test_sandbox_portal_api_answers_generated_requests_as_documented(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, depth: Depth
) -> None:
    ctx = await _context(client, sandbox)
    run = await run_suite(documents={"sandbox": SANDBOX_OPERATIONS}, ctx=ctx, clients={"sandbox": sandbox}, depth=depth)
    print(run.report())
    assert not run.failures(), "\n\n".join(run.failures())
    for operation_id in SANDBOX_OPERATIONS:
        assert run.by_id(operation_id).successes > 0, run.report()
