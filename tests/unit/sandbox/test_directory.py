"""The sandbox directory (docs/obie-notes.md section 8): SSAs signed PS256 with ``typ: JWT`` and ``kid``, verifiable with the
public JWKS the gateway trusts, carrying the OBIE claims; the private key file is 0600 and never published."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import jwt
import pytest

from sandbox.directory import PRIVATE_MEMBERS
from sandbox.directory import Directory
from sandbox.directory import generate_signing_key
from sandbox.directory import public_jwk
from sandbox.models import SoftwareApp
from sandbox.settings import SandboxSettings


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory(settings=SandboxSettings(var_dir=tmp_path, public_url="http://127.0.0.1:8001"))


@pytest.fixture(scope="module")
def tpp_key() -> dict[str, object]:
    return generate_signing_key(alg="ES256")


def app_row(tpp_key: dict[str, object]) -> SoftwareApp:
    return SoftwareApp(
        software_id="abcDEF0123456789abcDEF",
        org_id="ORG0123456789abcde",
        org_name="Budget Ltd",
        client_name="Budget app",
        description="Helps with budgets",
        redirect_uris=["https://tpp.example/cb"],
        roles=["AISP", "PISP"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public_jwk(tpp_key)]},
    )


def test_signing_key_is_created_on_first_use_private_and_0600(directory: Directory, tmp_path: Path) -> None:
    keys_file = tmp_path / "sandbox" / "directory-keys.json"
    assert not keys_file.exists()
    directory.signing_keys()
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    public = json.loads((tmp_path / "sandbox" / "directory-jwks.json").read_text())
    assert public["keys"] and not any(PRIVATE_MEMBERS & set(k) for k in public["keys"])


def test_existing_key_is_reused(tmp_path: Path) -> None:
    settings = SandboxSettings(var_dir=tmp_path)
    first = Directory(settings=settings).signing_keys()[-1]["kid"]
    assert Directory(settings=settings).signing_keys()[-1]["kid"] == first


def test_ssa_verifies_with_the_published_jwks_and_carries_obie_claims(
    directory: Directory, tmp_path: Path, tpp_key: dict[str, object]
) -> None:
    before = int(time.time())
    token = directory.issue_software_statement(app=app_row(tpp_key))
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT" and header["alg"] == "PS256"
    published = json.loads((tmp_path / "sandbox" / "directory-jwks.json").read_text())
    key = next(k for k in published["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["PS256"])
    assert claims["iss"] == "obgw sandbox directory"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["jti"]
    assert claims["software_id"] == claims["software_client_id"] == "abcDEF0123456789abcDEF"
    assert claims["software_client_name"] == "Budget app"
    assert claims["software_client_description"] == "Helps with budgets"
    assert claims["software_version"]
    assert claims["software_environment"] == "sandbox"
    assert claims["software_mode"] == "Test"
    assert claims["software_redirect_uris"] == ["https://tpp.example/cb"]
    assert claims["software_roles"] == ["AISP", "PISP"]
    assert claims["software_jwks_endpoint"] == (
        "http://127.0.0.1:8001/directory/software/abcDEF0123456789abcDEF/jwks"
    )
    assert claims["software_jwks"] == {"keys": [public_jwk(tpp_key)]}
    assert claims["org_id"] == "ORG0123456789abcde"
    assert claims["org_name"] == "Budget Ltd"
    assert claims["org_status"] == "Active"
    authority = claims["organisation_competent_authority_claims"]
    assert authority["status"] == "Active"
    assert authority["authorisations"][0]["roles"] == ["AISP", "PISP"]


def test_ssa_does_not_verify_with_another_key(directory: Directory, tpp_key: dict[str, object]) -> None:
    token = directory.issue_software_statement(app=app_row(tpp_key))
    other = public_jwk(generate_signing_key(alg="PS256"))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWK(other).key, algorithms=["PS256"])
