"""Registered clients and their signing keys (RFC 7591 ``jwks`` / ``jwks_uri``; OBIE SSA
``software_jwks_endpoint``).

Keys are parsed once and cached per client; a ``kid`` the cache does not know triggers one refetch of
the client's ``jwks_uri`` (key rotation at the TPP), never more often than ``REFETCH_INTERVAL``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.security import jose
from gateway.store.oauth_tables import Client

REFETCH_INTERVAL = 30.0
MAX_JWKS_BYTES = 64 * 1024


class JwksUnavailable(RuntimeError):
    pass


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    return await session.get(Client, client_id)


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float


@dataclass
class ClientKeyCache:
    """Per-process cache of each client's public signing keys."""

    http: httpx.AsyncClient
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)

    async def keys_for(self, client: Client, *, refresh: bool = False) -> list[dict[str, Any]]:
        if client.jwks and client.jwks.get("keys"):
            return _public_signing_keys(client.jwks)
        if not client.jwks_uri:
            return []
        entry = self._entries.get(client.client_id)
        now = time.monotonic()
        if entry and not (refresh and now - entry.fetched_at >= REFETCH_INTERVAL):
            return entry.keys
        keys = await self._fetch(client.jwks_uri)
        self._entries[client.client_id] = _Entry(keys=keys, fetched_at=now)
        return keys

    async def _fetch(self, uri: str) -> list[dict[str, Any]]:
        try:
            response = await self.http.get(uri, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"cannot fetch {uri}") from exc
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            raise JwksUnavailable(f"{uri} answered {response.status_code}")
        try:
            return _public_signing_keys(response.json())
        except ValueError as exc:
            raise JwksUnavailable(f"{uri} is not a JWKS") from exc


def _public_signing_keys(jwks: Any) -> list[dict[str, Any]]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWKS")
    # A JWKS published by a client must not carry private members; such keys are skipped, not used.
    return [
        dict(k)
        for k in jwks["keys"]
        if isinstance(k, dict) and not jose.is_private(k) and k.get("use", "sig") == "sig"
    ]
