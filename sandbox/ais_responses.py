"""The frame of every answer of the bank's account-information API (OBIE Read/Write API v3.1.11, R/W API
profile, "Links", "Meta", "Pagination").

Responses carry every field the Detail permissions can see, ``Links.Self`` in the gateway's public form
``{base}/open-banking/v3.1/aisp/...`` (``base`` from ``x-obgw-public-base``, default the gateway issuer),
``Meta`` and ``x-fapi-interaction-id``.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import date
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.errors import InvalidRequest
from sandbox.services import services

PREFIX = "/bank/v1/aisp"
PUBLIC_PREFIX = "/open-banking/v3.1/aisp"
PUBLIC_BASE_HEADER = "x-obgw-public-base"
INTERACTION_HEADER = "x-fapi-interaction-id"


def public_base(request: Request) -> str:
    """Where TPPs reach us: the gateway's public base URL (header), else the configured gateway issuer."""
    raw = request.headers.get(PUBLIC_BASE_HEADER)
    if raw is None:
        return services(request).settings.gateway_issuer
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment or "@" in raw:
        raise InvalidRequest("x-obgw-public-base must be an absolute http(s) URL", field=PUBLIC_BASE_HEADER,
                             rule="url")
    return raw.rstrip("/")


def self_link(request: Request, *, query: dict[str, str] | None = None) -> str:
    tail = request.url.path[len(PREFIX):]
    link = public_base(request) + PUBLIC_PREFIX + tail
    return link + ("?" + urlencode(query) if query else "")


def respond(request: Request, data: dict[str, Any], *, links: dict[str, str] | None = None,
            meta: dict[str, Any] | None = None) -> JSONResponse:
    body = {"Data": data, "Links": links or {"Self": self_link(request)}, "Meta": meta or {"TotalPages": 1}}
    return JSONResponse(body, headers=response_headers(request))


def response_headers(request: Request) -> dict[str, str]:
    # Every response carries x-fapi-interaction-id (echoed, or a fresh RFC 4122 UUID).
    return {
        INTERACTION_HEADER: request.headers.get(INTERACTION_HEADER) or str(uuid.uuid4()),
        "cache-control": "no-store",
    }


def utc_today() -> date:
    return datetime.now(UTC).date()
