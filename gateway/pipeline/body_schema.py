"""Request bodies validated against the operation's schema in the served OBIE document with openapi-core
(docs/architecture.md section 3 step 6); each violation becomes one ``OBErrorResponse1`` ``Errors`` item with its
JSON path, in the codes of docs/obie-notes.md section 6.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final

from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_core.validation.request.validators import V30RequestBodyValidator
from starlette.requests import Request

from consent import api as consent_api
from gateway import errors
from gateway.services import Services


@dataclass
class _BodyRequest:
    """The slice of an HTTP request openapi-core's body validator reads (``openapi_core.protocols.Request``)."""

    host_url: str
    path: str
    method: str
    body: bytes
    content_type: str = "application/json"
    parameters: RequestParameters = field(default_factory=RequestParameters)


_REQUIRED: Final = re.compile(r"^'(?P<name>.+)' is a required property$")


def ob_path(parts: Iterable[Any]) -> str:
    """A JSON location as OBIE writes ``Path``: ``Data.Initiation.InstructedAmount``, ``Data.Permissions[1]``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _items(error: Any) -> list[errors.ObErrorItem]:
    """One jsonschema ``ValidationError`` as OBIE error items (docs/obie-notes.md section 6 codes)."""
    location = list(error.absolute_path)
    if error.validator == "required":
        found = _REQUIRED.match(error.message)
        names = [found.group("name")] if found else []
        return [
            errors.ObErrorItem("UK.OBIE.Field.Missing", f"{name} is required", ob_path([*location, name]))
            for name in names
        ] or [errors.ObErrorItem("UK.OBIE.Field.Missing", error.message, ob_path(location) or None)]
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - known) if isinstance(error.instance, dict) else []
        return [
            errors.ObErrorItem(
                "UK.OBIE.Field.Unexpected", f"{name} is not allowed", ob_path([*location, name])
            )
            for name in extra
        ] or [errors.ObErrorItem("UK.OBIE.Field.Unexpected", error.message, ob_path(location) or None)]
    if error.validator == "format" and error.validator_value in ("date-time", "date"):
        return [
            errors.ObErrorItem(
                "UK.OBIE.Field.InvalidDate",
                "Expected an ISO 8601 date-time with a time zone",
                ob_path(location),
            )
        ]
    if not location:
        return [errors.ObErrorItem("UK.OBIE.Resource.InvalidFormat", "The body must be a JSON object")]
    return [errors.ObErrorItem("UK.OBIE.Field.Invalid", error.message[:500], ob_path(location))]


def refusal(schema_errors: Iterable[Any]) -> errors.ObError:
    """Schema violations as one 400 ``OBErrorResponse1`` listing each (stable order: by path)."""
    items = sorted(
        (item for error in schema_errors for item in _items(error)), key=lambda i: (i.path or "", i.code)
    )
    if not items:
        return errors.ResourceInvalidFormat("The body does not match the schema")
    return errors.BadRequest(items[0].message, errors=items)


def body_validator(services: Services) -> consent_api.ValidateBody:
    validators: dict[str, V30RequestBodyValidator] = {}

    async def validate(request: Request, operation_id: str, raw: bytes) -> None:
        # Loaded once at start-up (gateway.app); nothing parsed per request.
        specs = services.specs
        operation = specs.by_operation_id(operation_id)
        if operation is None:
            raise errors.ObError("No schema for this operation", detail=operation_id)  # fail closed: 500
        validator = validators.get(operation.api)
        if validator is None:
            validator = validators[operation.api] = V30RequestBodyValidator(specs[operation.api].spec)
        probe = _BodyRequest(
            host_url=services.settings.issuer,
            path=operation.full_path,
            method=operation.method.lower(),
            body=raw,
        )
        try:
            validator.validate(probe)
        except InvalidRequestBody as exc:
            raise refusal(getattr(exc.__cause__, "schema_errors", ())) from None
        except Exception as exc:  # openapi-core raises several types for an unreadable body: all are 400
            raise errors.ResourceInvalidFormat(
                "The body does not match the schema", detail=repr(exc)
            ) from None

    return validate
