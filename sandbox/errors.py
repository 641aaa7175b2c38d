"""The sandbox's one error hierarchy, rendered as JSON in one place.

Shape: ``{"error": code, "error_description": text}`` (the RFC 6749 section 5.2 convention the gateway's
clients already parse), plus ``field`` and ``rule`` for input validation so a developer sees what to fix.
``description`` is public: never a secret, never why a credential failed beyond "invalid".
"""

from __future__ import annotations

from typing import ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response


class SandboxError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "invalid_request"

    def __init__(self, description: str = "", *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(description or self.code)
        self.description = description
        self.field = field
        self.rule = rule

    def as_json(self) -> dict[str, str]:
        body = {"error": self.code}
        if self.description:
            body["error_description"] = self.description
        if self.field:
            body["field"] = self.field
        if self.rule:
            body["rule"] = self.rule
        return body


class InvalidRequest(SandboxError):
    status_code = 400
    code = "invalid_request"


class PayloadTooLarge(SandboxError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(SandboxError):
    status_code = 415
    code = "unsupported_media_type"


class ContextRequired(SandboxError):
    """The bank API answers nobody but the gateway (``x-obgw-context`` missing)."""

    status_code = 401
    code = "context_required"


class InvalidContext(SandboxError):
    status_code = 401
    code = "invalid_context"


class InvalidCredentials(SandboxError):
    status_code = 401
    code = "invalid_credentials"


class Forbidden(SandboxError):
    status_code = 403
    code = "forbidden"


class CsrfFailed(SandboxError):
    status_code = 403
    code = "csrf_failed"


class NotFound(SandboxError):
    status_code = 404
    code = "not_found"


async def render_sandbox_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SandboxError)
    headers = {"cache-control": "no-store"}
    return JSONResponse(exc.as_json(), status_code=exc.status_code, headers=headers)


EXCEPTION_HANDLERS = {SandboxError: render_sandbox_error}
