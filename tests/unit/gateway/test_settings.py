"""Settings come from OBGW_* variables only, and production refuses sandbox conveniences
(docs/architecture.md section 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.security.keys import KeyStore
from gateway.settings import Settings
from gateway.settings import SettingsError


def test_defaults_bind_loopback_and_sqlite() -> None:
    settings = Settings()
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.sandbox_url == "http://127.0.0.1:8001"
    assert settings.database_url == "sqlite+aiosqlite:///var/obgw.db"


def test_environment_variables_are_read_and_typed() -> None:
    settings = Settings.from_env(
        {
            "OBGW_PORT": "9000",
            "OBGW_SANDBOX_PORT": "9001",
            "OBGW_HEADLESS_APPROVAL": "false",
            "OBGW_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2",
            "OBGW_VAR_DIR": "/tmp/x",
        }
    )
    assert settings.port == 9000
    assert settings.issuer == "http://127.0.0.1:9000"
    assert settings.sandbox_url == "http://127.0.0.1:9001"
    assert settings.headless_approval is False
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert settings.var_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("name", "value"),
    [("OBGW_PORT", "eighty"), ("OBGW_HEADLESS_APPROVAL", "maybe"), ("OBGW_MODE", "staging")],
)
def test_bad_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def _production(tmp_path: Path, **changes: object) -> Settings:
    jwks = tmp_path / "directory.json"
    jwks.write_text('{"keys": []}')
    values: dict[str, object] = {
        "mode": "production",
        "issuer": "https://bank.example",
        "headless_approval": False,
        "directory_jwks_file": jwks,
        "session_secret": "s" * 32,
        "aspsp_org_id": "0015800001041REAAY",
        "var_dir": tmp_path,
        # docs/architecture.md section 10: customers sign in at the bank's identity provider.
        "bank_idp_issuer": "https://login.bank.example",
        "bank_idp_client_id": "obgw",
        "bank_idp_client_secret": "idp-secret",
        "bank_idp_acr_values": ("urn:openbanking:psd2:sca",),
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "http://bank.example"}, "https"),
        ({"headless_approval": True}, "HEADLESS"),
        ({"directory_jwks_file": None}, "DIRECTORY"),
        ({"session_secret": ""}, "SESSION_SECRET"),
        ({"aspsp_org_id": "obgw-sandbox-aspsp"}, "ASPSP_ORG_ID"),
        ({"bank_idp_issuer": ""}, "BANK_IDP_ISSUER"),
        ({"bank_idp_issuer": "http://login.bank.example"}, "BANK_IDP_ISSUER"),
        ({"bank_idp_client_id": ""}, "BANK_IDP_CLIENT_ID"),
        ({"bank_idp_acr_values": ()}, "BANK_IDP_ACR_VALUES"),
        ({"bank_idp_client_secret": ""}, "BANK_IDP_CLIENT_SECRET"),
        ({"bank_idp_client_auth": "private_key_jwt"}, "BANK_IDP_PRIVATE_KEY_FILE"),
    ],
    ids=["plain-http-issuer", "headless-approval", "sandbox-directory", "no-session-secret", "sandbox-org-id",
         "no-bank-idp", "plain-http-bank-idp", "no-bank-idp-client", "no-acr-values", "no-bank-idp-secret",
         "no-bank-idp-key"],
)
def test_production_refuses_to_start_with_sandbox_conveniences(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        create_app(_production(tmp_path, **changes), keys=KeyStore.generate_in_memory(sandbox=False))


def test_production_refuses_sandbox_signing_keys(tmp_path: Path, gateway_keys: KeyStore) -> None:
    assert gateway_keys.sandbox
    with pytest.raises(SettingsError, match="sandbox signing keys"):
        create_app(_production(tmp_path), keys=gateway_keys)


def test_production_starts_with_production_keys(tmp_path: Path) -> None:
    app = create_app(_production(tmp_path), keys=KeyStore.generate_in_memory(sandbox=False))
    assert app.state.services.settings.mode == "production"
    assert app.state.services.bank_idp is not None


def test_bank_idp_settings_come_from_the_environment() -> None:
    settings = Settings.from_env({"OBGW_BANK_IDP_ISSUER": "https://login.bank.example",
                                  "OBGW_BANK_IDP_ACR_VALUES": "urn:openbanking:psd2:sca, urn:bank:sca:app",
                                  "OBGW_BANK_IDP_PSU_CLAIM": "customer_number", "OBGW_ISSUER": "https://gw.example"})
    assert settings.bank_idp_acr_values == ("urn:openbanking:psd2:sca", "urn:bank:sca:app")
    assert settings.bank_idp_psu_claim == "customer_number"
    assert settings.bank_idp_redirect_uri == "https://gw.example/bank-sign-in/callback"
    assert settings.uses_bank_idp and not Settings().uses_bank_idp


def test_trusted_proxies_accept_addresses_and_ranges() -> None:
    settings = Settings(trusted_proxies=("10.0.0.0/8", "::1"))
    assert settings.is_trusted_proxy("10.1.2.3")
    assert settings.is_trusted_proxy("::1")
    assert not settings.is_trusted_proxy("192.0.2.1")
    assert not settings.is_trusted_proxy("not-an-address")
    assert not settings.is_trusted_proxy(None)


def test_malformed_trusted_proxy_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings(trusted_proxies=("nginx",))
