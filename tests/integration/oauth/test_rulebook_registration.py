"""The rulebook (policies/fapi.yaml) decides what dynamic client registration accepts and what the authorization
server advertises and signs with.

* ``algorithms.software_statement``: the algs a software statement may be signed with (OBIE Directory "SSA");
* ``algorithms.registration_request``: the algs of the signed DCR request JWT (OBIE DCR v3.3);
* ``algorithms.id_token``: the gateway signs ID tokens with its key's alg, which must be listed (else start-up is
  refused), and a client may register only that alg as ``id_token_signed_response_alg``;
* ``clock_skew.ahead_seconds``: how far in the future a registration request's ``iat`` may be;
* the discovery document advertises the rulebook's lists (FAPI 2.0 Security Profile section 5.4).

Each test runs the gateway on the shipped rulebook or a copy with one value changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.contract.policies.checking import PolicyError
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.helpers.rulebook import changed_rulebook
from tests.helpers.ssa import DirectoryKeys
from tests.helpers.ssa import make_directory
from tests.helpers.ssa import make_tpp_key
from tests.integration.oauth._dcr_helpers import Tpp
from tests.integration.oauth._dcr_helpers import db  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import directory  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import jwks_host  # noqa: F401  (fixture)
from tests.integration.oauth._dcr_helpers import make_tpp
from tests.integration.oauth._dcr_helpers import register_signed
from tests.integration.oauth._dcr_helpers import sandbox_app  # noqa: F401  (fixture)


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shipped rulebook, or (parametrized with ``{dotted fapi.yaml key: value}``) a copy with those values."""
    fapi = getattr(request, "param", None)
    if fapi is None:
        return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL)
    policies = changed_rulebook(tmp_path / "policies", fapi=fapi)
    return Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)


@pytest.fixture
def tpp(directory: DirectoryKeys) -> Tpp:  # noqa: F811
    return make_tpp(directory)


def assert_refused(response: httpx.Response, error: str, words: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error, response.text
    assert words in response.json()["error_description"], response.text


# --------------------------------------------------------------------------- software statements


async def test_shipped_rulebook_accepts_ps256_and_es256_statements(client, tpp: Tpp, var_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert (await register_signed(client, tpp.request_jwt())).status_code == 201  # ES256 directory key
    ps256 = make_tpp(make_directory(var_dir, alg="PS256"))
    assert (await register_signed(client, ps256.request_jwt())).status_code == 201


@pytest.mark.parametrize("settings", [{"algorithms.software_statement": ["PS256"]}], indirect=True)
async def test_an_es256_statement_is_refused_when_the_rulebook_drops_es256(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    assert_refused(await register_signed(client, tpp.request_jwt()), "invalid_software_statement",
                   "alg must be one of PS256")


# --------------------------------------------------------------------------- signed registration requests


@pytest.mark.parametrize("settings", [{"algorithms.registration_request": ["PS256"]}], indirect=True)
async def test_an_es256_registration_request_is_refused_when_the_rulebook_drops_es256(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    assert_refused(await register_signed(client, tpp.request_jwt()), "invalid_client_metadata",
                   "registration request alg must be one of PS256")
    signed_ps256 = make_tpp(tpp.directory, key=make_tpp_key(alg="PS256"))
    assert (await register_signed(client, signed_ps256.request_jwt())).status_code == 201


async def test_shipped_rulebook_accepts_a_registration_request_issued_5_s_ahead(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    response = await register_signed(client, tpp.request_jwt(iat=int(time.time()) + 5))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("settings", [{"clock_skew.ahead_seconds": 0}], indirect=True)
async def test_no_skew_refuses_a_registration_request_issued_5_s_ahead(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    assert_refused(await register_signed(client, tpp.request_jwt(iat=int(time.time()) + 5)),
                   "invalid_client_metadata", "iat is in the future")


@pytest.mark.parametrize("settings", [{"clock_skew.ahead_seconds": 0}], indirect=True)
async def test_no_skew_refuses_a_statement_issued_5_s_ahead(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    ssa = tpp.ssa(iat=int(time.time()) + 5)
    assert_refused(await register_signed(client, tpp.request_jwt(ssa=ssa)), "invalid_software_statement",
                   "iat is missing or in the future")


# --------------------------------------------------------------------------- ID tokens


async def test_a_client_may_register_only_the_alg_id_tokens_are_signed_with(client, tpp: Tpp) -> None:  # type: ignore[no-untyped-def]
    assert_refused(await register_signed(client, tpp.request_jwt(id_token_signed_response_alg="ES256")),
                   "invalid_client_metadata", "id_token_signed_response_alg must be one of PS256")
    registered = await register_signed(client, tpp.request_jwt(id_token_signed_response_alg=None))
    assert registered.json()["id_token_signed_response_alg"] == "PS256"


def test_start_up_is_refused_when_the_rulebook_does_not_list_the_signing_keys_alg(
    var_dir: Path, tmp_path: Path
) -> None:
    policies = changed_rulebook(tmp_path / "policies", fapi={"algorithms.id_token": ["ES256"]})
    settings = Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)
    with pytest.raises(PolicyError, match=r"algorithms\.id_token: the gateway's signing key is PS256"):
        create_app(settings, keys=KeyStore.generate_in_memory())


# --------------------------------------------------------------------------- discovery


async def _metadata(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return (await client.get("/.well-known/openid-configuration")).json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "settings",
    [{"algorithms.client_assertion": ["PS256"], "algorithms.dpop_proof": ["ES256"],
      "algorithms.request_object": ["ES256", "EdDSA"]}],
    indirect=True,
)
async def test_discovery_advertises_the_rulebooks_algorithms(client) -> None:  # type: ignore[no-untyped-def]
    meta = await _metadata(client)
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == ["PS256"]
    assert meta["dpop_signing_alg_values_supported"] == ["ES256"]
    assert meta["request_object_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert meta["id_token_signing_alg_values_supported"] == ["PS256"]
