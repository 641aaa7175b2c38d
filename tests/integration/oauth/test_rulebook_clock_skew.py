"""The rulebook's clock window (policies/fapi.yaml ``clock_skew``) is the one every time check of the authorization
server uses.

FAPI 2.0 Security Profile section 5.3.2.1 and RFC 9449 section 11.1 (as policies/fapi.yaml cites them): ``iat``/``nbf``
may be up to ``ahead_seconds`` in the future, client assertions and DPoP proofs at most ``max_age_seconds`` old.
Each test runs the gateway on the shipped rulebook or a copy with one of the two values changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.helpers.oauth import FORM
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import FromNow
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair
from tests.helpers.rulebook import changed_rulebook


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shipped rulebook, or (parametrized with ``{dotted fapi.yaml key: value}``) a copy with those values."""
    fapi = getattr(request, "param", None)
    if fapi is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)
    policies = changed_rulebook(tmp_path / "policies", fapi=fapi)
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)


async def _token(client, fapi: FapiClient, *, assertion: dict[str, Any] | None = None,  # type: ignore[no-untyped-def]
                 proof: dict[str, Any] | None = None) -> Any:
    form = {"grant_type": "client_credentials", "scope": "accounts", **fapi.auth(**(assertion or {}))}
    return await client.post("/token", data=form,
                             headers={**FORM, "DPoP": fapi.dpop("POST", "/token", **(proof or {}))})


AHEAD_5 = {"iat": FromNow(5)}
OLD_30 = {"iat": FromNow(-30)}
NO_SKEW = {"clock_skew.ahead_seconds": 0}
SHORT_AGE = {"clock_skew.max_age_seconds": 20}


async def test_shipped_rulebook_accepts_an_assertion_and_a_proof_5_s_ahead_or_30_s_old(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    for times in (AHEAD_5, OLD_30):
        assert (await _token(client, fapi, assertion=times)).status_code == 200
        assert (await _token(client, fapi, proof=times)).status_code == 200


@pytest.mark.parametrize("settings", [NO_SKEW], indirect=True)
async def test_no_skew_refuses_an_assertion_or_a_proof_5_s_ahead(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    refused = await _token(client, fapi, assertion=AHEAD_5)
    assert refused.status_code == 401, refused.text
    assert "iat is in the future" in refused.json()["error_description"]
    refused = await _token(client, fapi, proof=AHEAD_5)
    assert refused.status_code in (400, 401), refused.text
    assert refused.json()["error"] == "invalid_dpop_proof"
    assert (await _token(client, fapi)).status_code == 200


@pytest.mark.parametrize("settings", [SHORT_AGE], indirect=True)
async def test_a_shorter_max_age_refuses_an_assertion_or_a_proof_30_s_old(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    refused = await _token(client, fapi, assertion=OLD_30)
    assert refused.status_code == 401, refused.text
    assert "more than 20 s old" in refused.json()["error_description"]
    refused = await _token(client, fapi, proof=OLD_30)
    assert refused.status_code in (400, 401), refused.text
    assert refused.json()["error"] == "invalid_dpop_proof"


async def _push(client, db, **times: Any) -> Any:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    _, challenge = pkce_pair()
    request_object = fapi.request_object(fapi.authorization_params(challenge=challenge), **times)
    return await fapi.push(client, {"client_id": fapi.client_id, "request": request_object})


async def test_shipped_rulebook_accepts_a_request_object_valid_from_5_s_ahead(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _push(client, db, nbf=int(time.time()) + 5)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("settings", [NO_SKEW], indirect=True)
async def test_no_skew_refuses_a_request_object_valid_from_5_s_ahead(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _push(client, db, nbf=int(time.time()) + 5)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request_object"
