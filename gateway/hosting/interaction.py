"""``x-fapi-interaction-id`` on every response (OBIE R/W API v3.1.11 "Request Headers"; FAPI 1 part 1
section 6.2.1): echo the TPP's RFC 4122 UUID, or mint one. A pure ASGI middleware so it also covers
error responses and streaming bodies."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

HEADER = b"x-fapi-interaction-id"
_UUID = re.compile(rb"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class InteractionIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = b""
        for name, raw in scope["headers"]:
            if name == HEADER:
                value = raw
                break
        if not _UUID.match(value):
            value = str(uuid.uuid4()).encode()
        scope.setdefault("state", {})["interaction_id"] = value.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
