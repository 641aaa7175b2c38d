"""One settings object, read from ``OBGW_*`` environment variables.

Nothing reads the environment at import time: ``Settings.from_env()`` is called by the CLI, tests build
``Settings(...)`` directly.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent

Mode = Literal["sandbox", "production"]


class SettingsError(ValueError):
    """A setting has a value obgw refuses to run with."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())


@dataclass(frozen=True, kw_only=True)
class Settings:
    mode: Mode = "sandbox"
    host: str = "127.0.0.1"
    port: int = 8000
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8001
    # Public issuer identifier (RFC 8414 section 2); defaults to http://{host}:{port} in sandbox mode.
    issuer: str = ""
    sandbox_url: str = ""
    var_dir: Path = Path("var")
    database_url: str = ""
    sandbox_database_url: str = ""
    redis_url: str = ""
    # Namespace for every Redis key (single-use markers, rate-limit counters): deployments or test runs
    # sharing one Redis never see each other's keys.
    redis_prefix: str = "obgw:"
    policies_dir: Path = REPO_ROOT / "policies"
    openapi_dir: Path = REPO_ROOT / "openapi"
    # Addresses of the TLS terminator allowed to pass the client certificate (RFC 8705, RFC 9440).
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    client_cert_header: str = "x-ssl-client-cert"
    # Trusted software-statement issuers in production: a JWKS file (directory keys).
    directory_jwks_file: Path | None = None
    headless_approval: bool = True
    dpop_nonce_required: bool = False
    access_token_lifetime: int = 300
    refresh_token_lifetime: int = 90 * 24 * 3600
    code_lifetime: int = 60
    par_lifetime: int = 60
    id_token_lifetime: int = 300
    session_secret: str = ""
    # OBIE message signing (R/W API "Message Signing"): the trust anchor TPP signatures name in
    # http://openbanking.org.uk/tan, and the organisation id the gateway signs its responses as.
    jws_trust_anchor: str = "openbanking.org.uk"
    aspsp_org_id: str = "obgw-sandbox-aspsp"
    # Customer sign-in through the bank's OpenID Connect provider (docs/architecture.md section 10,
    # docs/bank-sign-in.md): required in production, where it replaces the sandbox password form. The issuer
    # is discovered (OpenID Connect Discovery 1.0 section 4); the client authenticates with its secret
    # (``client_secret_basic``) or a signed assertion (``private_key_jwt``, the private JWK in a file); the
    # redirect URI defaults to ``{issuer}/bank-sign-in/callback``; ``acr_values`` are requested and one of
    # them must come back in the ID token (SCA); ``psu_claim`` is the ID token claim naming the customer.
    bank_idp_issuer: str = ""
    bank_idp_client_id: str = ""
    bank_idp_client_secret: str = ""
    bank_idp_client_auth: str = "client_secret_basic"
    bank_idp_private_key_file: Path | None = None
    bank_idp_redirect_uri: str = ""
    bank_idp_scopes: tuple[str, ...] = ("openid",)
    bank_idp_acr_values: tuple[str, ...] = ()
    bank_idp_psu_claim: str = "sub"
    log_level: str = "info"
    # OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces; empty = tracing off.
    otel_endpoint: str = ""
    # Largest request body accepted (413 above it), and the smaller cap for urlencoded forms.
    max_body_bytes: int = 1024 * 1024
    max_form_bytes: int = 64 * 1024
    # Event notifications (docs/architecture.md section 7): the delivery worker each gateway process runs,
    # how often it looks at the outbox when idle, the push timeout, and the retry back-off (doubling from the
    # base up to the cap, at most event_max_attempts pushes before the event is marked failed), and how long a
    # long poll (returnImmediately false) is held when nothing waits.
    event_delivery: bool = True
    event_poll_interval_ms: int = 500
    event_timeout_ms: int = 5000
    event_retry_base_ms: int = 1000
    event_retry_cap_ms: int = 300_000
    event_max_attempts: int = 8
    event_long_poll_ms: int = 10_000
    # The sandbox request inspector (gateway.events.inspector): requests kept per TPP, newest kept.
    sandbox_inspector_entries: int = 50
    # The payment status watcher next to the delivery worker (gateway.events.status_watcher): how often it asks
    # the bank about payments not yet final, and how many of each table per round.
    payment_status_interval_ms: int = 5000
    payment_status_batch: int = 50
    # How often each gateway process announces newly due 90-day reconfirmations (gateway.events.reconfirmation_job).
    reconfirmation_interval_ms: int = 60_000
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.issuer:
            object.__setattr__(self, "issuer", f"http://{self.host}:{self.port}")
        object.__setattr__(self, "issuer", self.issuer.rstrip("/"))
        if not self.sandbox_url:
            object.__setattr__(self, "sandbox_url", f"http://{self.sandbox_host}:{self.sandbox_port}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{self.var_dir / 'obgw.db'}")
        if self.bank_idp_issuer and not self.bank_idp_redirect_uri:
            object.__setattr__(self, "bank_idp_redirect_uri", f"{self.issuer}/bank-sign-in/callback")
        _ = self.trusted_proxy_networks  # refuse a malformed list at start-up, not at the first request
        if not self.sandbox_database_url:
            object.__setattr__(
                self, "sandbox_database_url", f"sqlite+aiosqlite:///{self.var_dir / 'sandbox.db'}"
            )

    @functools.cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``trusted_proxies`` as networks (single addresses or CIDR ranges), parsed once."""
        try:
            return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)
        except ValueError as exc:
            raise SettingsError(f"OBGW_TRUSTED_PROXIES: {exc}") from exc

    def is_trusted_proxy(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxy_networks)

    @property
    def is_sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def uses_bank_idp(self) -> bool:
        """Customers sign in at the bank's identity provider (always in production; in the sandbox when one is
        configured) instead of the sandbox password form."""
        return self.mode == "production" or bool(self.bank_idp_issuer)

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            key = f"OBGW_{f.name.upper()}"
            if key not in env or f.name == "extra":
                continue
            raw = env[key]
            values[f.name] = _coerce(f.name, f.type, raw)
        return cls(**values)  # type: ignore[arg-type]

    def check_production(self) -> None:
        """Production refuses sandbox conveniences (docs/architecture.md section 5): raise ``SettingsError`` on any."""
        if self.mode != "production":
            return
        problems = []
        if not self.issuer.startswith("https://"):
            problems.append("OBGW_ISSUER must be an https:// URL in production")
        if self.headless_approval:
            problems.append("OBGW_HEADLESS_APPROVAL must be false in production")
        if self.directory_jwks_file is None:
            problems.append("OBGW_DIRECTORY_JWKS_FILE (trusted software-statement issuer keys) is required")
        if not self.session_secret:
            problems.append("OBGW_SESSION_SECRET is required in production")
        if self.aspsp_org_id == "obgw-sandbox-aspsp":
            problems.append("OBGW_ASPSP_ORG_ID (the bank's directory organisation id) is required in production")
        problems.extend(self._bank_idp_problems())
        if problems:
            raise SettingsError("; ".join(problems))

    def _bank_idp_problems(self) -> list[str]:
        problems = []
        if not self.bank_idp_issuer.startswith("https://"):
            problems.append("OBGW_BANK_IDP_ISSUER (the bank's OpenID Connect issuer, https) is required in production")
        if not self.bank_idp_client_id:
            problems.append("OBGW_BANK_IDP_CLIENT_ID is required in production")
        if not self.bank_idp_acr_values:
            problems.append("OBGW_BANK_IDP_ACR_VALUES (the acr values that prove strong customer authentication) "
                            "is required in production")
        problems.extend(self.bank_idp_client_auth_problems())
        return problems

    def bank_idp_client_auth_problems(self) -> list[str]:
        """What is wrong with how the gateway authenticates to the bank's identity provider, if anything."""
        if self.bank_idp_client_auth in ("client_secret_basic", "client_secret_post"):
            return [] if self.bank_idp_client_secret else [
                f"OBGW_BANK_IDP_CLIENT_SECRET is required with OBGW_BANK_IDP_CLIENT_AUTH={self.bank_idp_client_auth}"]
        if self.bank_idp_client_auth == "private_key_jwt":
            return [] if self.bank_idp_private_key_file is not None else [
                "OBGW_BANK_IDP_PRIVATE_KEY_FILE is required with OBGW_BANK_IDP_CLIENT_AUTH=private_key_jwt"]
        return ["OBGW_BANK_IDP_CLIENT_AUTH must be client_secret_basic, client_secret_post or private_key_jwt"]


def _coerce(name: str, annotation: object, raw: str) -> object:
    text = str(annotation)
    if "bool" in text:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"OBGW_{name.upper()}: expected a boolean, got {raw!r}")
    if "int" in text:
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"OBGW_{name.upper()}: expected an integer, got {raw!r}") from exc
    if "tuple" in text:
        return _split(raw)
    if "Path" in text:
        return Path(raw) if raw else None
    if name == "mode" and raw not in ("sandbox", "production"):
        raise SettingsError(f"OBGW_MODE must be 'sandbox' or 'production', got {raw!r}")
    return raw
