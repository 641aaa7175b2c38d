"""Request bodies the sandbox reads, bounded while they stream.

Every body is read through ``bounded_body``: one announced larger by ``Content-Length`` is refused before any of
it is read, and a chunked (or understated) one is refused as soon as the bytes counted pass the limit, so memory
stays bounded whatever the client sends (413, ``sandbox.errors.PayloadTooLarge``). The limits are
``SandboxSettings.max_body_bytes`` (bank API calls from the gateway, which carry OBIE payment bodies) and
``max_form_bytes`` (the portal's forms and JSON, small by nature).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.requests import Request

from sandbox.errors import InvalidRequest
from sandbox.errors import PayloadTooLarge
from sandbox.errors import UnsupportedMediaType

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"body larger than {limit} bytes", rule=f"max_size:{limit}")


async def bounded_body(request: Request, *, limit: int) -> bytes:
    """The whole body, or ``PayloadTooLarge`` once it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, *, limit: int) -> dict[str, Any]:
    """An ``application/json`` body that is one JSON object (RFC 8259), at most ``limit`` bytes."""
    if _media_type(request) != JSON_TYPE:
        raise UnsupportedMediaType(f"send {JSON_TYPE}")
    body = await bounded_body(request, limit=limit)
    try:
        value = json.loads(body)
    except ValueError as exc:  # not JSON, or not UTF-8
        raise InvalidRequest("body is not JSON", rule="json") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("body must be a JSON object", rule="object")
    return value


async def form(request: Request, *, limit: int) -> FormData:
    """An HTML form body (``application/x-www-form-urlencoded``, UTF-8), at most ``limit`` bytes."""
    if _media_type(request) != FORM_TYPE:
        raise UnsupportedMediaType(f"send {FORM_TYPE}")
    body = await bounded_body(request, limit=limit)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except ValueError as exc:
        raise InvalidRequest("the form is not UTF-8", rule="form") from exc
    return FormData(pairs)
