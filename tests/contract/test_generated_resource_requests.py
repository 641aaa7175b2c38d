"""Requests generated from ``openapi/`` against the resource APIs, in-process: every AIS read, the payment orders
and the funds checks, on the customer's tokens (R/W API v3.1.11 AIS, PIS and CBPII endpoint tables).

The gateway reaches the bank for these over a real socket (aiohttp, ``gateway.backend.upstream``), which cannot call an
ASGI app, so here the sandbox app is also served on a free 127.0.0.1 port and the gateway's ``sandbox_url``
points there. Checks as for the consent endpoints: no 5xx, every answer as its operation documents it, every
error an ``OBErrorResponse1``, and the positive cases reach the handlers (their 2xx share is asserted).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.contract.customer import authorise_customer
from tests.contract.fuzzing import RESOURCE_OPERATIONS
from tests.contract.fuzzing import Context
from tests.contract.fuzzing import Depth
from tests.contract.fuzzing import Run
from tests.contract.fuzzing import depth_from
from tests.contract.fuzzing import run_suite
from tests.contract.partner import onboard
from tests.live import free_port

# Measured share of positive cases answered 2xx, per API, must stay above this: half the positive cases
# address the customer's own resources with valid bodies, the other half keep generated identifiers.
MIN_POSITIVE_SUCCESS = 0.25


@pytest.fixture(scope="session")
def depth() -> Depth:
    return depth_from(dict(os.environ))


@pytest.fixture
async def live_bank(sandbox_app) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The sandbox app on a free loopback port, served inside the test's own event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(sandbox_app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
def settings(var_dir: Path, live_bank: str) -> Settings:
    # Overrides the shared fixture: the gateway's upstream calls go to the served sandbox; the shipped rulebook
    # (the suite paces itself on the RateLimit headers, as a TPP would).
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=live_bank)


def _api_report(run: Run) -> str:
    lines = []
    for document, operation_ids in RESOURCE_OPERATIONS.items():
        chosen = [run.by_id(o) for o in operation_ids]
        total = sum(o.total for o in chosen)
        lines.append(f"{document}: positive 2xx {sum(o.successes for o in chosen)}/{total}")
    return "\n".join(lines)


async def test_resource_apis_answer_generated_requests_as_documented(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, depth: Depth
) -> None:
    partner = await onboard(client, sandbox)
    ctx = Context(partner=partner, gateway_url=ISSUER, sandbox_url=SANDBOX_URL,
                  customer=await authorise_customer(partner))
    run = await run_suite(documents=RESOURCE_OPERATIONS, ctx=ctx, clients={"gateway": client}, depth=depth)
    print(run.report())
    print(_api_report(run))
    assert not run.failures(), "\n\n".join(run.failures())
    for document, operation_ids in RESOURCE_OPERATIONS.items():
        chosen = [run.by_id(o) for o in operation_ids]
        share = sum(o.successes for o in chosen) / sum(o.total for o in chosen)
        assert share >= MIN_POSITIVE_SUCCESS, f"{document}\n{run.report()}"
        # Every operation answered 2xx at least once: the positive cases reach the handlers.
        for outcome in chosen:
            assert outcome.successes > 0, f"{outcome.operation_id}\n{run.report()}"
