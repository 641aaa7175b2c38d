"""The rulebook's algorithm lists (policies/fapi.yaml ``algorithms``) decide which algs the gateway accepts.

FAPI 2.0 Security Profile section 5.4 bounds every list to PS256, ES256 and EdDSA; within that the rulebook is
authoritative (docs/architecture.md section 6): a request object, client assertion or DPoP proof signed with an
alg its list leaves out is refused. Each test either uses the shipped rulebook or a copy with one list changed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from gateway.security import jose
from gateway.settings import Settings
from gateway.store.oauth_tables import Client
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.helpers.oauth import FORM
from tests.helpers.oauth import FapiClient
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.helpers.oauth import insert_client
from tests.helpers.oauth import pkce_pair

SHIPPED = Path(__file__).resolve().parents[3] / "policies"


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shipped rulebook, or (parametrized with ``(use, algs)``) a copy whose one algorithm list is changed."""
    change: tuple[str, list[str]] | None = getattr(request, "param", None)
    if change is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)
    policies = tmp_path / "policies"
    shutil.copytree(SHIPPED, policies)
    fapi = yaml.safe_load((policies / "fapi.yaml").read_text())
    use, algs = change
    assert use in fapi["algorithms"]
    fapi["algorithms"][use] = algs
    (policies / "fapi.yaml").write_text(yaml.safe_dump(fapi))
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)


async def _with_extra_key(db: Any, fapi: FapiClient, key: dict[str, Any]) -> None:
    """Register a second signing key for the client (its jwks then holds both)."""
    async with db.session() as session:
        row = (await session.exec(select(Client).where(Client.client_id == fapi.client_id))).one()
        row.jwks = jose.public_jwks([fapi.key, key])
        session.add(row)
        await session.commit()


async def _push_signed_with(client, db, key: dict[str, Any]) -> Any:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    await _with_extra_key(db, fapi, key)
    _, challenge = pkce_pair()
    request_object = fapi.request_object(fapi.authorization_params(challenge=challenge), key=key)
    return await fapi.push(client, {"client_id": fapi.client_id, "request": request_object})


async def test_shipped_rulebook_refuses_an_eddsa_request_object(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _push_signed_with(client, db, jose.generate_key(alg="EdDSA", kid="ed"))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request_object"
    assert "PS256, ES256" in response.json()["error_description"]


@pytest.mark.parametrize("settings", [("request_object", ["PS256", "ES256", "EdDSA"])], indirect=True)
async def test_eddsa_request_object_is_accepted_when_the_rulebook_lists_it(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _push_signed_with(client, db, jose.generate_key(alg="EdDSA", kid="ed"))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("settings", [("request_object", ["PS256"])], indirect=True)
async def test_es256_request_object_is_refused_when_the_rulebook_drops_it(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _push_signed_with(client, db, jose.generate_key(alg="ES256", kid="ec"))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request_object"


async def _client_credentials(client, fapi: FapiClient) -> Any:  # type: ignore[no-untyped-def]
    form = {"grant_type": "client_credentials", "scope": "accounts", **fapi.auth()}
    return await client.post("/token", data=form, headers={**FORM, "DPoP": fapi.dpop("POST", "/token")})


async def test_shipped_rulebook_refuses_an_eddsa_client_assertion(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db, key=jose.generate_key(alg="EdDSA", kid="ed"))
    response = await _client_credentials(client, fapi)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("settings", [("client_assertion", ["PS256"])], indirect=True)
async def test_es256_client_assertion_is_refused_when_the_rulebook_drops_it(client, db) -> None:  # type: ignore[no-untyped-def]
    fapi = await insert_client(db)
    response = await _client_credentials(client, fapi)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "PS256" in response.json()["error_description"]


async def test_shipped_rulebook_accepts_es256_client_assertions_and_dpop_proofs(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _client_credentials(client, await insert_client(db))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("settings", [("dpop_proof", ["PS256"])], indirect=True)
async def test_es256_dpop_proof_is_refused_when_the_rulebook_drops_it(client, db) -> None:  # type: ignore[no-untyped-def]
    response = await _client_credentials(client, await insert_client(db))
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == "invalid_dpop_proof"
