"""Sandbox settings, read from the same ``OBGW_*`` environment as the gateway (the sandbox imports nothing
of the gateway: they meet over HTTP and the shared ``var/`` folder)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class SandboxSettings:
    host: str = "127.0.0.1"
    port: int = 8001
    public_url: str = ""
    gateway_issuer: str = "http://127.0.0.1:8000"
    var_dir: Path = Path("var")
    database_url: str = ""
    # Who the directory says issued a software statement (docs/obie-notes.md section 8: SSA ``iss``).
    directory_issuer: str = "obgw sandbox directory"
    # Context tokens the gateway signs for the bank API: accepted algorithms, longest allowed lifetime
    # (``exp - iat``) and clock skew, in seconds (docs/architecture.md section 6).
    context_algorithms: tuple[str, ...] = ("ES256",)
    context_max_lifetime: int = 300
    clock_skew: int = 10
    # HMAC key for the portal's CSRF tokens; empty means a random key kept in ``var/sandbox/portal-secret``.
    portal_secret: str = ""
    # Payments ledger: seconds per status step (Pending -> AcceptedSettlementInProcess -> ...Completed),
    # the largest single payment, and an optional daily cut-off ("HH:MM" UTC).
    payment_step_seconds: int = 5
    payment_max_amount: str = "25000.00"
    payment_cut_off: str | None = None
    # Largest request bodies (sandbox/bodies.py): bank API calls carry OBIE payment bodies the gateway already
    # bounded at 1 MiB; the portal's forms and JSON are small.
    max_body_bytes: int = 1024 * 1024
    max_form_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        object.__setattr__(self, "gateway_issuer", self.gateway_issuer.rstrip("/"))
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{self.var_dir / 'sandbox.db'}")

    @property
    def directory_dir(self) -> Path:
        """Directory signing keys (private) and their public JWKS, which the gateway trusts in sandbox mode."""
        return self.var_dir / "sandbox"

    @property
    def gateway_jwks_file(self) -> Path:
        return self.var_dir / "keys" / "gateway-jwks.json"

    @property
    def directory_keys_file(self) -> Path:
        """The directory's private signing keys (mode 0600, never served)."""
        return self.directory_dir / "directory-keys.json"

    @property
    def directory_jwks_file(self) -> Path:
        """The directory's public JWKS: the gateway trusts software statements it verifies (sandbox mode)."""
        return self.directory_dir / "directory-jwks.json"

    @property
    def ca_dir(self) -> Path:
        """The sandbox certificate authority that signs generated ``tls_client_auth`` client certificates."""
        return self.directory_dir / "ca"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxSettings:
        env = os.environ if environ is None else environ
        host = env.get("OBGW_SANDBOX_HOST", "127.0.0.1")
        port = int(env.get("OBGW_SANDBOX_PORT", "8001"))
        gw_host = env.get("OBGW_HOST", "127.0.0.1")
        gw_port = env.get("OBGW_PORT", "8000")
        return cls(
            host=host,
            port=port,
            public_url=env.get("OBGW_SANDBOX_URL", ""),
            gateway_issuer=env.get("OBGW_ISSUER", f"http://{gw_host}:{gw_port}"),
            var_dir=Path(env.get("OBGW_VAR_DIR", "var")),
            database_url=env.get("OBGW_SANDBOX_DATABASE_URL", ""),
            portal_secret=env.get("OBGW_SANDBOX_PORTAL_SECRET", ""),
            payment_step_seconds=int(env.get("OBGW_SANDBOX_PAYMENT_STEP_SECONDS", "5")),
            payment_max_amount=env.get("OBGW_SANDBOX_PAYMENT_MAX_AMOUNT", "25000.00"),
            payment_cut_off=env.get("OBGW_SANDBOX_PAYMENT_CUT_OFF") or None,
            max_body_bytes=int(env.get("OBGW_SANDBOX_MAX_BODY_BYTES", str(1024 * 1024))),
            max_form_bytes=int(env.get("OBGW_SANDBOX_MAX_FORM_BYTES", str(64 * 1024))),
        )
