"""Structured logs: one JSON object per line, one line per request, keyed by ``x-fapi-interaction-id``
(OBIE R/W API v3.1.11 "Request Headers"), with ``client_id`` and ``consent_id`` when known.

docs/architecture.md section 6: secrets and keys never in logs. Two layers make sure of it: our own lines carry
identifiers only (route templates, never raw query strings such as ``?code=`` or ``?request_uri=``), and a
redaction filter on the handler scrubs every record from any library: JWTs (access tokens, client
assertions, DPoP proofs, request objects, ID tokens), ``Bearer``/``DPoP`` credentials, secret-bearing
form or query parameters, PEM blocks and fields whose names say they hold a secret.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import TextIO

REDACTED = "[redacted]"
REQUEST_LOGGER = "obgw.request"
_HANDLER_NAME = "obgw-json"

# Compact JWS/JWE: base64url segments, the first a JSON header ("eyJ" is base64url of '{"').
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}")
# RFC 6750 / RFC 9449 credentials in an Authorization-like text.
_CREDENTIAL = re.compile(r"(?i)\b(bearer|dpop|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# Form or query parameters that carry secrets (RFC 6749, 7523, 7636, 9126) or personal data.
_SECRET_PARAMS = (
    "code", "code_verifier", "request_uri", "request", "access_token", "refresh_token", "id_token", "token",
    "client_assertion", "client_secret", "assertion", "password", "username", "subject_token",
    "software_statement",
)  # fmt: skip
_PARAM = re.compile(r"(?i)\b(" + "|".join(_SECRET_PARAMS) + r")=([^&\s\"',;]+)")
_REQUEST_URI = re.compile(r"urn:ietf:params:oauth:request_uri:[A-Za-z0-9._~-]+")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL)
# A field whose name contains any of these holds something that must never be written out.
_SECRET_FIELD = re.compile(
    r"(?i)(token|secret|password|passwd|assertion|authorization|cookie|private|signature|dpop|"
    r"(?<!_)key$|^key|jwk|^code$|request_uri|software_statement|username|psu)"
)
# Identifier fields the request line sets on purpose (never secrets, whatever their names contain).
_SAFE_FIELDS = frozenset(
    {"interaction_id", "client_id", "consent_id", "route", "method", "status", "duration_ms"}
)


def redact(text: str) -> str:
    text = _PEM.sub(REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _CREDENTIAL.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _REQUEST_URI.sub(REDACTED, text)
    return _PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def redact_value(name: str, value: Any) -> Any:
    if name not in _SAFE_FIELDS and _SECRET_FIELD.search(name):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(name, v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class RedactionFilter(logging.Filter):
    """Scrubs every record before any handler formats it (fail closed: an unformattable message is dropped
    to a placeholder rather than written raw)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not leak its arguments
            message = "<unformattable log message>"
        record.msg = redact(message)
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            record.fields = {str(k): redact_value(str(k), v) for k, v in fields.items()}
        if record.exc_info:
            # Exception text can quote request data: format it now and scrub it.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            line.update(fields)
        if record.exc_text:
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(*, level: str, stream: TextIO | None = None) -> logging.Handler:
    """Route every logger (ours, uvicorn's, libraries') to one JSON handler on the root logger.

    Called by the CLI when a process starts (never at import). Returns the handler so a caller can remove it.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    handler = json_handler(stream)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would bypass the redaction filter: let its records reach the root instead.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler


def request_logger() -> logging.Logger:
    return logging.getLogger(REQUEST_LOGGER)


def log_request(
    *,
    method: str,
    route: str,
    status: int,
    duration_ms: float,
    interaction_id: str,
    client_id: str,
    consent_id: str,
) -> None:
    fields: dict[str, Any] = {
        "interaction_id": interaction_id, "method": method, "route": route, "status": status,
        "duration_ms": round(duration_ms, 2),
    }  # fmt: skip
    if client_id:
        fields["client_id"] = client_id
    if consent_id:
        fields["consent_id"] = consent_id
    level = logging.ERROR if status >= 500 else logging.INFO
    request_logger().log(level, "request", extra={"fields": fields})
