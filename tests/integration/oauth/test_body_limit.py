"""The gateway app refuses oversized bodies with 413 in the OBIE error form (gateway/hosting/body_limit.py, shipped
defaults: 1 MiB, 64 KiB for forms)."""

from __future__ import annotations

from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)


async def test_an_oversized_token_form_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/token", content=b"grant_type=" + b"x" * (65 * 1024),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert response.json()["Errors"][0]["ErrorCode"] == "UK.OBIE.Field.Invalid"
    assert response.headers["x-fapi-interaction-id"]


async def test_an_oversized_payment_body_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/open-banking/v3.1/pisp/domestic-payment-consents", content=b"[" * (2 * 1024 * 1024),
                                 headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_a_deeply_nested_registration_body_is_a_400(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/register", content=b"[" * 10_000 + b"]" * 10_000,
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_client_metadata")


async def test_invalid_utf8_in_a_registration_body_is_a_400(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/register", content=b'{"a": "\xff"}', headers={"content-type": "application/json"})
    assert response.status_code == 400


async def test_an_oversized_dashboard_sign_in_form_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    # Customer pages read their forms only after the app-wide bound (OBGW_MAX_FORM_BYTES) let them through.
    response = await client.post("/consents/login", content=b"username=" + b"x" * (65 * 1024),
                                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
