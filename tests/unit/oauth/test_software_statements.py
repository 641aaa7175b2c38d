"""Software statements (RFC 7591 section 2.3; OBIE Directory SSA): signed by a trusted directory key,
PS256/ES256 only, within their validity window, with the claims a registration relies on."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.app import _contract
from gateway.errors import InvalidSoftwareStatement
from gateway.errors import UnapprovedSoftwareStatement
from gateway.oauth.software_statements import directory_jwks_path
from gateway.oauth.software_statements import verify_software_statement
from gateway.security import jose
from gateway.settings import Settings
from tests.helpers.ssa import DirectoryKeys
from tests.helpers.ssa import make_directory
from tests.helpers.ssa import make_ssa

REDIRECT = "https://tpp.example/callback"


@pytest.fixture
def directory(var_dir: Path) -> DirectoryKeys:
    return make_directory(var_dir)


@pytest.fixture
def services(settings: Settings) -> SimpleNamespace:
    """What the check reads: the settings and the shipped rulebook (policies/fapi.yaml)."""
    _, policies = _contract(settings.openapi_dir.resolve(), settings.policies_dir.resolve())
    return SimpleNamespace(settings=settings, policies=policies)


def with_fapi(services: SimpleNamespace, **changes: object) -> SimpleNamespace:
    """``services`` whose rulebook has ``changes`` in its resolved fapi.yaml (e.g. clock_skew_ahead=0)."""
    fapi = dataclasses.replace(services.policies.fapi, **changes)
    return SimpleNamespace(settings=services.settings, policies=dataclasses.replace(services.policies, fapi=fapi))


def ssa(directory: DirectoryKeys, **kwargs: object) -> str:
    values: dict[str, object] = {"software_id": "app1", "redirect_uris": [REDIRECT], "roles": ["AISP"]}
    values.update(kwargs)
    return make_ssa(directory, **values)  # type: ignore[arg-type]


async def test_ssa_signed_by_directory_key_is_accepted(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    claims = await verify_software_statement(ssa(directory), services=services)
    assert claims["software_id"] == "app1"
    assert claims["software_redirect_uris"] == [REDIRECT]
    assert claims["software_roles"] == ["AISP"]


async def test_ssa_signed_ps256_is_accepted(var_dir: Path, services: SimpleNamespace) -> None:
    directory = make_directory(var_dir, alg="PS256")
    claims = await verify_software_statement(ssa(directory), services=services)
    assert claims["org_id"]


async def test_directory_key_created_after_first_use_is_found(
    directory: DirectoryKeys, var_dir: Path, services: SimpleNamespace
) -> None:
    await verify_software_statement(ssa(directory), services=services)
    # The sandbox may add a directory key while the gateway runs: an unknown kid re-reads the file.
    later = make_directory(var_dir)
    claims = await verify_software_statement(ssa(later, software_id="app2"), services=services)
    assert claims["software_id"] == "app2"


async def test_directory_key_removed_from_file_is_no_longer_trusted(
    directory: DirectoryKeys, services: SimpleNamespace
) -> None:
    await verify_software_statement(ssa(directory), services=services)
    directory.jwks_path.write_text(json.dumps({"keys": []}))
    with pytest.raises(UnapprovedSoftwareStatement):
        await verify_software_statement(ssa(directory), services=services)


async def test_unsigned_ssa_is_invalid(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    good = ssa(directory)
    header = jose.b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": directory.kid}).encode())
    unsigned = f"{header}.{good.split('.')[1]}."
    with pytest.raises(InvalidSoftwareStatement) as info:
        await verify_software_statement(unsigned, services=services)
    assert info.value.error == "invalid_software_statement"


async def test_rs256_ssa_is_invalid(directory: DirectoryKeys, var_dir: Path, services: SimpleNamespace) -> None:
    rsa = jose.generate_key(alg="PS256")
    path = directory.jwks_path
    path.write_text(json.dumps(jose.public_jwks([directory.key, rsa])))
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(ssa(directory, key=rsa, alg="RS256"), services=services)


async def test_ssa_signed_by_unknown_key_is_unapproved(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    stranger = jose.generate_key(alg="ES256")
    with pytest.raises(UnapprovedSoftwareStatement) as info:
        await verify_software_statement(ssa(directory, key=stranger), services=services)
    assert info.value.error == "unapproved_software_statement"


async def test_ssa_with_forged_signature_under_directory_kid_is_invalid(
    directory: DirectoryKeys, services: SimpleNamespace
) -> None:
    # An attacker's key that claims the directory's kid: the signature does not verify.
    forger = {**jose.generate_key(alg="ES256"), "kid": directory.kid}
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(ssa(directory, key=forger), services=services)


async def test_ssa_without_kid_is_invalid(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    keyless = {k: v for k, v in directory.key.items() if k != "kid"}
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(ssa(directory, key=keyless), services=services)


async def test_ssa_carrying_its_own_jwk_is_invalid(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    token = ssa(directory, headers={"jwk": jose.public_jwk(directory.key)})
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(token, services=services)


async def test_expired_ssa_is_invalid(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    token = ssa(directory, iat=int(time.time()) - 3600, lifetime=60)
    with pytest.raises(InvalidSoftwareStatement) as info:
        await verify_software_statement(token, services=services)
    assert "expired" in info.value.message


async def test_ssa_issued_in_the_future_is_invalid(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    token = ssa(directory, iat=int(time.time()) + 120)
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(token, services=services)


async def test_ssa_within_clock_skew_is_accepted(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    token = ssa(directory, iat=int(time.time()) + 5)
    assert (await verify_software_statement(token, services=services))["software_id"] == "app1"


async def test_the_clock_skew_is_the_rulebooks(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    # policies/fapi.yaml clock_skew.ahead_seconds: 0 refuses a statement issued 5 s ahead which 10 accepts.
    token = ssa(directory, iat=int(time.time()) + 5)
    assert await verify_software_statement(token, services=with_fapi(services, clock_skew_ahead=10))
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(token, services=with_fapi(services, clock_skew_ahead=0))


async def test_ssa_without_exp_is_accepted(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    token = ssa(directory, lifetime=None)
    assert "exp" not in await verify_software_statement(token, services=services)


@pytest.mark.parametrize("claim", ["software_id", "software_redirect_uris", "software_roles", "org_id"])
async def test_ssa_missing_required_claim_is_invalid(
    directory: DirectoryKeys, services: SimpleNamespace, claim: str
) -> None:
    claims = jose.unverified_claims(ssa(directory))
    del claims[claim]
    token = jose.sign(claims, key=directory.key)
    with pytest.raises(InvalidSoftwareStatement) as info:
        await verify_software_statement(token, services=services)
    assert claim in info.value.message


async def test_ssa_with_empty_roles_is_invalid(directory: DirectoryKeys, services: SimpleNamespace) -> None:
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement(ssa(directory, roles=[]), services=services)


@pytest.mark.parametrize("status", ["Revoked", "Withdrawn"])
async def test_ssa_of_inactive_organisation_is_unapproved(
    directory: DirectoryKeys, services: SimpleNamespace, status: str
) -> None:
    with pytest.raises(UnapprovedSoftwareStatement):
        await verify_software_statement(ssa(directory, org_status=status), services=services)


async def test_malformed_ssa_is_invalid(services: SimpleNamespace, directory: DirectoryKeys) -> None:
    with pytest.raises(InvalidSoftwareStatement):
        await verify_software_statement("not-a-jwt", services=services)


async def test_no_directory_file_means_no_trusted_issuer(var_dir: Path, services: SimpleNamespace) -> None:
    directory = make_directory(var_dir)
    directory.jwks_path.unlink()
    with pytest.raises(UnapprovedSoftwareStatement):
        await verify_software_statement(ssa(directory), services=services)


async def test_production_trusts_the_configured_directory_file(
    tmp_path: Path, var_dir: Path, services: SimpleNamespace
) -> None:
    sandbox_directory = make_directory(var_dir)
    production_file = tmp_path / "trusted" / "directory.json"
    production_dir = make_directory(tmp_path / "trusted-root")
    production_file.parent.mkdir()
    production_file.write_text(production_dir.jwks_path.read_text())
    settings = Settings(var_dir=var_dir, mode="production", directory_jwks_file=production_file)
    assert directory_jwks_path(settings) == production_file
    services = SimpleNamespace(settings=settings, policies=services.policies)
    assert (await verify_software_statement(ssa(production_dir), services=services))["software_id"] == "app1"
    # The sandbox directory's keys mean nothing in production.
    with pytest.raises(UnapprovedSoftwareStatement):
        await verify_software_statement(ssa(sandbox_directory), services=services)
