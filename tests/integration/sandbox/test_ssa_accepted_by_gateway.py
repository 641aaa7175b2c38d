"""Contract between the sandbox directory and the gateway (journey 1): a software statement the portal issues
verifies with the gateway's own software-statement check, through the shared ``var/sandbox`` JWKS file."""

from __future__ import annotations

from types import SimpleNamespace

import httpx

from gateway.app import _contract
from gateway.oauth.software_statements import verify_software_statement
from gateway.settings import Settings


async def test_portal_ssa_passes_the_gateway_software_statement_check(
    sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    created = (
        await sandbox.post(
            "/portal/api/apps",
            json={"name": "Budget app", "redirect_uris": ["https://tpp.example/cb"], "roles": ["AISP"]},
        )
    ).json()
    _, policies = _contract(settings.openapi_dir.resolve(), settings.policies_dir.resolve())  # the shipped rulebook
    claims = await verify_software_statement(
        created["software_statement"], services=SimpleNamespace(settings=settings, policies=policies)
    )
    assert claims["software_id"] == created["software_id"]
    assert claims["org_id"] == created["org_id"]
