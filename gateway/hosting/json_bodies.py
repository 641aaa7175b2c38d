"""The JSON object body of the gateway's own small JSON APIs (the sandbox controls, the TPP's event log): JSON
media type (RFC 8259; 415 ``UK.OBIE.Unsupported.MediaType`` otherwise), a parseable document (400
``UK.OBIE.Field.Invalid``) whose top level is an object. The OBIE operations validate their bodies against
their documents instead (``gateway.pipeline.body_schema``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from consent.wire import is_json_content_type
from gateway import errors


async def json_object(request: Request) -> dict[str, Any]:
    if not is_json_content_type(request.headers.get("content-type")):
        raise errors.UnsupportedMediaType("send the body as Content-Type: application/json")
    try:
        body = await request.json()
    except ValueError:
        raise errors.FieldInvalid("the body is not JSON: send a JSON object") from None
    if not isinstance(body, dict):
        raise errors.FieldInvalid("the body must be a JSON object")
    return body
