"""OAuth endpoints read strictly parsed forms (RFC 6749 section 3.2 form encoding; section 3.1: a parameter
must not be included more than once): a malformed form or a repeated parameter is 400 invalid_request."""

from __future__ import annotations

import pytest

from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("body", [
    b"grant_type=client_credentials&grant_type=authorization_code",
    b"grant_type=client_credentials&&scope=accounts",
    b"grant_type",
    b"grant_type=client_credentials&scope=%FF",
    b"grant_type=client_credentials&scope=\xff",
])
async def test_token_refuses_malformed_or_repeated_form_fields(client, body: bytes) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/token", content=body, headers=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"

