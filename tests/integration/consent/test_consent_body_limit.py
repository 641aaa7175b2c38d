"""Bodies the consent API cannot take. One past ``OBGW_MAX_BODY_BYTES`` (shipped 1 MiB) sent without
``Content-Length`` is counted while it streams (gateway/hosting/body_limit.py): an authorised TPP's consent POST is refused
413 in the OBIE error form, even where the endpoint renders its own refusals (the signed payment-consent API).
One that is not UTF-8 (RFC 8259 section 8.1) or nests deeper than a parser should follow is a 400 in the OBIE
error form. None creates anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.consent.conftest import AISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import consent_count

PISP_CONSENTS = "/open-banking/v3.1/pisp/domestic-payment-consents"


async def two_mebibytes() -> AsyncIterator[bytes]:
    chunk = b"[" * (64 * 1024)
    for _ in range(32):
        yield chunk


@pytest.mark.parametrize("path", [AISP, PISP_CONSENTS])
async def test_a_chunked_oversized_consent_body_is_413_and_creates_nothing(tpp: Tpp, db, path: str) -> None:  # type: ignore[no-untyped-def]
    headers = {**tpp.auth("POST", path), "Content-Type": "application/json", "x-idempotency-key": "big-1",
               "x-jws-signature": "a..b"}
    response = await tpp.http.post(path, content=two_mebibytes(), headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["Code"] == "413 Payload Too Large"
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Field.Invalid"
    assert await consent_count(db, tpp.fapi.client_id) == 0


@pytest.mark.parametrize("path", [AISP, PISP_CONSENTS])
async def test_a_consent_body_that_is_not_utf8_is_400_and_creates_nothing(tpp: Tpp, db, path: str) -> None:  # type: ignore[no-untyped-def]
    response = await tpp.call("POST", path, content=b'{"Data": {"Permissions": ["\xff"]}, "Risk": {}}',
                              headers={"x-idempotency-key": "utf8-1"}, check=False)
    assert response.status_code == 400, response.text
    assert response.json()["Errors"][0]["ErrorCode"].startswith(("UK.OBIE.Field.", "UK.OBIE.Resource.", "UK.OBIE.Signature."))
    assert await consent_count(db, tpp.fapi.client_id) == 0


@pytest.mark.parametrize("path", [AISP, PISP_CONSENTS])
async def test_a_deeply_nested_consent_body_is_400_and_creates_nothing(tpp: Tpp, db, path: str) -> None:  # type: ignore[no-untyped-def]
    nested = b'{"Data": ' + b"[" * 100_000 + b"]" * 100_000 + b', "Risk": {}}'
    response = await tpp.call("POST", path, content=nested, headers={"x-idempotency-key": "deep-1"}, check=False)
    assert response.status_code == 400, response.text
    assert response.json()["Code"] == "400 Bad Request"
    assert await consent_count(db, tpp.fapi.client_id) == 0
