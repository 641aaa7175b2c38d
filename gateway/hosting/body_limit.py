"""Request body size limits (docs/architecture.md section 3): ``OBGW_MAX_BODY_BYTES`` for any body,
``OBGW_MAX_FORM_BYTES`` for ``application/x-www-form-urlencoded`` ones (OAuth and sign-in forms are small).

A body announced larger by ``Content-Length`` is refused before any of it is read; a chunked (or
understated) body is counted while it streams and reading stops at the limit; whatever the app answers after
the stopped read (an endpoint may catch it and render its own error) is replaced by the 413. The refusal is 413 in the
OBIE error form (R/W API "Error Response Structure"), rendered by ``gateway/errors.py``.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from gateway.errors import INTERACTION_HEADER
from gateway.errors import PayloadTooLarge
from gateway.errors import render_ob_error

FORM_TYPE = b"application/x-www-form-urlencoded"


class _Exceeded(Exception):
    """The streamed body passed the limit: raised out of ``receive`` to stop the app reading."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_form_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_form_bytes = max_form_bytes

    def _limit(self, headers: dict[bytes, bytes]) -> int:
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        return min(self.max_form_bytes, self.max_body_bytes) if content_type == FORM_TYPE else self.max_body_bytes

    async def _refuse(self, scope: Scope, send: Send, headers: dict[bytes, bytes], *, limit: int) -> None:
        interaction = str(scope.get("state", {}).get("interaction_id") or "") or headers.get(
            INTERACTION_HEADER.encode(), b""
        ).decode("latin-1")
        refusal = PayloadTooLarge(f"The request body must not exceed {limit} bytes.")
        response = render_ob_error(refusal, interaction=interaction or str(uuid.uuid4()))
        response.headers["Connection"] = "close"

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope["headers"]}
        limit = self._limit(headers)
        announced = headers.get(b"content-length")
        if announced is not None and announced.strip().isdigit() and int(announced) > limit:
            await self._refuse(scope, send, headers, limit=limit)
            return

        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _Exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _Exceeded
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # The app caught the stopped read and answered it its own way (a 500, a 400): that answer is
                # dropped, the refusal below is the one the client gets.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _Exceeded:
            pass
        if exceeded and not started:
            await self._refuse(scope, send, headers, limit=limit)
