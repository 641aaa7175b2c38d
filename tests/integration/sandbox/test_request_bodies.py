"""The sandbox reads every body bounded while it streams (sandbox/bodies.py, shipped limits: 64 KiB for the
portal, 1 MiB for the bank API): past the limit it answers 413 ``payload_too_large``, announced or chunked, and
creates nothing; a body that is not UTF-8 is a 400."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from gateway.security.keys import KeyStore
from sandbox.settings import SandboxSettings
from tests.integration.sandbox.test_bank_api import context


async def chunks(total: int) -> AsyncIterator[bytes]:
    chunk = b"x" * (16 * 1024)
    for _ in range(total // len(chunk)):
        yield chunk


def test_the_shipped_limits() -> None:
    settings = SandboxSettings()
    assert (settings.max_body_bytes, settings.max_form_bytes) == (1024 * 1024, 64 * 1024)
    assert SandboxSettings.from_env({"OBGW_SANDBOX_MAX_FORM_BYTES": "512"}).max_form_bytes == 512


async def test_a_chunked_portal_form_past_the_limit_is_413_and_registers_nothing(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post("/portal/apps", content=chunks(20 * 1024 * 1024),
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert "64" in response.text or "65536" in response.text


async def test_an_announced_portal_json_body_past_the_limit_is_413(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post("/portal/api/apps", content=b"{" + b" " * (65 * 1024) + b"}",
                                  headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "payload_too_large", "error_description": "body larger than 65536 bytes",
                               "rule": "max_size:65536"}


async def test_a_chunked_bank_api_body_past_the_limit_is_413(sandbox: httpx.AsyncClient,
                                                             gateway_keys: KeyStore) -> None:
    response = await sandbox.post("/bank/v1/psu-authentications", content=chunks(2 * 1024 * 1024),
                                  headers={"content-type": "application/json",
                                           "x-obgw-context": context(gateway_keys.context_key)})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_a_portal_body_that_is_not_utf8_is_400(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post("/portal/api/apps", content=b'{"name": "\xff"}',
                                  headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
