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
        )
