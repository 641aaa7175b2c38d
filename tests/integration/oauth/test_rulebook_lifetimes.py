"""The rulebook's lifetimes (policies/fapi.yaml ``lifetimes``) bound the lifetimes the settings configure.

FAPI 2.0 Security Profile section 5.3.2 and the OBIE limits cited in policies/fapi.yaml: the settings (``OBGW_*``) choose
how long codes, request_uris and tokens live, never longer than the rulebook; a gateway configured longer refuses to
start, naming the setting. The tokens it issues then live what the settings say (tests/integration/oauth/test_token.py,
test_par.py, test_introspection.py). Each test here lowers one rulebook lifetime in a copy of the shipped rulebook.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.contract.policies.checking import PolicyError
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from tests.conftest import ISSUER
from tests.conftest import SANDBOX_URL
from tests.helpers.rulebook import changed_rulebook

# rulebook lifetime -> the setting it bounds (gateway.contract.policies.fapi.FapiPolicy.check_settings)
BOUNDS = {
    "authorization_code": "code_lifetime",
    "par_request_uri": "par_lifetime",
    "access_token": "access_token_lifetime",
    "id_token": "id_token_lifetime",
    "refresh_token": "refresh_token_lifetime",
}


@pytest.mark.parametrize(("lifetime", "setting"), BOUNDS.items())
def test_a_setting_longer_than_the_rulebooks_lifetime_refuses_start_up(
    var_dir: Path, tmp_path: Path, lifetime: str, setting: str
) -> None:
    policies = changed_rulebook(tmp_path / "policies", fapi={f"lifetimes.{lifetime}": 30})
    settings = Settings(var_dir=var_dir, issuer=ISSUER, sandbox_url=SANDBOX_URL, policies_dir=policies)
    assert getattr(settings, setting) > 30  # the shipped default
    with pytest.raises(PolicyError, match=f"OBGW_{setting.upper()}={getattr(settings, setting)} exceeds the limit 30"):
        create_app(settings, keys=KeyStore.generate_in_memory())
    # Configured within the new bound, the same gateway starts.
    create_app(settings.replace(**{setting: 30}), keys=KeyStore.generate_in_memory())
