"""Authorization-server tables: registered clients, pushed requests, codes and tokens.

Secrets (codes, tokens, request_uri handles) are stored only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Column
from sqlmodel import Field
from sqlmodel import SQLModel

from gateway.store.db import UTCDateTime
from gateway.store.db import utcnow


def secret_hash(value: str) -> str:
    """How codes, tokens and request_uri handles are stored (hex SHA-256): lookup by hash, never by value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Client(SQLModel, table=True):
    """A registered TPP application (RFC 7591 client metadata + the software statement's claims)."""

    __tablename__ = "oauth_client"

    client_id: str = Field(primary_key=True, max_length=64)
    software_id: str = Field(index=True, max_length=128)
    org_id: str = Field(default="", max_length=128)
    client_name: str = Field(default="", max_length=255)
    token_endpoint_auth_method: str = Field(max_length=32)
    tls_client_auth_subject_dn: str | None = Field(default=None, max_length=512)
    redirect_uris: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    grant_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scope: str = Field(default="", max_length=256)
    software_roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    jwks: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    jwks_uri: str | None = Field(default=None, max_length=1024)
    # The full registration response (RFC 7591 section 3.2.1) as last registered or updated.
    registration: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    software_statement: str = Field(default="")
    status: str = Field(default="active", max_length=16)  # active | suspended
    created_at: datetime = _ts(nullable=False, default=utcnow)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class PushedRequest(SQLModel, table=True):
    """RFC 9126 pushed authorization request; ``handle_hash`` hashes the ``request_uri`` suffix."""

    __tablename__ = "oauth_pushed_request"

    handle_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dpop_jkt: str | None = Field(default=None, max_length=64)
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts(nullable=True)
    psu_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts(nullable=False, default=utcnow)


class AuthorizationCode(SQLModel, table=True):
    __tablename__ = "oauth_authorization_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=64)
    redirect_uri: str = Field(max_length=1024)
    scope: str = Field(default="", max_length=512)
    code_challenge: str = Field(max_length=128)
    dpop_jkt: str | None = Field(default=None, max_length=64)
    psu_id: str = Field(max_length=128)
    consent_id: str | None = Field(default=None, max_length=128)
    nonce: str | None = Field(default=None, max_length=512)
    claims: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    auth_time: datetime = _ts(nullable=False, default=utcnow)
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts(nullable=True)


class Token(SQLModel, table=True):
    """An access or refresh token. ``grant_id`` groups every token issued from one code or refresh chain
    so that a replayed code (RFC 6749 section 4.1.2) revokes the whole family."""

    __tablename__ = "oauth_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)  # access | refresh
    grant_id: str = Field(index=True, max_length=64)
    grant_type: str = Field(max_length=64)
    client_id: str = Field(index=True, max_length=64)
    psu_id: str | None = Field(default=None, index=True, max_length=128)
    consent_id: str | None = Field(default=None, index=True, max_length=128)
    scope: str = Field(default="", max_length=512)
    jkt: str | None = Field(default=None, max_length=64)
    x5t_s256: str | None = Field(default=None, max_length=64)
    issued_at: datetime = _ts(nullable=False, default=utcnow)
    expires_at: datetime = _ts(nullable=False)
    revoked_at: datetime | None = _ts(nullable=True)

    @property
    def token_type(self) -> str:
        return "DPoP" if self.jkt else "Bearer"
