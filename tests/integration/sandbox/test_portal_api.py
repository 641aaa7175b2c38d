"""The portal's JSON API: create an app (201 with the SSA and the private parts once), read it back without
private parts, list the test customers; invalid input is a 400 naming field and rule. Private keys are never
stored: the database rows hold public keys only."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from sqlalchemy import text

from sandbox.db import SandboxDatabase
from sandbox.directory import PRIVATE_MEMBERS
from sandbox.directory import generate_signing_key
from sandbox.directory import public_jwk
from sandbox.settings import SandboxSettings

APP = {"name": "Budget app", "redirect_uris": ["https://tpp.example/cb"], "roles": ["AISP", "PISP"]}


@pytest.fixture(scope="module")
def tpp_public_jwks() -> dict[str, Any]:
    return {"keys": [public_jwk(generate_signing_key(alg="ES256"))]}


async def all_rows(settings: SandboxSettings) -> str:
    """Every stored app row, read straight from the sandbox database."""
    db = SandboxDatabase(settings.database_url)
    try:
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT * FROM sandbox_software"))).all()
    finally:
        await db.dispose()
    return json.dumps([[str(v) for v in row] for row in rows])


def verify_ssa(token: str, directory_jwks: dict[str, Any]) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in directory_jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["PS256"])


async def test_create_app_with_generated_key(sandbox: httpx.AsyncClient, sandbox_settings: SandboxSettings) -> None:
    response = await sandbox.post("/portal/api/apps", json=APP)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert len(body["software_id"]) == 22 and len(body["org_id"]) == 18
    private = body["private_jwk"]
    assert "d" in private and private["kid"]
    directory_jwks = (await sandbox.get("/directory/jwks")).json()
    claims = verify_ssa(body["software_statement"], directory_jwks)
    assert claims["software_id"] == body["software_id"]
    assert claims["software_roles"] == ["AISP", "PISP"]
    assert claims["software_jwks"] == {"keys": [public_jwk(private)]}
    # The private key is shown once and never kept.
    rows = await all_rows(sandbox_settings)
    assert body["software_id"] in rows
    assert private["d"] not in rows and private["p"] not in rows


async def test_software_jwks_endpoint_serves_public_keys_only(sandbox: httpx.AsyncClient) -> None:
    body = (await sandbox.post("/portal/api/apps", json=APP)).json()
    claims = jwt.decode(body["software_statement"], options={"verify_signature": False})
    path = claims["software_jwks_endpoint"].removeprefix("http://127.0.0.1:8001")
    jwks = (await sandbox.get(path)).json()
    assert jwks == {"keys": [public_jwk(body["private_jwk"])]}
    assert not any(PRIVATE_MEMBERS & set(k) for k in jwks["keys"])


async def test_unknown_software_jwks_is_404(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.get("/directory/software/nope/jwks")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_directory_jwks_has_no_private_members(sandbox: httpx.AsyncClient) -> None:
    jwks = (await sandbox.get("/directory/jwks")).json()
    assert jwks["keys"] and not any(PRIVATE_MEMBERS & set(k) for k in jwks["keys"])


async def test_create_app_with_pasted_jwks_returns_no_private_key(
    sandbox: httpx.AsyncClient, tpp_public_jwks: dict[str, Any]
) -> None:
    response = await sandbox.post("/portal/api/apps", json={**APP, "jwks": tpp_public_jwks})
    assert response.status_code == 201
    body = response.json()
    assert "private_jwk" not in body
    claims = jwt.decode(body["software_statement"], options={"verify_signature": False})
    assert claims["software_jwks"] == tpp_public_jwks


async def test_tls_client_auth_app_gets_a_ca_signed_certificate(
    sandbox: httpx.AsyncClient, sandbox_settings: SandboxSettings, tpp_public_jwks: dict[str, Any], var_dir: Any
) -> None:
    response = await sandbox.post(
        "/portal/api/apps", json={**APP, "token_endpoint_auth_method": "tls_client_auth", "jwks": tpp_public_jwks}
    )
    assert response.status_code == 201
    body = response.json()
    cert = x509.load_pem_x509_certificate(body["client_certificate_pem"].encode())
    assert cert.subject.rfc4514_string() == body["tls_client_auth_subject_dn"]
    assert f"CN={body['software_id']}" in body["tls_client_auth_subject_dn"]
    assert f"OU={body['org_id']}" in body["tls_client_auth_subject_dn"]
    ca = x509.load_pem_x509_certificate((var_dir / "sandbox" / "ca" / "ca-cert.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert "PRIVATE KEY" in body["client_key_pem"]
    rows = await all_rows(sandbox_settings)
    key_body = body["client_key_pem"].splitlines()[1]
    assert key_body not in rows


async def test_get_app_has_no_private_parts_and_a_fresh_ssa(sandbox: httpx.AsyncClient) -> None:
    created = (await sandbox.post("/portal/api/apps", json={**APP, "token_endpoint_auth_method": "tls_client_auth"})).json()
    response = await sandbox.get(f"/portal/api/apps/{created['software_id']}")
    assert response.status_code == 200
    body = response.json()
    assert "private_jwk" not in body and "client_key_pem" not in body
    assert body["software_id"] == created["software_id"]
    assert body["tls_client_auth_subject_dn"] == created["tls_client_auth_subject_dn"]
    directory_jwks = (await sandbox.get("/directory/jwks")).json()
    assert verify_ssa(body["software_statement"], directory_jwks)["software_id"] == created["software_id"]


async def test_get_unknown_app_is_404(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.get("/portal/api/apps/unknown")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"redirect_uris": ["not a url"]}, "redirect_uris", "absolute_http_url"),
        ({"roles": ["BANK"]}, "roles", "enum:AISP,PISP,CBPII"),
        ({"name": ""}, "name", "required"),
        ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method",
         "enum:private_key_jwt,tls_client_auth"),
        ({"jwks": {"keys": []}}, "jwks", "jwk_set"),
    ],
)
async def test_invalid_input_is_400_with_field_and_rule(
    sandbox: httpx.AsyncClient, changes: dict[str, Any], field: str, rule: str
) -> None:
    response = await sandbox.post("/portal/api/apps", json={**APP, **changes})
    assert response.status_code == 400
    assert response.json() == {**response.json(), "error": "invalid_request", "field": field, "rule": rule}


async def test_non_json_body_is_415(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post("/portal/api/apps", data={"name": "x"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_malformed_json_is_400(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post(
        "/portal/api/apps", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["rule"]) == ("invalid_request", "json")


async def test_oversized_body_is_413(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post(
        "/portal/api/apps", json={**APP, "description": "x" * 70_000}
    )
    assert response.status_code == 413
    assert response.json()["rule"] == "max_size:65536"


async def test_psus_lists_customers_with_passwords_and_accounts(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.get("/portal/api/psus")
    assert response.status_code == 200
    psus = {p["username"]: p for p in response.json()["psus"]}
    assert {"alice", "bob", "carol", "dave", "erin"} <= set(psus)
    assert psus["alice"]["password"] == "alice-wonderland"
    card = next(a for a in psus["carol"]["accounts"] if a["account_subtype"] == "CreditCard")
    assert card["scheme_name"] == "UK.OBIE.PAN"


async def test_sandbox_tables_stay_out_of_the_gateway_metadata() -> None:
    from sqlmodel import SQLModel

    import gateway.store.oauth_tables  # noqa: F401
    from sandbox.db import SANDBOX_METADATA

    assert "sandbox_customer" in SANDBOX_METADATA.tables
    assert not any(name.startswith("sandbox_") for name in SQLModel.metadata.tables)
    assert "oauth_client" not in SANDBOX_METADATA.tables
