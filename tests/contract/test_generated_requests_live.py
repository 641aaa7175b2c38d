"""The bounded generated-request suite against real ``obgw up`` processes over HTTP (what ``make run`` starts)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.contract.fuzzing import BOUNDED
from tests.contract.fuzzing import OAUTH_OPERATIONS
from tests.contract.fuzzing import OBIE_OPERATIONS
from tests.contract.fuzzing import SANDBOX_OPERATIONS
from tests.contract.fuzzing import Context
from tests.contract.fuzzing import run_suite
from tests.contract.partner import onboard
from tests.live import live_stack


async def test_the_running_servers_answer_generated_requests_as_documented(tmp_path: Path) -> None:
    with live_stack(tmp_path / "var") as stack:
        async with (
            httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as gateway,
            httpx.AsyncClient(base_url=stack.sandbox_url, timeout=10) as sandbox,
        ):
            ctx = Context(partner=await onboard(gateway, sandbox), gateway_url=stack.gateway_url,
                          sandbox_url=stack.sandbox_url)
            run = await run_suite(
                documents={**OBIE_OPERATIONS, "oauth": OAUTH_OPERATIONS, "sandbox": SANDBOX_OPERATIONS},
                ctx=ctx, clients={"gateway": gateway, "sandbox": sandbox}, depth=BOUNDED,
            )
    print(run.report())
    assert not run.failures(), "\n\n".join(run.failures())
    assert run.success_ratio() >= 0.25, run.report()
